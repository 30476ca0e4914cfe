"""How a connection's writer gathers a streaming batch (``PeerWriter._gather``).

On trio's virtual clock (``autojump_clock``): it only moves when every task
is blocked, so a stream sent without pause takes no time on it, and a tail
waiting for a deadline shows up as a jump of exactly that deadline.
"""

from __future__ import annotations

import pytest
import trio

import trio_zmq
from trio_zmq import _peer_writer
from trio_zmq._peer_writer import IDLE_WATCH, STREAM_PAUSE

from .helpers import linked, wait_for_peers


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
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            await wait_for_peers(push, 1)
            (pipe,) = push._pipeset.pipes
            sent = 0
            # Stream until the writer follows the stream by deadline, with
            # more than the idle-watched messages in its batch.
            while sent < 300 or pipe.gather_grew is None:
                await push.send(b"%d" % sent)
                sent += 1
                assert sent < 5000
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
