"""The latency path: a message sent to an idle connection is written by ``send`` itself.

When the connection's writer has nothing to do, ``Pipe.write`` hands the
first message straight to the socket (``PeerConnection._direct_write``):
no task switch to the writer. What the kernel does not take at once is
finished by the writer; later messages queue and are batched as before.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import zmq

import trio_zmq
from trio_zmq import _pipe
from trio_zmq._peer import PeerConnection
from trio_zmq._peer_writer import send_buffers
from trio_zmq._pipe import DIRECT_REARM

from .helpers import LOOPBACK, linked, wait_for_peers, wait_until, writers_idle
from .libzmq_peer import LibzmqSocket, greeting, libzmq_socket, ready


@pytest.fixture
def writer_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many buffers each write by a writer task carried."""
    calls: list[int] = []
    real = PeerConnection._send_buffers

    async def counting(self: PeerConnection, buffers: list[bytes]) -> None:
        calls.append(len(buffers))
        await real(self, buffers)

    monkeypatch.setattr(PeerConnection, "_send_buffers", counting)
    return calls


async def test_requests_and_replies_go_out_without_the_writer(writer_calls: list[int]) -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.REP, trio_zmq.REQ) as (rep, req):
            await wait_for_peers(req, 1)
            await wait_for_peers(rep, 1)
            # The handshake may be done before a writer first parks (about
            # one run in ten): until then a message is the writer's to send.
            await wait_until(lambda: writers_idle(req) and writers_idle(rep))
            writer_calls.clear()
            for i in range(20):
                await req.send(b"q%d" % i)
                assert await rep.recv() == b"q%d" % i
                await rep.send(b"r%d" % i)
                assert await req.recv() == b"r%d" % i
            assert writer_calls == []


async def test_a_stream_of_messages_is_still_batched_by_the_writer(
    writer_calls: list[int],
) -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            await wait_for_peers(push, 1)
            writer_calls.clear()
            for i in range(2000):
                await push.send(b"%d" % i)
            for i in range(2000):
                assert await pull.recv() == b"%d" % i
            # One message at most went out directly; the rest in a few big writes.
            assert 0 < len(writer_calls) < 200


@asynccontextmanager
async def push_to_libzmq(pull: LibzmqSocket, binds: str) -> AsyncIterator[trio_zmq.Socket]:
    """A fresh PUSH connected to ``pull`` (a new tcp connection), its writer idle."""
    async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
        if binds == "trio":
            pull.connect(await push.bind(LOOPBACK))
        else:
            push.connect(pull.bind("tcp"))
        await wait_for_peers(push, 1)
        await wait_until(lambda: writers_idle(push))
        yield push


@pytest.mark.parametrize("binds", ["trio", "libzmq"])
async def test_a_sender_that_pauses_writes_every_message_itself(
    writer_calls: list[int], zctx: zmq.Context[Any], binds: str
) -> None:
    """A send DIRECT_REARM or more after the last direct write goes direct, armed or not.

    Without that, only every other message of a sender that sends now and
    then would: the one after a direct write would wait for the writer.
    """
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PULL) as pull:
        async with push_to_libzmq(pull, binds) as push:
            writer_calls.clear()
            for i in range(10):
                await trio.sleep(2 * DIRECT_REARM)  # not to synchronise: the pause itself
                await push.send(b"%d" % i)
                assert await pull.recv() == b"%d" % i
            assert writer_calls == []


def send_low_water_mark(sock: trio_zmq.Socket) -> int:
    """TCP_NOTSENT_LOWAT of the tcp socket of ``sock``'s single connection (its writer idle)."""
    (pipe,) = sock._pipeset.pipes
    assert pipe.direct is not None
    conn = getattr(pipe.direct, "__self__", None)  # the bound PeerConnection._direct_write
    assert isinstance(conn, PeerConnection) and conn._socket is not None
    value: int = conn._socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT)
    return value


needs_lowat = pytest.mark.skipif(
    not hasattr(socket, "TCP_NOTSENT_LOWAT"), reason="no TCP_NOTSENT_LOWAT here"
)


def assert_trios_low_water_mark(push: trio_zmq.Socket) -> None:
    """The connection starts with trio.SocketStream's 16 KiB (skip where the kernel refused it)."""
    if send_low_water_mark(push) != 16 * 1024:
        pytest.skip("trio could not set TCP_NOTSENT_LOWAT on this kernel")


