"""A receiver reads its peer's socket itself: the latency path for replies.

When ``recv`` finds nothing queued and the socket has a single peer over tcp
or ipc, the receiving task borrows that connection's socket: it waits for
it, reads and decodes in its own step, where the connection's reader would
read and then wake it one scheduler pass later. These tests check that it
happens, and that everything the reader does is still done: RCVHWM holds,
the end of the stream, errors and PINGs are acted on, and a second peer, a
close or a cancellation gets the borrower out, after which the reader reads
again.
"""

from __future__ import annotations

import os
import socket
import struct
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
import trio
import zmq

import trio_zmq
from trio_zmq._peer import PeerConnection
from trio_zmq._pipeset import PipeSet
from trio_zmq._zmtp import Connection, _framing
from trio_zmq._zmtp._framing import MAX_CHUNK_READ

from .helpers import LOOPBACK, bind_endpoint, linked, wait_for_peers, wait_until
from .libzmq_peer import (
    LibzmqSocket,
    RawReader,
    command,
    greeting,
    libzmq_socket,
    message,
    ready,
    tcp_address,
)


@pytest.fixture(params=["tcp", "ipc"])
def transport(request: pytest.FixtureRequest) -> str:
    """The transports with a socket to lend (inproc has none)."""
    param: str = request.param
    return param


@pytest.fixture
def lent_reads(monkeypatch: pytest.MonkeyPatch) -> list[PeerConnection]:
    """Every read a receiver makes on a borrowed socket, by connection."""
    reads: list[PeerConnection] = []
    original = PeerConnection.read_lent

    def counting(self: PeerConnection) -> bool:
        reads.append(self)
        return original(self)

    monkeypatch.setattr(PeerConnection, "read_lent", counting)
    return reads


@pytest.fixture
def borrows(monkeypatch: pytest.MonkeyPatch) -> list[PipeSet]:
    """One entry per borrow a receiver starts (``PipeSet._borrow``)."""
    calls: list[PipeSet] = []
    real_borrow = PipeSet._borrow

    async def counting(self: PipeSet, *args: Any) -> None:
        calls.append(self)
        await real_borrow(self, *args)

    monkeypatch.setattr(PipeSet, "_borrow", counting)
    return calls


def borrowing(sock: trio_zmq.Socket) -> bool:
    """Whether a task in ``sock.recv`` is waiting on a borrowed socket."""
    return sock._pipeset._borrowed is not None


async def link_peer(
    sock: trio_zmq.Socket,
    peer: LibzmqSocket,
    transport: str,
    binds: str,
    endpoint: str | None = None,
) -> str | None:
    """Link a libzmq ``peer``: ``sock`` binds (``endpoint`` if it already has one), or it does.

    Returns the endpoint ``sock`` bound, for the next peer (None if the peer bound).
    """
    if binds == "trio":
        if endpoint is None:
            endpoint = await sock.bind(bind_endpoint(transport))
        peer.connect(endpoint)
        return endpoint
    sock.connect(peer.bind(transport))
    return None


async def borrowing_receiver(nursery: trio.Nursery, sock: trio_zmq.Socket) -> list[bytes]:
    """Start a task in ``sock.recv``, once it borrows the socket; it fills the list returned."""
    received: list[bytes] = []

    async def receive() -> None:
        received.append(await sock.recv())

    nursery.start_soon(receive)
    await wait_until(lambda: borrowing(sock))
    return received


