"""How a connection's writer gathers a streaming batch (``PeerWriter._gather``).

On trio's virtual clock (``autojump_clock``): it only moves when every task
is blocked, so a stream sent without pause takes no time on it, and a tail
waiting for a deadline shows up as a jump of exactly that deadline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

import trio_zmq
from trio_zmq import _peer_writer
from trio_zmq._peer import PeerConnection
from trio_zmq._peer_writer import IDLE_WATCH, STREAM_PAUSE
from trio_zmq._pipe import Pipe

from .helpers import linked, wait_for_peers


@asynccontextmanager
async def followed_stream() -> AsyncIterator[tuple[trio_zmq.Socket, trio_zmq.Socket, Pipe, int]]:
    """PULL, PUSH, the PUSH's pipe and how many were sent, its writer following the stream.

    (By deadline, with more than the idle-watched messages in its batch.)
    """
    async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
        await wait_for_peers(push, 1)
        (pipe,) = push._pipeset.pipes
        sent = await stream_until(push, pipe, lambda: pipe.gather_grew is not None)
        yield pull, push, pipe, sent


async def stream_until(push: trio_zmq.Socket, pipe: Pipe, phase: Callable[[], bool]) -> int:
    """Stream (at least 300 messages) until ``phase()``; return how many were sent."""
    sent = 0
    while sent < 300 or not phase():
        await push.send(b"%d" % sent)
        sent += 1
        assert sent < 5000
    return sent


async def test_a_long_stream_is_followed_without_trios_idle_detection(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle detection watches the first messages of each gather, not the whole stream.

    While a task waits in ``wait_all_tasks_blocked``, trio looks at a sorted
    dict on every scheduler pass: ~8 % of a streaming sender's time.
    """
    armed = False
    real_wait = trio.testing.wait_all_tasks_blocked  # what the writer calls

    async def watching() -> None:
        nonlocal armed
        armed = True
        try:
            await real_wait()
        finally:
            armed = False

    monkeypatch.setattr(_peer_writer, "_wait_until_idle", watching)
    count = 3000
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            await wait_for_peers(push, 1)
            sends_watched = 0
            for i in range(count):
                await push.send(b"%d" % i)
                sends_watched += armed
            assert [await pull.recv() for _ in range(count)] == [b"%d" % i for i in range(count)]
    # About IDLE_WATCH of every 256 (the rest of each batch by count).
    assert 0 < sends_watched < count // 5


async def test_the_tail_of_a_long_stream_goes_out_one_stream_pause_after_it_stops(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(10):
        async with followed_stream() as (pull, _push, _pipe, sent):
            stopped = trio.current_time()
            received = [await pull.recv() for _ in range(sent)]
            assert received == [b"%d" % i for i in range(sent)]
            # The program idled (the receiver waited) and the clock jumped to
            # the deadline: at most one pause after the last growth.
            assert 0 < trio.current_time() - stopped <= STREAM_PAUSE


async def test_a_short_burst_after_a_stream_goes_out_as_soon_as_the_program_idles(
    autojump_clock: trio.testing.MockClock,
) -> None:
    burst = 10
    assert burst < IDLE_WATCH
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            await wait_for_peers(push, 1)
            for i in range(300):  # the writer gathers from now on
                await push.send(b"%d" % i)
            for i in range(300):
                assert await pull.recv() == b"%d" % i
            for round_ in range(3):
                start = trio.current_time()
                for i in range(burst):
                    await push.send(b"%d.%d" % (round_, i))
                for i in range(burst):
                    assert await pull.recv() == b"%d.%d" % (round_, i)
                assert trio.current_time() == start  # no deadline was needed


async def test_lowering_sndhwm_while_a_stream_is_followed_keeps_no_sender_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A gather's target was set for the old SNDHWM: the change ends it. (helper-20)"""
    with trio.fail_after(10):
        async with followed_stream() as (pull, push, pipe, sent):
            start = trio.current_time()
            push.sndhwm = pipe.queued_outbound + 2
            for i in range(5):  # the third waits for room: the writer must write now
                await push.send(b"more %d" % i)
            assert trio.current_time() == start  # no deadline was waited for
            assert [await pull.recv() for _ in range(sent)] == [b"%d" % i for i in range(sent)]
            assert [await pull.recv() for _ in range(5)] == [b"more %d" % i for i in range(5)]


async def test_aclose_while_a_stream_is_followed_writes_the_batch_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Closing ends the deadline wait: the linger does not wait for the deadline."""
    with trio.fail_after(10):
        async with followed_stream() as (pull, push, pipe, sent):
            assert pipe.gather_grew is not None
            start = trio.current_time()
            await push.aclose()
            assert trio.current_time() == start
            assert push.statistics().messages_dropped == 0
            assert [await pull.recv() for _ in range(sent)] == [b"%d" % i for i in range(sent)]


async def test_queued_subscriptions_count_towards_a_gathers_target() -> None:
    """Subscriptions take room too: at the target the gather ends. (helper-20)"""
    pipe = Pipe(_Owner(), sndhwm=10, rcvhwm=10, endpoint="fake")
    pipe.write([b"message"])
    pipe.gather = scope = trio.CancelScope()
    pipe.gather_at = 3
    pipe.queue_subscription(b"a", True)
    assert not scope.cancel_called
    pipe.queue_subscription(b"b", True)
    assert scope.cancel_called
    assert pipe.gather is None


async def test_changing_the_hwms_ends_a_gather() -> None:
    pipe = Pipe(_Owner(), sndhwm=10, rcvhwm=10, endpoint="fake")
    pipe.gather = scope = trio.CancelScope()
    pipe.sndhwm = 1
    pipe.hwm_changed()
    assert scope.cancel_called


class _Owner:
    def _pipe_readable(self, pipe: Pipe) -> None:
        pass

    def _pipe_writable(self, pipe: Pipe) -> None:
        pass

    def _pipe_flushed(self, pipe: Pipe) -> None:
        pass

    def _pipe_drained(self, pipe: Pipe) -> None:
        pass

    def _pipe_lost(self, pipe: Pipe, count: int) -> None:
        pass


async def test_a_command_queued_as_idle_watching_ends_goes_out_with_the_batch(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PING queued after the sender ended the first phase, before the writer ran.

    ``wake_writer`` finds no gather to end then; the writer must see the
    command itself instead of following the stream with it. (helper-20)
    """
    connections: list[PeerConnection] = []
    real_init = PeerConnection.__init__

    def recording_init(self: PeerConnection, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        connections.append(self)

    monkeypatch.setattr(PeerConnection, "__init__", recording_init)
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            await wait_for_peers(push, 1)
            (pipe,) = push._pipeset.pipes
            (conn,) = [c for c in connections if c.pipe is pipe]
            # Watching for idleness, with the next message ending that phase.
            sent = await stream_until(
                push,
                pipe,
                lambda: (
                    pipe.gather is not None
                    and pipe.gather_grew is None
                    and pipe.gather_at == pipe.untaken_outbound + 1
                ),
            )
            push.send_nowait(b"%d" % sent)  # no checkpoint: the writer does not run yet
            sent += 1
            assert pipe.gather is None  # ended
            conn.conn.send_ping(1.0)  # as the heartbeat does
            pipe.wake_writer()
            start = trio.current_time()
            await trio.testing.wait_all_tasks_blocked()
            assert not conn.conn.has_data_to_send()  # written, with the batch
            assert trio.current_time() == start
            assert [await pull.recv() for _ in range(sent)] == [b"%d" % i for i in range(sent)]