@needs_lowat
@pytest.mark.parametrize("binds", ["trio", "libzmq"])
async def test_a_large_message_lifts_trios_send_low_water_mark(
    zctx: zmq.Context[Any], binds: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a write stops inside a body of BULK_BODY or more, the kernel may take it all.

    trio.SocketStream sets TCP_NOTSENT_LOWAT to 16 KiB; libzmq leaves the
    kernel's default. The 4 MiB message queues behind a small one, so the
    writer writes it; on a fresh connection the peer's window is small, so
    its first write surely stops early.
    """
    monkeypatch.setattr(_pipe, "DIRECT_REARM", float("inf"))  # only the first goes direct
    big = bytes(range(256)) * (16 * 1024)  # 4 MiB
    with trio.fail_after(20), libzmq_socket(zctx, zmq.PULL) as pull:
        async with push_to_libzmq(pull, binds) as push:
            assert_trios_low_water_mark(push)
            push.send_nowait(b"first")
            push.send_multipart_nowait([b"head", big])
            assert push.statistics().queued_outbound == 1  # the writer's to write
            assert await pull.recv() == b"first"
            assert await pull.recv_multipart() == [b"head", big]
            await wait_until(lambda: writers_idle(push))
            assert send_low_water_mark(push) == 0  # the kernel's default: no limit


@needs_lowat
@pytest.mark.parametrize("binds", ["trio", "libzmq"])
async def test_a_direct_write_that_stops_inside_a_large_body_lifts_it_too(
    zctx: zmq.Context[Any], binds: str
) -> None:
    """560 KiB to an idle connection: ``send`` writes the first piece, the writer the rest.

    The rest is under BULK_BODY, so only the direct write can tell that the
    body is a large one.
    """
    body = bytes(range(256)) * (560 * 4)  # 560 KiB
    with trio.fail_after(20), libzmq_socket(zctx, zmq.PULL) as pull:
        async with push_to_libzmq(pull, binds) as push:
            assert_trios_low_water_mark(push)
            await push.send(body)
            assert await pull.recv() == body
            await wait_until(lambda: writers_idle(push))
            assert send_low_water_mark(push) == 0


@needs_lowat
@pytest.mark.parametrize("binds", ["trio", "libzmq"])
async def test_messages_of_64_kib_keep_trios_send_low_water_mark(
    zctx: zmq.Context[Any], binds: str
) -> None:
    medium = b"m" * (64 * 1024)
    with trio.fail_after(20), libzmq_socket(zctx, zmq.PULL) as pull:
        async with push_to_libzmq(pull, binds) as push:
            assert_trios_low_water_mark(push)
            for _ in range(50):
                await push.send(medium)
            for _ in range(50):
                assert await pull.recv() == medium
            await wait_until(lambda: writers_idle(push))
            assert send_low_water_mark(push) == 16 * 1024


async def test_a_large_message_over_ipc_is_written_whole() -> None:
    """ipc sockets have no TCP_NOTSENT_LOWAT: a bulk write leaves them as they are."""
    big = bytes(range(256)) * (16 * 1024)
    with trio.fail_after(20):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH, transport="ipc") as (pull, push):
            await wait_for_peers(push, 1)
            for _ in range(3):
                await push.send(big)
            for _ in range(3):
                assert await pull.recv() == big


class StepCounter(trio.abc.Instrument):
    """Counts the scheduler steps of each task, by task name."""

    def __init__(self) -> None:
        self.steps: Counter[str] = Counter()

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps[task.name] += 1


async def test_a_streaming_writer_sleeps_while_the_batch_gathers() -> None:
    """While a sender streams, the writer takes a step per batch, not per message.

    It wakes when 256 messages are queued (or the pipe is full, or the
    program goes idle), instead of looking at the queue on every scheduler
    pass.
    """
    count = 3000
    with trio.fail_after(20):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            await wait_for_peers(push, 1)
            counter = StepCounter()
            received: list[bytes] = []

            async def receive() -> None:
                received.extend([await pull.recv() for _ in range(count)])

            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive)
                trio.lowlevel.add_instrument(counter)
                try:
                    for i in range(count):
                        await push.send(b"%d" % i)
                finally:
                    trio.lowlevel.remove_instrument(counter)
            assert received == [b"%d" % i for i in range(count)]
    writer_steps = sum(n for name, n in counter.steps.items() if name.startswith("trio_zmq writer"))
    assert 0 < writer_steps < count // 10


async def spin_forever() -> None:
    """A task that never blocks: the program never goes idle while it runs."""
    while True:
        await trio.lowlevel.checkpoint()


async def test_a_gathering_writer_writes_the_tail_in_a_program_that_never_idles() -> None:
    """The idle detection never fires while a task spins: the deadline does."""
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            await wait_for_peers(push, 1)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(spin_forever)
                for i in range(300):  # a stream: the writer gathers after its first batch
                    await push.send(b"%d" % i)
                received = [await pull.recv() for _ in range(300)]
                nursery.cancel_scope.cancel()
            assert received == [b"%d" % i for i in range(300)]


async def test_a_large_message_the_kernel_takes_in_part_is_finished_by_the_writer() -> None:
    big = bytes(range(256)) * (32 * 1024)  # 8 MiB: more than loopback buffers hold
    with trio.fail_after(20):
        async with linked(trio_zmq.PAIR, trio_zmq.PAIR) as (a, b):
            await wait_for_peers(b, 1)
            await b.send_multipart([b"head", big])
            await b.send(b"after")
            assert b.statistics().queued_outbound >= 1  # still being written
            assert await a.recv_multipart() == [b"head", big]
            assert await a.recv() == b"after"
            # The writer counts its last write done one scheduler pass after
            # the bytes went out; the receiver may have read them before that.
            await wait_until(lambda: b.statistics().queued_outbound == 0)


async def test_a_direct_write_to_a_closed_peer_is_lost_and_counted() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.DEALER, reconnect_ivl=None) as dealer:
            listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
            port = listener.socket.getsockname()[1]
            dealer.connect(f"tcp://127.0.0.1:{port}")
            stream = await listener.accept()
            # Play a ZMTP 3.1 ROUTER just far enough for the handshake.
            await stream.send_all(greeting() + ready(b"ROUTER", Identity=b""))
            await wait_for_peers(dealer, 1)
            await stream.aclose()
            await listener.aclose()
            sent = 0
            while dealer.statistics().peers == 1 and sent < 10_000:
                await dealer.send(b"into the void")
                sent += 1
            stats: Any = dealer.statistics()
            assert stats.peers == 0
            assert stats.messages_dropped >= 1


async def test_a_write_the_kernel_takes_in_parts_goes_on_without_a_scheduler_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each partial ``writev`` is followed at once by the next, not by a checkpoint.

    (``trio.socket``'s ``sendmsg`` takes a scheduler pass after every call
    that writes something: six passes for a 1 MiB message here.)
    """
    real_writev = os.writev
    calls: list[int] = []

    def writev_1000(fd: int, buffers: list[bytes | memoryview]) -> int:
        calls.append(fd)
        return real_writev(fd, [b"".join(bytes(b) for b in buffers)[:1000]])

    left, right = trio.socket.socketpair()
    with left, right, trio.fail_after(10):
        stream = trio.SocketStream(left)
        counter = StepCounter()
        me = trio.lowlevel.current_task()
        monkeypatch.setattr(os, "writev", writev_1000)
        trio.lowlevel.add_instrument(counter)
        try:
            await send_buffers(stream, left, [b"x" * 3000, b"y" * 2500])
        finally:
            trio.lowlevel.remove_instrument(counter)
            monkeypatch.undo()
        assert len(calls) == 6
        assert counter.steps[me.name] == 1  # the one checkpoint at the end
        received = b""
        while len(received) < 5500:
            received += await right.recv(10000)
        assert received == b"x" * 3000 + b"y" * 2500


async def test_aclose_ends_a_gathering_writer_so_linger_does_not_drop_the_tail() -> None:
    """A stream's tail queued when ``aclose`` starts is written within ``linger``.

    (Found by review, helper-15.)

    In a program that never goes idle (here a spinning task; in practice any
    other traffic), the writer's gather waits for its deadline, and
    nothing (``aclose``, the linger wait) ends it: with a linger shorter than
    that, messages the connection could take at once are dropped.
    """
    count = 300
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH, connect_options={"linger": 0.005}) as (
            pull,
            push,
        ):
            await wait_for_peers(push, 1)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(spin_forever)
                for i in range(count):  # a stream: the writer gathers after its first batch
                    await push.send(b"%d" % i)
                await push.aclose()
                nursery.cancel_scope.cancel()
            assert push.statistics().messages_dropped == 0
            received = [await pull.recv() for _ in range(count)]
            assert received == [b"%d" % i for i in range(count)]