#: A message whose body comes in several reads, sent in two halves by the tests.
LARGE_BODY = bytes(range(256)) * 1000
LARGE_WIRE = message(LARGE_BODY)
FIRST_HALF, SECOND_HALF = LARGE_WIRE[: len(LARGE_WIRE) // 2], LARGE_WIRE[len(LARGE_WIRE) // 2 :]


@asynccontextmanager
async def raw_peer(
    sock: trio_zmq.Socket, peer_type: bytes = b"PUSH"
) -> AsyncIterator[tuple[trio.SocketStream, RawReader]]:
    """A hand-driven peer connected to ``sock`` (bound here), past the handshake."""
    endpoint = await sock.bind(LOOPBACK)
    stream = await trio.open_tcp_stream(*tcp_address(endpoint))
    async with stream:
        await stream.send_all(greeting() + ready(peer_type))
        reader = RawReader(stream)
        await reader.read_exactly(64)
        await reader.read_frame()  # its READY
        await wait_for_peers(sock, 1)
        yield stream, reader


@asynccontextmanager
async def pull_and_its_connection() -> AsyncIterator[
    tuple[trio_zmq.Socket, trio.SocketStream, Connection]
]:
    """A PULL with a hand-driven peer, and the sans-IO connection serving that peer."""
    async with (
        trio_zmq.open_socket(trio_zmq.PULL) as pull,
        raw_peer(pull) as (stream, _),
    ):
        (pipe,) = pull._pipeset.pipes
        assert isinstance(pipe.lender, PeerConnection)
        yield pull, stream, pipe.lender.conn


@asynccontextmanager
async def pull_borrowed_by_a_receiver() -> AsyncIterator[
    tuple[trio_zmq.Socket, trio.SocketStream, list[bytes]]
]:
    """A PULL with a hand-driven peer, and a task in ``recv`` borrowing its socket."""
    async with (
        trio_zmq.open_socket(trio_zmq.PULL) as pull,
        raw_peer(pull) as (stream, _),
        trio.open_nursery() as nursery,
    ):
        yield pull, stream, await borrowing_receiver(nursery, pull)


async def _exchange(req: trio_zmq.Socket, rep: trio_zmq.Socket | LibzmqSocket) -> None:
    async def serve() -> None:
        for _ in range(20):
            await rep.send(await rep.recv())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        for i in range(20):
            await req.send(b"%d" % i)
            assert await req.recv() == b"%d" % i


async def test_requests_and_replies_are_read_by_the_receiving_task(
    transport: str, lent_reads: list[PeerConnection]
) -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.REP, trio_zmq.REQ, transport=transport) as (rep, req):
            await _exchange(req, rep)
    # The first exchanges may go through the reader; the steady state does not.
    assert len([c for c in lent_reads if c.host is req]) >= 15
    assert len([c for c in lent_reads if c.host is rep]) >= 15


async def test_replies_from_libzmq_are_read_by_the_receiving_task(
    zctx: zmq.Context[Any], transport: str, lent_reads: list[PeerConnection]
) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.REP) as rep:
        async with trio_zmq.open_socket(trio_zmq.REQ) as req:
            req.connect(rep.bind(transport))
            await _exchange(req, rep)
    assert len(lent_reads) >= 15


@pytest.mark.parametrize("binds", ["trio", "libzmq"])
async def test_a_message_from_a_second_peer_gets_the_borrower_out(
    zctx: zmq.Context[Any], transport: str, binds: str
) -> None:
    with (
        trio.fail_after(10),
        libzmq_socket(zctx, zmq.PUSH) as first,
        libzmq_socket(zctx, zmq.PUSH) as second,
    ):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull, trio.open_nursery() as nursery:
            endpoint = await link_peer(pull, first, transport, binds)
            await wait_for_peers(pull, 1)
            received = await borrowing_receiver(nursery, pull)
            # The first peer stays silent: only the second peer's message can end the wait.
            await link_peer(pull, second, transport, binds, endpoint)
            await wait_for_peers(pull, 2)
            await second.send(b"from the second")
            await wait_until(lambda: received == [b"from the second"])


async def test_a_cancelled_borrower_takes_nothing_and_the_reader_reads_again(
    zctx: zmq.Context[Any], transport: str
) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PUSH) as push:
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            pull.connect(push.bind(transport))
            await wait_for_peers(pull, 1)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pull.recv)
                await wait_until(lambda: borrowing(pull))
                nursery.cancel_scope.cancel()
            assert not borrowing(pull)
            await push.send(b"after")
            # Nobody is receiving: the connection's reader queues it.
            await wait_until(lambda: pull.statistics().queued_inbound == 1)
            assert pull.recv_nowait() == b"after"


