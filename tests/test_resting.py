"""A socket a receiver has read and left rests unwatched for a moment.

After a receiver borrowed its single peer's socket (see
``test_receiver_reads``), the connection's reader does not take it back at
once: in a request/reply loop the receiver is back within a round trip, and
waking the reader each time costs a scheduler step per message. The socket
rests until the next receiver borrows it, ``recv_nowait`` reads it, a second
peer comes, or ``REST_TIME`` passes and the reader takes it back. Sockets
with heartbeats, and XPUB (its subscriptions change what it sends), never
rest. These tests show each of those ends of a rest, against libzmq.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
import trio
import zmq

import trio_zmq
from trio_zmq import _peer_lender
from trio_zmq._peer import PeerConnection

from .helpers import bind_endpoint, wait_for_peers, wait_until
from .libzmq_peer import LibzmqSocket, libzmq_socket

T = TypeVar("T")


@pytest.fixture(params=["tcp", "ipc"])
def transport(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    return param


@pytest.fixture(params=["trio", "libzmq"])
def binds(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    return param


@pytest.fixture
def long_rests(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader never takes a resting socket back by itself."""
    monkeypatch.setattr(_peer_lender, "REST_TIME", 1000.0)


def connection(sock: trio_zmq.Socket) -> PeerConnection:
    """The connection of ``sock``'s single peer."""
    (pipe,) = sock._pipeset.pipes
    assert isinstance(pipe.lender, PeerConnection)
    return pipe.lender


def resting(sock: trio_zmq.Socket) -> bool:
    return connection(sock)._resting


@asynccontextmanager
async def linked_to_libzmq(
    peer: LibzmqSocket, socket_type: int, transport: str, binds: str, **options: Any
) -> AsyncIterator[trio_zmq.Socket]:
    """A trio_zmq socket linked to ``peer``; ``binds``: which side binds."""
    async with trio_zmq.open_socket(socket_type, **options) as sock:
        if binds == "trio":
            peer.connect(await sock.bind(bind_endpoint(transport)))
        else:
            sock.connect(peer.bind(transport))
        await wait_for_peers(sock, 1)
        yield sock


def taken(take: Callable[[], T], got: list[T]) -> bool:
    """Whether ``take()`` returned a message (appended to ``got``) or would block."""
    try:
        got.append(take())
    except trio.WouldBlock:
        return False
    return True


async def receive_by_borrowing(pull: trio_zmq.Socket, push: LibzmqSocket, data: bytes) -> None:
    """``pull.recv`` waits on the borrowed socket, then gets ``data`` there."""
    async with trio.open_nursery() as nursery:
        received: list[bytes] = []

        async def receive() -> None:
            received.append(await pull.recv())

        nursery.start_soon(receive)
        await wait_until(lambda: pull._pipeset._borrowed is not None)
        await push.send(data)
    assert received == [data]


async def test_recv_nowait_reads_a_resting_socket(
    zctx: zmq.Context[Any], transport: str, binds: str, long_rests: None
) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PUSH) as push:
        async with linked_to_libzmq(push, zmq.PULL, transport, binds) as pull:
            await receive_by_borrowing(pull, push, b"first")
            assert resting(pull)
            await push.send(b"second")
            # Only recv_nowait can read it: the reader's rest never ends.
            got: list[bytes] = []
            await wait_until(lambda: taken(pull.recv_nowait, got))
            assert got == [b"second"]
            assert resting(pull)
            await push.send_multipart([b"third", b"part"])
            parts: list[list[bytes]] = []
            await wait_until(lambda: taken(pull.recv_multipart_nowait, parts))
            assert parts == [[b"third", b"part"]]
            await push.send_many([[b"4"], [b"5"]])
            batches: list[list[list[bytes]]] = []
            while sum(map(len, batches)) < 2:
                await wait_until(lambda: taken(pull.recv_many_nowait, batches))
            assert [m for batch in batches for m in batch] == [[b"4"], [b"5"]]


async def test_the_reader_takes_a_resting_socket_back(
    zctx: zmq.Context[Any], transport: str, binds: str
) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PUSH) as push:
        async with linked_to_libzmq(push, zmq.PULL, transport, binds) as pull:
            await receive_by_borrowing(pull, push, b"first")
            await push.send(b"second")
            # Nobody receives: the reader reads it once the rest is over.
            await wait_until(lambda: pull.statistics().queued_inbound == 1)
            assert not resting(pull)
            assert pull.recv_nowait() == b"second"
            # And the peer going away is noticed, with nobody receiving.
            await receive_by_borrowing(pull, push, b"third")
            push.close()
            await wait_until(lambda: pull.statistics().peers == 0)


async def test_the_next_receiver_borrows_a_resting_socket(
    zctx: zmq.Context[Any], transport: str, binds: str, long_rests: None
) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PUSH) as push:
        async with linked_to_libzmq(push, zmq.PULL, transport, binds) as pull:
            for i in range(5):
                await receive_by_borrowing(pull, push, b"%d" % i)
                assert resting(pull)