async def test_disconnect_linger_writes_the_tail_of_a_gathered_stream() -> None:
    """The same through ``disconnect``: the retired pipe's linger wait ends first."""
    count = 300
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH, linger=0.005) as push,
        ):
            endpoint = await pull.bind(LOOPBACK)
            push.connect(endpoint)
            await wait_for_peers(push, 1)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(spin_forever)
                for i in range(count):
                    await push.send(b"%d" % i)
                push.disconnect(endpoint)
                await wait_until(lambda: push.statistics().peers == 0)
                nursery.cancel_scope.cancel()
            assert push.statistics().messages_dropped == 0
            received = [await pull.recv() for _ in range(count)]
            assert received == [b"%d" % i for i in range(count)]


async def test_a_huge_write_the_kernel_takes_at_once_still_yields_every_4_mib(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Other tasks run while a 10 MiB batch goes out, even if no write ever blocks."""
    taken: list[int] = []

    def writev_all(fd: int, buffers: list[bytes | memoryview]) -> int:
        taken.append(sum(len(b) for b in buffers[:1]))
        return len(buffers[0])  # the whole first buffer, as a kernel with room would

    left, right = trio.socket.socketpair()
    with left, right, trio.fail_after(10):
        counter = StepCounter()
        me = trio.lowlevel.current_task()
        monkeypatch.setattr(os, "writev", writev_all)
        trio.lowlevel.add_instrument(counter)
        try:
            await send_buffers(trio.SocketStream(left), left, [bytes(1024 * 1024)] * 10)
        finally:
            trio.lowlevel.remove_instrument(counter)
            monkeypatch.undo()
    assert sum(taken) == 10 * 1024 * 1024
    assert counter.steps[me.name] == 2  # after 4 MiB and after 8 MiB