@pytest.mark.parametrize("how", ["close", "aclose"])
async def test_closing_the_socket_gets_the_borrower_out(
    zctx: zmq.Context[Any], transport: str, how: str
) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PUSH) as push:
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            pull.connect(push.bind(transport))
            await wait_for_peers(pull, 1)
            async with trio.open_nursery() as nursery:

                async def receive() -> None:
                    with pytest.raises(trio.ClosedResourceError):
                        await pull.recv()

                nursery.start_soon(receive)
                await wait_until(lambda: borrowing(pull))
                if how == "close":
                    pull.close()
                else:
                    await pull.aclose()


async def test_a_peer_that_closes_while_a_receiver_borrows_is_dropped_and_replaced() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull, trio.open_nursery() as nursery:
            received: list[bytes] = []

            async def receive() -> None:
                received.append(await pull.recv())

            async with raw_peer(pull) as (stream, _):
                nursery.start_soon(receive)
                await wait_until(lambda: borrowing(pull))
            # The borrower read the end of the stream; the reader ends the connection.
            await wait_until(lambda: pull.statistics().disconnections == 1)
            assert pull.statistics().peers == 0
            async with raw_peer(pull) as (stream, _):
                await stream.send_all(message(b"from the next peer"))
                await wait_until(lambda: received == [b"from the next peer"])


async def test_a_protocol_error_read_by_a_borrower_drops_the_peer() -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL, maxmsgsize=50) as pull,
            raw_peer(pull) as (stream, reader),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(pull.recv)
            await wait_until(lambda: borrowing(pull))
            await stream.send_all(message(b"x" * 51))  # over maxmsgsize
            assert await reader.read_until_closed() == b""
            await wait_until(lambda: pull.statistics().protocol_errors == 1)
            nursery.cancel_scope.cancel()


async def test_a_ping_read_by_a_borrower_is_answered() -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            raw_peer(pull) as (stream, reader),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(pull.recv)
            await wait_until(lambda: borrowing(pull))
            # PING with a TTL of 0 and a context; PONG echoes the context.
            await stream.send_all(command(b"PING", b"\x00\x00ctx"))
            assert await reader.read_frame() == command(b"PONG", b"ctx")
            assert borrowing(pull)  # a command is no message: still waiting
            await stream.send_all(message(b"then a message"))
            await wait_until(lambda: not borrowing(pull))
            assert pull.statistics().messages_received == 1


async def test_a_borrower_delivers_no_more_than_rcvhwm_from_one_read() -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=5) as pull,
            raw_peer(pull) as (stream, _),
        ):
            received: list[bytes] = []

            async def receive_first() -> None:
                received.append(await pull.recv())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive_first)
                await wait_until(lambda: borrowing(pull))
                # 50 messages in one write: most likely one read for the borrower.
                await stream.send_all(b"".join(message(b"%d" % i) for i in range(50)))
            # The borrower took the first; the rest waits for room.
            assert pull.statistics().queued_inbound <= 5
            while len(received) < 50:
                assert pull.statistics().queued_inbound <= 5
                received.append(await pull.recv())
            assert received == [b"%d" % i for i in range(50)]


async def test_two_receivers_one_borrowing_both_get_a_message(transport: str) -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH, transport=transport) as (pull, push):
            await wait_for_peers(push, 1)
            received: list[bytes] = []

            async def receive() -> None:
                received.append(await pull.recv())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive)
                nursery.start_soon(receive)
                await wait_until(lambda: borrowing(pull) and len(pull._pipeset.recv_lot) == 1)
                await push.send(b"one")
                await push.send(b"two")
            assert sorted(received) == [b"one", b"two"]


async def _req_waiting_for_a_reply(
    req: trio_zmq.Socket, reader: RawReader, nursery: trio.Nursery, replies: list[bytes]
) -> None:
    await req.send(b"hello")
    assert await reader.read_frame() == b"\x01\x00"  # the empty delimiter, MORE
    assert await reader.read_frame() == b"\x00\x05hello"

    async def receive() -> None:
        replies.append(await req.recv())

    nursery.start_soon(receive)
    await wait_until(lambda: borrowing(req))