async def test_a_second_peer_ends_the_rest(
    zctx: zmq.Context[Any], transport: str, binds: str, long_rests: None
) -> None:
    with (
        trio.fail_after(10),
        libzmq_socket(zctx, zmq.PUSH) as first,
        libzmq_socket(zctx, zmq.PUSH) as second,
    ):
        async with linked_to_libzmq(first, zmq.PULL, transport, binds) as pull:
            await receive_by_borrowing(pull, first, b"first")
            assert resting(pull)
            if binds == "trio":
                second.connect(await pull.bind(bind_endpoint(transport)))
            else:
                pull.connect(second.bind(transport))
            await wait_for_peers(pull, 2)
            # With two peers nobody borrows: the first peer's reader reads it.
            await first.send(b"from the first")
            assert await pull.recv() == b"from the first"


async def test_a_receiver_waiting_behind_a_cancelled_borrower_gets_the_next_message(
    zctx: zmq.Context[Any], transport: str, binds: str, long_rests: None
) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PUSH) as push:
        async with (
            linked_to_libzmq(push, zmq.PULL, transport, binds) as pull,
            trio.open_nursery() as nursery,
        ):
            first = trio.CancelScope()
            received: list[bytes] = []

            async def borrow_then_give_up() -> None:
                with first:
                    await pull.recv()

            async def receive() -> None:
                received.append(await pull.recv())

            nursery.start_soon(borrow_then_give_up)
            await wait_until(lambda: pull._pipeset._borrowed is not None)
            nursery.start_soon(receive)
            await wait_until(lambda: bool(pull._pipeset.recv_lot))
            first.cancel()  # the borrower leaves with nothing: the other receiver borrows
            await push.send(b"for the second")
            await wait_until(lambda: received == [b"for the second"])


async def test_a_closing_connection_never_rests(
    zctx: zmq.Context[Any], long_rests: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # close() and the borrower's give-back in one scheduler batch, before the
    # reader runs: whichever order they take, the socket must not rest (a
    # receiver would then borrow the socket of a closing connection).
    rested_closing: list[PeerConnection] = []
    give_back = PeerConnection.give_back

    def checked(self: PeerConnection, *, rest: bool) -> None:
        give_back(self, rest=rest)
        if self._resting and self._closing:
            rested_closing.append(self)

    monkeypatch.setattr(PeerConnection, "give_back", checked)
    with trio.fail_after(20), libzmq_socket(zctx, zmq.PUSH) as push:
        for _ in range(20):
            async with linked_to_libzmq(push, zmq.PULL, "tcp", "libzmq") as pull:
                await close_while_borrowing(pull)
    assert rested_closing == []


async def close_while_borrowing(pull: trio_zmq.Socket) -> None:
    conn = connection(pull)
    async with trio.open_nursery() as nursery:
        borrower = trio.CancelScope()

        async def borrow() -> None:
            with borrower:
                await pull.recv()

        nursery.start_soon(borrow)
        await wait_until(lambda: pull._pipeset._borrowed is not None and conn._timed_park)
        conn.close()
        borrower.cancel()
    await wait_until(lambda: pull.statistics().peers == 0)
    assert conn.lend() is None
    assert not conn.pull()


async def never_rests(pull: trio_zmq.Socket, push: LibzmqSocket) -> None:
    """After a receive by borrowing, the reader reads the next message itself."""
    await receive_by_borrowing(pull, push, b"first")
    assert not resting(pull)
    await push.send(b"second")
    await wait_until(lambda: pull.statistics().queued_inbound == 1)


async def test_a_socket_with_heartbeats_never_rests(
    zctx: zmq.Context[Any], transport: str, binds: str, long_rests: None
) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PUSH) as push:
        async with linked_to_libzmq(push, zmq.PULL, transport, binds, heartbeat_ivl=5.0) as pull:
            await never_rests(pull, push)


async def test_a_peer_that_pings_keeps_the_socket_read(
    zctx: zmq.Context[Any], transport: str, binds: str, long_rests: None
) -> None:
    with (
        trio.fail_after(10),
        libzmq_socket(zctx, zmq.PUSH, heartbeat_ivl=20, heartbeat_timeout=5000) as push,
    ):
        async with linked_to_libzmq(push, zmq.PULL, transport, binds) as pull:
            await wait_until(lambda: not connection(pull)._heartbeat.quiet)
            await never_rests(pull, push)


async def test_xpub_never_rests(
    zctx: zmq.Context[Any], transport: str, binds: str, long_rests: None
) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.SUB) as sub:
        async with (
            linked_to_libzmq(sub, zmq.XPUB, transport, binds) as xpub,
            trio.open_nursery() as nursery,
        ):
            # libzmq attaches the pipe of a peer that connected to it (and so
            # sends it the subscriptions) when its application thread calls in.
            nursery.start_soon(keep_processing_commands, sub)
            received: list[bytes] = []

            async def receive() -> None:
                received.append(await xpub.recv())

            nursery.start_soon(receive)
            await wait_until(lambda: xpub._pipeset._borrowed is not None)
            sub.sock.subscribe(b"a")
            await wait_until(lambda: received == [b"\x01a"])
            assert not resting(xpub)
            sub.sock.subscribe(b"b")

            def delivered() -> bool:
                xpub.send_nowait(b"b")
                try:
                    return bool(sub.sock.recv(zmq.NOBLOCK) == b"b")
                except zmq.Again:
                    return False

            # With nobody receiving, its reader reads the subscription: "b" gets through.
            await wait_until(delivered)
            nursery.cancel_scope.cancel()


async def keep_processing_commands(sock: LibzmqSocket) -> None:
    while True:
        sock.sock.getsockopt(zmq.EVENTS)
        await trio.sleep(0.005)