async def test_a_malformed_reply_read_by_a_borrower_drops_the_peer() -> None:
    """A reply without its envelope breaks REQ's rules: the peer goes, recv goes on waiting.

    (Found by review: the error escaped into ``recv``.)
    """
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.REQ) as req,
            raw_peer(req, b"REP") as (stream, reader),
            trio.open_nursery() as nursery,
        ):
            replies: list[bytes] = []
            await _req_waiting_for_a_reply(req, reader, nursery, replies)
            await stream.send_all(message(b"no delimiter"))
            await wait_until(lambda: req.statistics().protocol_errors == 1)
            assert replies == []
            nursery.cancel_scope.cancel()


async def test_a_good_reply_before_a_malformed_one_is_received_once() -> None:
    """Both in one read: the good one is delivered (once), then the peer is dropped."""
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.REQ) as req,
            raw_peer(req, b"REP") as (stream, reader),
            trio.open_nursery() as nursery,
        ):
            replies: list[bytes] = []
            await _req_waiting_for_a_reply(req, reader, nursery, replies)
            await stream.send_all(message(b"", b"good") + message(b"bad"))
            await wait_until(lambda: req.statistics().protocol_errors == 1)
            assert replies == [b"good"]
            assert req.statistics().queued_inbound == 0  # not delivered a second time


async def test_the_pieces_of_a_large_body_are_read_without_waiting_between_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Inside a large frame body, the reader reads on while the socket has more.

    Each read here takes at most 20,000 bytes of a 100,000-byte body that is
    all in the socket: five reads, and one wait for the socket, not five.
    """
    body = bytes(range(256)) * 390 + b"end"  # over LARGE_BODY: read in body mode
    real_read, real_readv, real_wait = os.read, os.readv, trio.lowlevel.wait_readable
    waits = readvs = 0

    def small_read(fd: int, size: int) -> bytes:
        return real_read(fd, min(size, 20_000))

    def small_readv(fd: int, buffers: Sequence[memoryview]) -> int:
        nonlocal readvs
        readvs += 1
        (view,) = buffers
        return real_readv(fd, [view[:20_000]])

    async def counting_wait(fd: int) -> None:
        nonlocal waits
        waits += 1
        await real_wait(fd)

    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            raw_peer(pull) as (stream, _),
        ):
            monkeypatch.setattr(os, "read", small_read)
            monkeypatch.setattr(os, "readv", small_readv)
            monkeypatch.setattr(trio.lowlevel, "wait_readable", counting_wait)
            await stream.send_all(message(body))
            assert await pull.recv() == body
            monkeypatch.undo()
    assert waits <= 2  # the receiver's (or the reader's) wait for the first piece
    assert readvs >= 4  # the rest of the body: into its segment


@pytest.mark.parametrize("binds", ["trio", "libzmq"])
async def test_a_large_body_is_read_into_a_reused_segment(
    zctx: zmq.Context[Any], binds: str, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rest of a large body is read into a reused segment, not a new buffer per read.

    A 1 MiB message from libzmq then allocates its joined body, the first
    read (up to ``MAX_CHUNK_READ``) and little more: 1.1-1.45 MB at the peak
    here. A new ``bytes`` per read held the body twice until the join (2.1
    MB), and freeing that much per message sometimes had glibc hand the
    memory back to the kernel and fault it in again for every message.
    """
    monkeypatch.setattr(_framing, "_spare_segments", [])
    monkeypatch.setattr(_framing, "_segments_made", 0)
    body = bytes(range(256)) * 4096
    with trio.fail_after(20), libzmq_socket(zctx, zmq.PUSH) as push:
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            await link_peer(pull, push, transport, binds)
            await wait_for_peers(pull, 1)
            await push.send(body)
            assert await pull.recv() == body  # the first body takes the segment
            tracemalloc.start()
            try:
                await push.send(body)
                received = await pull.recv()
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    assert received == body
    assert peak < len(body) + MAX_CHUNK_READ + 512 * 1024


async def test_more_large_bodies_at_once_than_segments_all_arrive_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Six peers are inside 1 MiB bodies at once: two of them find no segment free.

    Those are read into ``bytes``; every message arrives whole and every
    segment is given back.
    """
    spare: list[bytearray] = []
    monkeypatch.setattr(_framing, "_spare_segments", spare)
    monkeypatch.setattr(_framing, "_segments_made", 0)
    bodies = [bytes([p]) * 1024 * 1024 for p in range(_framing.MAX_SEGMENTS + 2)]
    cut = 300_000
    with trio.fail_after(20):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull, AsyncExitStack() as stack:
            address = tcp_address(await pull.bind(LOOPBACK))
            streams = []
            for _ in bodies:
                stream = await stack.enter_async_context(await trio.open_tcp_stream(*address))
                await stream.send_all(greeting() + ready(b"PUSH"))
                await RawReader(stream).read_exactly(64)  # its greeting
                streams.append(stream)
            await wait_for_peers(pull, len(bodies))
            conns = [
                p.lender.conn for p in pull._pipeset.pipes if isinstance(p.lender, PeerConnection)
            ]
            assert len(conns) == len(bodies)
            for stream, body in zip(streams, bodies, strict=True):
                await stream.send_all(message(body)[:cut])
            # Every body has begun: four read into segments, two into bytes.
            await wait_until(
                lambda: all(0 < c.body_remaining < len(bodies[0]) - 200_000 for c in conns)
            )
            assert _framing._segments_made == _framing.MAX_SEGMENTS and not spare
            for stream, body in zip(streams, bodies, strict=True):
                await stream.send_all(message(body)[cut:])
            received = {await pull.recv() for _ in bodies}
    assert received == set(bodies)
    assert len(spare) == _framing._segments_made == _framing.MAX_SEGMENTS


@pytest.mark.parametrize("how", ["close", "reset"])
async def test_a_peer_that_ends_inside_a_large_body_gives_its_segment_back(
    monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    spare: list[bytearray] = []
    monkeypatch.setattr(_framing, "_spare_segments", spare)
    monkeypatch.setattr(_framing, "_segments_made", 0)
    body = bytes(range(256)) * 4096
    with trio.fail_after(10):
        async with pull_and_its_connection() as (pull, stream, conn):
            await stream.send_all(message(body)[:300_000])
            await wait_until(lambda: conn.body_remaining < len(body) - 200_000)
            assert _framing._segments_made == 1 and not spare  # the body holds it
            if how == "reset":
                stream.socket.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            await stream.aclose()
            await wait_until(lambda: pull.statistics().disconnections == 1)
            assert pull.statistics().protocol_errors == 0
            assert len(spare) == 1 and _framing._segments_made == 1


async def test_a_large_message_in_pieces_is_received_in_one_borrow(
    borrows: list[PipeSet],
) -> None:
    """A borrower that reads part of a message waits on for the rest, in the same borrow."""
    with trio.fail_after(10):
        async with pull_borrowed_by_a_receiver() as (pull, stream, received):
            (pipe,) = pull._pipeset.pipes
            assert isinstance(pipe.lender, PeerConnection)
            conn = pipe.lender.conn
            await stream.send_all(FIRST_HALF)
            await wait_until(lambda: 0 < conn.body_remaining < len(LARGE_BODY))
            await stream.send_all(SECOND_HALF)
            await wait_until(lambda: received == [LARGE_BODY])
    assert len(borrows) == 1


async def test_a_borrower_cancelled_inside_a_large_message_leaves_it_whole() -> None:
    """Cancelled between two pieces of a body: nothing taken, the next recv gets it all."""
    with trio.fail_after(10):
        async with pull_and_its_connection() as (pull, stream, conn):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pull.recv)
                await wait_until(lambda: borrowing(pull))
                await stream.send_all(FIRST_HALF)
                await wait_until(lambda: 0 < conn.body_remaining < len(LARGE_BODY))
                nursery.cancel_scope.cancel()
            assert pull.statistics().messages_received == 0
            await stream.send_all(SECOND_HALF)
            assert await pull.recv() == LARGE_BODY


@pytest.mark.parametrize("binds", ["trio", "libzmq"])
async def test_a_writer_waiting_for_room_outlives_a_borrower_being_got_out(
    zctx: zmq.Context[Any], transport: str, binds: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The borrower is got out by waking every task that waits for its
    # socket (PipeSet._kick_borrower), the connection's writer too: the
    # writer must wait again, not take it for a closed connection.
    writers_waiting = 0
    original = trio.lowlevel.wait_writable

    async def counted(fd: int) -> None:
        nonlocal writers_waiting
        writers_waiting += 1
        try:
            await original(fd)
        finally:
            writers_waiting -= 1

    monkeypatch.setattr(trio.lowlevel, "wait_writable", counted)
    body = b"x" * 65536
    count = 200  # 13 MB: more than the kernel buffers hold
    with (
        trio.fail_after(20),
        libzmq_socket(zctx, zmq.ROUTER, rcvhwm=1) as first,
        libzmq_socket(zctx, zmq.DEALER) as second,
    ):
        async with trio_zmq.open_socket(trio_zmq.DEALER) as dealer, trio.open_nursery() as nursery:
            endpoint = await link_peer(dealer, first, transport, binds)
            await wait_for_peers(dealer, 1)
            received = await borrowing_receiver(nursery, dealer)
            for i in range(count):
                await dealer.send(b"%d " % i + body)
            # The first peer does not read: the writer waits for room.
            await wait_until(lambda: writers_waiting == 1)
            await link_peer(dealer, second, transport, binds, endpoint)
            await wait_for_peers(dealer, 2)
            assert writers_waiting == 1  # still, when the kick comes
            await second.send(b"from the second")
            await wait_until(lambda: received == [b"from the second"])
            assert not borrowing(dealer)
            # Nothing was lost: the first peer gets every message, in order.
            for i in range(count):
                frames = await first.recv_multipart()
                assert frames[1] == b"%d " % i + body
            assert dealer.statistics().messages_dropped == 0


async def test_a_borrower_got_out_between_two_waits_leaves_the_borrow(
    borrows: list[PipeSet], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kick that comes while the borrower runs (not waiting) still ends its borrow."""
    real_read_lent = PeerConnection.read_lent

    def kicked_while_reading(self: PeerConnection) -> bool:
        complete = real_read_lent(self)
        if len(borrows) == 1:
            assert self.kick_borrower is not None
            self.kick_borrower()  # as another pipe's message would, between two waits
        return complete

    monkeypatch.setattr(PeerConnection, "read_lent", kicked_while_reading)
    with trio.fail_after(10):
        async with pull_borrowed_by_a_receiver() as (_, stream, received):
            # Half a message: the borrower would wait on for the rest, but it was kicked.
            await stream.send_all(FIRST_HALF)
            await wait_until(lambda: len(borrows) == 2)
            await stream.send_all(SECOND_HALF)
            await wait_until(lambda: received == [LARGE_BODY])


async def test_a_borrower_is_kicked_once_however_many_reasons_come(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second kick must not touch the fd: the first may have let the connection close
    it, and a new socket reuse its number (a wait on it would be woken for nothing)."""
    notified: list[int] = []
    real_notify = trio.lowlevel.notify_closing

    def recording(fd: int) -> None:
        notified.append(fd)
        real_notify(fd)

    monkeypatch.setattr(trio.lowlevel, "notify_closing", recording)
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            raw_peer(pull),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(pull.recv)
            await wait_until(lambda: borrowing(pull))
            (pipe,) = pull._pipeset.pipes
            assert isinstance(pipe.lender, PeerConnection) and pipe.lender._socket is not None
            fd = pipe.lender._socket.fileno()
            # Two reasons in one step, before the borrower runs: the
            # connection ends, then the socket is closed.
            assert pipe.lender.kick_borrower is not None
            pipe.lender.kick_borrower()
            pull._pipeset.wake_receivers()
            assert notified == [fd]
            nursery.cancel_scope.cancel()
