"""ROUTER: libzmq's semantics, with trio_zmq and with libzmq (4.3.5, through pyzmq) peers.

The ROUTER under test is always trio_zmq's. Its peers are trio_zmq sockets
or libzmq sockets (``impl``), either side binds (``direction``), over tcp,
ipc and inproc (the ``transport`` fixture; inproc with trio_zmq peers only,
raw ZMTP peers over tcp only). The
first part re-expresses libzmq's own tests (test_spec_router,
test_router_mandatory, test_router_mandatory_hwm, test_router_handover,
test_probe_router) and the ROUTER rules of digest section 3.2; then come a
Hypothesis test of envelopes through DEALER and ROUTER, randomly cancelled
receives, and one ROUTER serving a hundred DEALERs.

libzmq peers are never cancelled in the middle of a call (an abandoned
worker thread would still take the next message): they block with their
own timeout instead, which makes a test fail with ``zmq.Again``.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
import trio
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trio_zmq
from tests.helpers import (
    LOOPBACK,
    NO_INPROC_RECONNECT,
    bind_endpoint,
    libzmq_transports,
    rebindable_endpoint,
    wait_for_peers,
    wait_until,
)
from tests.libzmq_peer import (
    LibzmqSocket,
    RawReader,
    greeting,
    libzmq_socket,
    message,
    ready,
    tcp_address,
)

#: A ROUTER's peer: a trio_zmq socket or a libzmq one.
Peer = trio_zmq.Socket | LibzmqSocket
#: How to make a peer: ``(impl, socket type, trio_zmq-style options)``.
Spec = tuple[str, trio_zmq.SocketType, dict[str, Any]]

IMPLS = ["trio", "libzmq"]
DIRECTIONS = ["router_binds", "router_connects"]
impl_param = pytest.mark.parametrize("impl", IMPLS)
direction_param = pytest.mark.parametrize("direction", DIRECTIONS)

DEALER = trio_zmq.DEALER
REQ = trio_zmq.REQ
ROUTER = trio_zmq.ROUTER


@pytest.fixture(scope="module")
def zctx() -> Iterator[zmq.Context[Any]]:
    ctx: zmq.Context[Any] = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


# --- helpers ---------------------------------------------------------------------------


def libzmq_options(options: dict[str, Any]) -> dict[str, int | bytes]:
    """trio_zmq option values as libzmq wants them (ints, milliseconds)."""
    out: dict[str, int | bytes] = {}
    for name, value in options.items():
        if name == "reconnect_ivl":
            out[name] = round(value * 1000)
        elif isinstance(value, bool):
            out[name] = int(value)
        else:
            out[name] = value
    return out


async def open_peer(
    stack: AsyncExitStack,
    zctx: zmq.Context[Any],
    impl: str,
    socket_type: trio_zmq.SocketType,
    timeout: float = 5.0,
    **options: Any,
) -> Peer:
    """A trio_zmq or libzmq socket (closed with ``stack``); trio_zmq-style options."""
    if impl == "trio":
        return await stack.enter_async_context(trio_zmq.open_socket(socket_type, **options))
    return stack.enter_context(
        libzmq_socket(zctx, int(socket_type), timeout=timeout, **libzmq_options(options))
    )


async def bind_peer(peer: Peer, transport: str, *, rebindable: bool = False) -> str:
    """Bind ``peer`` over ``transport``; ``rebindable``: so that the endpoint can be bound again."""
    if isinstance(peer, trio_zmq.Socket):
        return await peer.bind(
            rebindable_endpoint(transport) if rebindable else bind_endpoint(transport)
        )
    return peer.bind(transport)


async def link(
    router: trio_zmq.Socket, peers: Sequence[Peer], direction: str, transport: str
) -> None:
    """Connect ``router`` with each peer (who binds: ``direction``) over ``transport``;
    wait for the handshakes."""
    handshakes = router.statistics().handshakes + len(peers)
    if direction == "router_binds":
        endpoint = await router.bind(bind_endpoint(transport))
        for peer in peers:
            peer.connect(endpoint)
    else:
        for peer in peers:
            router.connect(await bind_peer(peer, transport))
    await wait_until(lambda: router.statistics().handshakes >= handshakes)


@asynccontextmanager
async def router_with_peers(
    zctx: zmq.Context[Any],
    direction: str,
    specs: Sequence[Spec],
    *,
    transport: str,
    **router_options: Any,
) -> AsyncIterator[tuple[trio_zmq.Socket, list[Peer]]]:
    """A trio_zmq ROUTER linked with one peer per ``(impl, type, options)`` over
    ``transport``, handshakes done."""
    async with trio_zmq.open_socket(ROUTER, **router_options) as router, AsyncExitStack() as stack:
        peers = [await open_peer(stack, zctx, impl, t, **opts) for impl, t, opts in specs]
        await link(router, peers, direction, transport)
        yield router, peers


def dealers(impl: str, ids: Sequence[bytes | None], **options: Any) -> list[Spec]:
    """Specs for DEALERs with these routing ids (None: let the ROUTER choose)."""
    return [
        (impl, DEALER, {**options, **({} if rid is None else {"routing_id": rid})}) for rid in ids
    ]


async def assert_nothing_arrives(peer: Peer, seconds: float = 0.1) -> None:
    """Check that no message comes to ``peer`` within ``seconds`` (a sleep that waits for
    nothing: the only kind these tests use)."""
    if isinstance(peer, trio_zmq.Socket):
        with trio.move_on_after(seconds):
            got = await peer.recv_multipart()
            raise AssertionError(f"unexpected message {got!r}")
    else:  # no worker thread is using the libzmq socket now
        assert not await trio.to_thread.run_sync(peer.sock.poll, round(seconds * 1000))


def is_auto_id(routing_id: bytes) -> bool:
    """libzmq's generated routing ids: 5 bytes, 0x00 then a counter (otherwise opaque)."""
    return len(routing_id) == 5 and routing_id[0] == 0


# --- test_spec_router: fair-queuing in, routing out -----------------------------------------


@impl_param
@direction_param
async def test_fair_queuing_in_with_the_routing_id_prepended(
    zctx: zmq.Context[Any], impl: str, direction: str, transport: str
) -> None:
    ids = [b"A", b"B", b"C", b"D", b"E"]
    per_peer = 4
    with trio.fail_after(15):
        async with router_with_peers(zctx, direction, dealers(impl, ids), transport=transport) as (
            router,
            peers,
        ):
            for _ in range(2):
                await peers[0].send_multipart([b"M"])
                assert await router.recv_multipart() == [b"A", b"M"]
            for i in range(per_peer):
                for peer in peers:
                    await peer.send_multipart([b"M", b"%d" % i])
            await wait_until(lambda: router.statistics().queued_inbound == len(ids) * per_peer)
            got = [await router.recv_multipart() for _ in range(len(ids) * per_peer)]
            with pytest.raises(trio.WouldBlock):
                router.recv_multipart_nowait()
    for rid in ids:
        assert [m[1:] for m in got if m[0] == rid] == [[b"M", b"%d" % i] for i in range(per_peer)]
    senders = [m[0] for m in got]
    for i in range(len(senders) - len(ids) + 1):  # one message from each peer in turn
        assert sorted(senders[i : i + len(ids)]) == ids, senders


@impl_param
@direction_param
async def test_routing_out_by_the_first_frame(
    zctx: zmq.Context[Any], impl: str, direction: str, transport: str
) -> None:
    ids = [b"A", b"B", b"C"]
    plan = [b"B", b"A", b"C", b"C", b"A", b"B", b"B"]
    with trio.fail_after(15):
        async with router_with_peers(zctx, direction, dealers(impl, ids), transport=transport) as (
            router,
            peers,
        ):
            for n, rid in enumerate(plan):
                await router.send_multipart([rid, b"", b"to", rid, b"%d" % n, b""])
            for rid, peer in zip(ids, peers, strict=True):
                expected = [
                    [b"", b"to", rid, b"%d" % n, b""] for n, r in enumerate(plan) if r == rid
                ]
                assert [await peer.recv_multipart() for _ in expected] == expected
            for peer in peers:
                await assert_nothing_arrives(peer, 0.05)
            assert router.statistics().messages_dropped == 0


# --- routing ids: the peer's own (READY Identity), or a generated one -------------------


@impl_param
@direction_param
@pytest.mark.parametrize("peer_type", [DEALER, REQ, ROUTER], ids=lambda t: t.name)
async def test_the_peer_routing_id_from_its_ready_is_used(
    zctx: zmq.Context[Any],
    impl: str,
    direction: str,
    peer_type: trio_zmq.SocketType,
    transport: str,
) -> None:
    peer_id = b"peer \x00\xff id"
    with trio.fail_after(15):
        async with router_with_peers(
            zctx,
            direction,
            [(impl, peer_type, {"routing_id": peer_id})],
            routing_id=b"router-id",
            transport=transport,
        ) as (router, [peer]):
            if peer_type is ROUTER:
                # The peer ROUTER knows us by our routing id (sent in our READY).
                await router.send_multipart([peer_id, b"hello"])
                assert await peer.recv_multipart() == [b"router-id", b"hello"]
                await peer.send_multipart([b"router-id", b"reply"])
                assert await router.recv_multipart() == [peer_id, b"reply"]
                return
            await peer.send_multipart([b"hello", b"world"])
            envelope = [b""] if peer_type is REQ else []
            assert await router.recv_multipart() == [peer_id, *envelope, b"hello", b"world"]
            await router.send_multipart([peer_id, *envelope, b"reply"])
            assert await peer.recv_multipart() == [b"reply"]


@libzmq_transports
@direction_param
@pytest.mark.parametrize("peer_type", [DEALER, REQ, ROUTER], ids=lambda t: t.name)
async def test_a_libzmq_router_uses_the_routing_id_of_a_trio_peer(
    zctx: zmq.Context[Any], direction: str, peer_type: trio_zmq.SocketType, transport: str
) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.ROUTER, routing_id=b"zr") as zrouter:
        async with trio_zmq.open_socket(peer_type, routing_id=b"trio-peer") as peer:
            if direction == "router_binds":
                peer.connect(zrouter.bind(transport))
            else:
                zrouter.connect(await peer.bind(bind_endpoint(transport)))
            if peer_type is ROUTER:
                await wait_for_peers(peer, 1)
                await peer.send_multipart([b"zr", b"hello"])
            else:
                await peer.send(b"hello")
            envelope = [b""] if peer_type is REQ else []
            assert await zrouter.recv_multipart() == [b"trio-peer", *envelope, b"hello"]
            await zrouter.send_multipart([b"trio-peer", *envelope, b"reply"])
            expected = [b"zr", b"reply"] if peer_type is ROUTER else [b"reply"]
            assert await peer.recv_multipart() == expected


@impl_param
@direction_param
async def test_a_peer_without_a_routing_id_gets_a_unique_generated_one(
    zctx: zmq.Context[Any], impl: str, direction: str, transport: str
) -> None:
    n = 4
    specs: list[Spec] = [*dealers(impl, [None] * (n - 1)), (impl, REQ, {})]
    with trio.fail_after(15):
        async with router_with_peers(zctx, direction, specs, transport=transport) as (
            router,
            peers,
        ):
            for i, peer in enumerate(peers):
                await peer.send_multipart([b"%d" % i])
            ids: dict[int, bytes] = {}
            for _ in range(n):
                rid, *rest = await router.recv_multipart()
                ids[int(rest[-1])] = rid
                assert rest in ([rest[-1]], [b"", rest[-1]])
            assert all(is_auto_id(rid) for rid in ids.values()), ids
            assert len(set(ids.values())) == n
            for i in reversed(range(n)):
                envelope = [b""] if i == n - 1 else []
                await router.send_multipart([ids[i], *envelope, b"for %d" % i])
            for i, peer in enumerate(peers):
                assert await peer.recv_multipart() == [b"for %d" % i]


@pytest.mark.parametrize(
    ("properties", "expected_id"),
    [
        ({}, None),  # no Identity property at all: a generated id
        ({"Identity": b""}, None),
        ({"Identity": b"raw-peer"}, b"raw-peer"),
    ],
    ids=["no_identity", "empty_identity", "identity"],
)
async def test_identity_in_a_raw_ready(
    properties: dict[str, bytes], expected_id: bytes | None
) -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(ROUTER) as router:
            endpoint = await router.bind(LOOPBACK)
            async with await trio.open_tcp_stream(*tcp_address(endpoint)) as stream:
                await stream.send_all(greeting() + ready(b"DEALER", **properties))
                reader = RawReader(stream)
                await reader.read_exactly(64)
                router_ready = await reader.read_frame()
                assert b"\x08Identity\x00\x00\x00\x00" in router_ready  # ours is empty
                await stream.send_all(message(b"", b"hi"))
                rid, *rest = await router.recv_multipart()
                assert rest == [b"", b"hi"]
                if expected_id is None:
                    assert is_auto_id(rid), rid
                else:
                    assert rid == expected_id
                await router.send_multipart([rid, b"reply", b""])
                assert await reader.read_frame() == b"\x01\x05reply"
                assert await reader.read_frame() == b"\x00\x00"


@pytest.mark.transport_skip("inproc", reason=NO_INPROC_RECONNECT)
@impl_param
async def test_a_reconnected_peer_keeps_its_routing_id(
    zctx: zmq.Context[Any], impl: str, transport: str
) -> None:
    """libzmq assumes a peer it reconnects to kept its routing id (router.cpp)."""
    with trio.fail_after(15):
        async with trio_zmq.open_socket(
            ROUTER, router_mandatory=True, reconnect_ivl=0.02
        ) as router:
            async with AsyncExitStack() as stack:
                first = await open_peer(stack, zctx, impl, DEALER, routing_id=b"A")
                endpoint = await bind_peer(first, transport, rebindable=True)
                router.connect(endpoint)
                await first.send_multipart([b"one"])
                assert await router.recv_multipart() == [b"A", b"one"]
            await wait_until(lambda: router.statistics().peers == 0)
            async with AsyncExitStack() as stack:
                second = await open_peer(stack, zctx, impl, DEALER, routing_id=b"B")
                if isinstance(second, trio_zmq.Socket):
                    await second.bind(endpoint)
                else:
                    second.bind_to(endpoint)
                await second.send_multipart([b"two"])
                assert await router.recv_multipart() == [b"A", b"two"]
                with pytest.raises(trio_zmq.HostUnreachable):
                    router.send_multipart_nowait([b"B", b"unknown"])
                await router.send_multipart([b"A", b"to A"])
                assert await second.recv_multipart() == [b"to A"]


# --- unroutable messages: dropped and counted, or HostUnreachable with router_mandatory ---


@impl_param
@direction_param
async def test_an_unknown_routing_id_is_dropped_and_counted(
    zctx: zmq.Context[Any], impl: str, direction: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with router_with_peers(
            zctx, direction, dealers(impl, [b"X"]), transport=transport
        ) as (router, [peer]):
            await router.send_multipart([b"UNKNOWN", b"DATA"])
            router.send_multipart_nowait([b"Y", b"DATA"])
            await router.send_multipart([b"", b"DATA"])
            stats = router.statistics()
            assert stats.messages_dropped == 3
            assert stats.queued_outbound == 0
            await router.send_multipart([b"X", b"Hello"])
            assert await peer.recv_multipart() == [b"Hello"]
            await assert_nothing_arrives(peer, 0.05)
            assert router.statistics().messages_dropped == 3
            router.router_mandatory = True  # as in libzmq, it can be set at any time
            with pytest.raises(trio_zmq.HostUnreachable):
                await router.send_multipart([b"UNKNOWN", b"DATA"])
            assert router.statistics().messages_dropped == 3


@impl_param
@direction_param
async def test_router_mandatory_raises_host_unreachable_and_sends_nothing(
    zctx: zmq.Context[Any], impl: str, direction: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with router_with_peers(
            zctx, direction, dealers(impl, [b"X"]), router_mandatory=True, transport=transport
        ) as (router, [peer]):
            before = router.statistics()
            with pytest.raises(trio_zmq.HostUnreachable):
                await router.send_multipart([b"UNKNOWN", b"DATA"])
            with pytest.raises(trio_zmq.HostUnreachable):
                router.send_multipart_nowait([b"UNKNOWN", b"DATA"])
            with pytest.raises(trio_zmq.ZMQError):  # part of the error tree
                router.send_multipart_nowait([b"x", b"DATA"])
            after = router.statistics()
            assert after.messages_sent == before.messages_sent
            assert after.bytes_sent == before.bytes_sent
            assert after.queued_outbound == 0
            assert after.messages_dropped == 0  # refused, not dropped
            await router.send_multipart([b"X", b"Hello"])
            assert await peer.recv_multipart() == [b"Hello"]
            await assert_nothing_arrives(peer, 0.05)


@impl_param
@pytest.mark.parametrize("unread", [False, True], ids=["all_read", "unread_messages"])
async def test_router_mandatory_and_a_peer_that_has_gone(
    zctx: zmq.Context[Any], impl: str, unread: bool, transport: str
) -> None:
    """A peer that disconnected is unreachable at once, even if its last messages are
    still unread (libzmq 4.3.5: check_write fails on a terminating pipe that is not
    full, so EHOSTUNREACH, and the unread messages stay readable)."""
    with trio.fail_after(10):
        async with trio_zmq.open_socket(ROUTER, router_mandatory=True) as router:
            endpoint = await router.bind(bind_endpoint(transport))
            async with AsyncExitStack() as stack:
                peer = await open_peer(stack, zctx, impl, DEALER, routing_id=b"X")
                peer.connect(endpoint)
                await peer.send_multipart([b"last words"])
                await wait_until(lambda: router.statistics().queued_inbound == 1)
                if not unread:
                    assert await router.recv_multipart() == [b"X", b"last words"]
            await wait_until(lambda: router.statistics().peers == 0)
            with pytest.raises(trio_zmq.HostUnreachable):
                router.send_multipart_nowait([b"X", b"reply"])
            with trio.fail_after(1), pytest.raises(trio_zmq.HostUnreachable):
                await router.send_multipart([b"X", b"reply"])
            if unread:
                assert await router.recv_multipart() == [b"X", b"last words"]
            assert router.statistics().queued_outbound == 0


@impl_param
@pytest.mark.parametrize("mandatory", [False, True])
async def test_a_routing_id_with_nothing_after_it_is_dropped(
    zctx: zmq.Context[Any], impl: str, mandatory: bool, transport: str
) -> None:
    """libzmq ignores a routing-id frame without MORE, even with router_mandatory."""
    with trio.fail_after(10):
        async with router_with_peers(
            zctx,
            "router_binds",
            dealers(impl, [b"X"]),
            router_mandatory=mandatory,
            transport=transport,
        ) as (router, [peer]):
            await router.send(b"X")
            router.send_nowait(b"X")
            await router.send_multipart([b"X"])
            router.send_multipart_nowait([b"unknown"])
            assert router.statistics().messages_dropped == 4
            assert router.statistics().queued_outbound == 0
            await router.send_multipart([b"X", b"whole"])
            assert await peer.recv_multipart() == [b"whole"]
            await assert_nothing_arrives(peer, 0.05)


# --- a full peer: router_mandatory waits (test_router_mandatory_hwm), otherwise drops ----

BIG = b"\xab" * 65536


async def fill_until_blocked(router: trio_zmq.Socket, rid: bytes) -> int:
    """Send to ``rid`` until sends stop going through; return how many went."""
    sent = 0
    while True:
        with trio.move_on_after(0.2) as scope:  # no progress for this long: full
            await router.send_multipart([rid, b"%d" % sent, BIG])
        if scope.cancelled_caught:  # a cancelled send has sent nothing
            return sent
        sent += 1


@impl_param
@direction_param
async def test_router_mandatory_waits_for_room_at_a_full_peer(
    zctx: zmq.Context[Any], impl: str, direction: str, transport: str
) -> None:
    specs: list[Spec] = [
        (impl, DEALER, {"routing_id": b"X", "rcvhwm": 1}),
        (impl, DEALER, {"routing_id": b"Y"}),
    ]
    with trio.fail_after(20):
        async with router_with_peers(
            zctx, direction, specs, router_mandatory=True, sndhwm=1, transport=transport
        ) as (
            router,
            [slow, other],
        ):
            await slow.send_multipart([b"Hello"])
            assert await router.recv_multipart() == [b"X", b"Hello"]
            sent = await fill_until_blocked(router, b"X")
            assert 0 < sent < 500  # the kernel's buffers, one message in each HWM
            before = router.statistics()
            with pytest.raises(trio.WouldBlock):
                router.send_multipart_nowait([b"X", b"no room"])
            assert router.statistics().messages_sent == before.messages_sent
            # Only that peer is full: others are served.
            router.send_multipart_nowait([b"Y", b"free"])
            assert await other.recv_multipart() == [b"free"]

            done = trio.Event()

            async def blocked_send() -> None:
                await router.send_multipart([b"X", b"last", b""])
                done.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(blocked_send)
                await trio.sleep(0.1)
                assert not done.is_set()
                if isinstance(slow, LibzmqSocket):
                    got = await slow.recv_many(sent + 1)
                else:
                    got = [await slow.recv_multipart() for _ in range(sent + 1)]
            assert got == [*([b"%d" % i, BIG] for i in range(sent)), [b"last", b""]]
            assert router.statistics().messages_dropped == 0


@impl_param
@direction_param
async def test_without_mandatory_a_full_peer_drops_and_counts(
    zctx: zmq.Context[Any], impl: str, direction: str, transport: str
) -> None:
    specs: list[Spec] = [(impl, DEALER, {"routing_id": b"X", "rcvhwm": 1})]
    with trio.fail_after(20):
        async with router_with_peers(zctx, direction, specs, sndhwm=1, transport=transport) as (
            router,
            [slow],
        ):
            await slow.send_multipart([b"Hello"])
            assert await router.recv_multipart() == [b"X", b"Hello"]
            sent = 0
            while router.statistics().messages_dropped < 20:  # never blocks
                await router.send_multipart([b"X", b"%d" % sent, BIG])
                sent += 1
                assert sent < 5000
            dropped = router.statistics().messages_dropped
            if isinstance(slow, LibzmqSocket):
                got = await slow.recv_many(sent - dropped)
            else:
                got = [await slow.recv_multipart() for _ in range(sent - dropped)]
            numbers = [int(m[0]) for m in got]
            assert numbers == sorted(set(numbers))  # in order, each once
            assert all(m[1] == BIG for m in got)
            await assert_nothing_arrives(slow, 0.1)


# --- router_handover (test_router_handover) --------------------------------------------


@impl_param
@direction_param
async def test_router_handover_gives_the_routing_id_to_the_newcomer(
    zctx: zmq.Context[Any], impl: str, direction: str, transport: str
) -> None:
    """The second peer named X takes X over, for good.

    libzmq 4.3.5 terminates the first peer's pipe but leaves its TCP connection
    open, so nothing from it is delivered any more and, above all, it does not
    reconnect and take X back. The first peer reconnects quickly here, so a
    handover that is undone by a reconnection would show. Over inproc the pipe
    is the link: the first peer is left with none.
    """
    options = {"routing_id": b"X", "reconnect_ivl": 0.01}
    with trio.fail_after(15):
        async with (
            trio_zmq.open_socket(ROUTER, router_handover=True) as router,
            AsyncExitStack() as stack,
        ):
            first = await open_peer(stack, zctx, impl, DEALER, timeout=2.0, **options)
            second = await open_peer(stack, zctx, impl, DEALER, timeout=2.0, **options)
            await link(router, [first], direction, transport=transport)
            await first.send_multipart([b"one"])
            assert await router.recv_multipart() == [b"X", b"one"]
            await link(router, [second], direction, transport=transport)
            await second.send_multipart([b"two"])
            assert await router.recv_multipart() == [b"X", b"two"]
            await trio.sleep(0.3)  # time for the first peer to reconnect: it must not matter
            for i in range(3):
                await router.send_multipart([b"X", b"%d" % i])
            with trio.fail_after(3):  # libzmq peers time out first (2 s)
                for i in range(3):
                    assert await second.recv_multipart() == [b"%d" % i]
            await assert_nothing_arrives(first)
            if transport == "inproc":  # the ROUTER ended the pipe, and so the link, at both ends
                assert isinstance(first, trio_zmq.Socket)
                assert first.statistics().peers == 0
                with pytest.raises(trio.WouldBlock):  # a DEALER without peers holds its sends
                    first.send_multipart_nowait([b"late"])
            elif direction == "router_binds":  # the first peer (connected) may still send
                await first.send_multipart([b"late"])
                with trio.move_on_after(0.2):
                    got = await router.recv_multipart()
                    raise AssertionError(f"the replaced peer got through: {got!r}")


@impl_param
@direction_param
async def test_without_handover_a_duplicate_routing_id_is_left_unidentified(
    zctx: zmq.Context[Any], impl: str, direction: str, transport: str
) -> None:
    with trio.fail_after(15):
        async with router_with_peers(
            zctx, direction, dealers(impl, [b"X"]), transport=transport
        ) as (router, [first]):
            await first.send_multipart([b"one"])
            assert await router.recv_multipart() == [b"X", b"one"]
            async with AsyncExitStack() as stack:
                second = await open_peer(stack, zctx, impl, DEALER, routing_id=b"X")
                await link(
                    router, [second], direction, transport=transport
                )  # handshaken, as libzmq does...
                await second.send_multipart([b"two"])  # ...but never identified
                await wait_until(lambda: router.statistics().messages_dropped == 1)
                with pytest.raises(trio.WouldBlock):
                    router.recv_multipart_nowait()
                await router.send_multipart([b"X", b"Hello"])
                assert await first.recv_multipart() == [b"Hello"]
                await assert_nothing_arrives(second)
                await first.send_multipart([b"three"])
                assert await router.recv_multipart() == [b"X", b"three"]


# --- probe_router (test_probe_router) -----------------------------------------------------


@impl_param
@direction_param
@pytest.mark.parametrize("prober_type", [ROUTER, DEALER], ids=lambda t: t.name)
async def test_a_probing_peer_announces_itself_to_the_router(
    zctx: zmq.Context[Any],
    impl: str,
    direction: str,
    prober_type: trio_zmq.SocketType,
    transport: str,
) -> None:
    specs: list[Spec] = [(impl, prober_type, {"routing_id": b"X", "probe_router": True})]
    with trio.fail_after(10):
        async with router_with_peers(zctx, direction, specs, transport=transport) as (
            router,
            [prober],
        ):
            if isinstance(prober, LibzmqSocket):
                # A libzmq socket attaches a pipe it accepted (and writes its probe)
                # only when the application calls into it: make it process commands.
                def probed() -> bool:
                    prober.sock.getsockopt(zmq.EVENTS)
                    return router.statistics().queued_inbound > 0

                await wait_until(probed)
            assert await router.recv_multipart() == [b"X", b""]
            await router.send_multipart([b"X", b"Hello"])
            got = await prober.recv_multipart()
            if prober_type is ROUTER:  # it named us: we sent an empty Identity
                assert is_auto_id(got[0]), got
                assert got[1:] == [b"Hello"]
            else:
                assert got == [b"Hello"]


@libzmq_transports
@direction_param
@pytest.mark.parametrize("prober_type", [ROUTER, DEALER], ids=lambda t: t.name)
async def test_a_trio_peer_probes_a_libzmq_router(
    zctx: zmq.Context[Any], direction: str, prober_type: trio_zmq.SocketType, transport: str
) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.ROUTER) as zrouter:
        async with trio_zmq.open_socket(prober_type, routing_id=b"X", probe_router=True) as prober:
            if direction == "router_binds":
                prober.connect(zrouter.bind(transport))
            else:
                zrouter.connect(await prober.bind(bind_endpoint(transport)))
            assert await zrouter.recv_multipart() == [b"X", b""]
            await zrouter.send_multipart([b"X", b"Hello"])
            got = await prober.recv_multipart()
            if prober_type is ROUTER:
                assert is_auto_id(got[0]), got
                assert got[1:] == [b"Hello"]
            else:
                assert got == [b"Hello"]


@impl_param
@direction_param
async def test_a_probing_router_probes_every_peer(
    zctx: zmq.Context[Any], impl: str, direction: str, transport: str
) -> None:
    ids = [b"A", b"B", b"C"]
    specs: list[Spec] = [(impl, ROUTER, {"routing_id": rid}) for rid in ids]
    with trio.fail_after(10):
        async with router_with_peers(
            zctx, direction, specs, routing_id=b"prober", probe_router=True, transport=transport
        ) as (router, peers):
            for peer in peers:
                assert await peer.recv_multipart() == [b"prober", b""]
                await peer.send_multipart([b"prober", b"seen"])
            got = sorted([await router.recv_multipart() for _ in peers])
            assert got == [[rid, b"seen"] for rid in ids]


# --- Hypothesis: random envelopes through DEALER and ROUTER --------------------------------

frame_st = st.one_of(st.just(b""), st.binary(max_size=12), st.binary(min_size=250, max_size=300))
message_st = st.lists(frame_st, min_size=1, max_size=5)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    impls=st.lists(st.sampled_from(IMPLS), min_size=1, max_size=4),
    named=st.lists(st.booleans(), min_size=4, max_size=4),
    direction=st.sampled_from(DIRECTIONS),
    data=st.data(),
)
async def test_random_envelopes_reach_the_right_dealer_intact(
    zctx: zmq.Context[Any],
    impls: list[str],
    named: list[bool],
    direction: str,
    data: st.DataObject,
    transport: str,
) -> None:
    """Each dealer's requests reach the ROUTER named and whole, and each reply its dealer.

    Over inproc every dealer is trio_zmq's (libzmq cannot join an inproc link).
    """
    if transport == "inproc":
        impls = ["trio"] * len(impls)
    n = len(impls)
    requests = data.draw(st.lists(st.tuples(st.integers(0, n - 1), message_st), max_size=12))
    replies = data.draw(st.lists(st.lists(message_st, max_size=4), min_size=n, max_size=n))
    specs: list[Spec] = [
        (impl, DEALER, {"routing_id": b"dealer-%d" % i} if named[i] else {})
        for i, impl in enumerate(impls)
    ]
    with trio.fail_after(15):
        async with router_with_peers(zctx, direction, specs, transport=transport) as (
            router,
            peers,
        ):
            # Learn each dealer's routing id.
            ids: dict[bytes, int] = {}
            for i, peer in enumerate(peers):
                await peer.send_multipart([b"hello %d" % i])
                rid, hello = await router.recv_multipart()
                assert hello == b"hello %d" % i
                assert (rid == b"dealer-%d" % i) if named[i] else is_auto_id(rid)
                ids[rid] = i

            # Every dealer sends its requests at once; each arrives whole, in order, named.
            async with trio.open_nursery() as nursery:
                for i, peer in enumerate(peers):
                    mine = [msg for d, msg in requests if d == i]
                    if isinstance(peer, LibzmqSocket):
                        nursery.start_soon(peer.send_many, mine)
                    else:
                        for msg in mine:
                            peer.send_multipart_nowait(msg)
            received: list[list[list[bytes]]] = [[] for _ in peers]
            for _ in requests:
                rid, *frames = await router.recv_multipart()
                received[ids[rid]].append(frames)
            for i in range(n):
                assert received[i] == [msg for d, msg in requests if d == i]

            # Replies with random envelopes go back to the right dealer, exactly as sent.
            by_id = {i: rid for rid, i in ids.items()}
            for i in random.Random(len(requests)).sample(range(n), n):
                for reply in replies[i]:
                    router.send_multipart_nowait([by_id[i], *reply])
            for i, peer in enumerate(peers):
                if isinstance(peer, LibzmqSocket):
                    got = await peer.recv_many(len(replies[i]))
                else:
                    got = [await peer.recv_multipart() for _ in replies[i]]
                assert got == replies[i]
            assert router.statistics().messages_dropped == 0


# --- cancelled receives lose nothing ----------------------------------------------------


def payload_for(peer: int, seq: int) -> bytes:
    size = (0, 1, 40, 300, 5000)[(peer * 7 + seq) % 5]
    return bytes([(peer + seq) % 256]) * size


@pytest.mark.parametrize("seed", range(2))
@direction_param
async def test_randomly_cancelled_receives_lose_nothing(
    zctx: zmq.Context[Any], seed: int, direction: str, transport: str
) -> None:
    """Two trio_zmq and two libzmq dealers (over inproc, four trio_zmq ones)."""
    rng = random.Random(seed)
    count = 400
    impls = ["trio", "libzmq", "trio", "libzmq"] if transport != "inproc" else ["trio"] * 4
    specs: list[Spec] = [(impl, DEALER, {"routing_id": b"p%d" % i}) for i, impl in enumerate(impls)]
    received: dict[bytes, list[int]] = {b"p%d" % i: [] for i in range(len(impls))}
    cancelled = 0
    with trio.fail_after(20):
        async with router_with_peers(zctx, direction, specs, rcvhwm=20, transport=transport) as (
            router,
            peers,
        ):

            async def send_all(i: int, peer: Peer) -> None:
                msgs = [[b"%d" % i, b"%d" % seq, payload_for(i, seq)] for seq in range(count)]
                if isinstance(peer, LibzmqSocket):
                    await peer.send_many(msgs)
                else:
                    for msg in msgs:
                        await peer.send_multipart(msg)

            async with trio.open_nursery() as nursery:
                for i, peer in enumerate(peers):
                    nursery.start_soon(send_all, i, peer)
                total = 0
                while total < count * len(peers):
                    timeout = rng.choice((0, 0, 1e-6, 1e-5, 1e-4, 1e-3))
                    with trio.move_on_after(timeout) as scope:
                        if rng.random() < 0.5:
                            msg = await router.recv_multipart()
                        else:
                            msg = await router.__anext__()
                        rid, sender, seq, body = msg
                        assert rid == b"p" + sender
                        assert body == payload_for(int(sender), int(seq))
                        received[rid].append(int(seq))
                        total += 1
                    cancelled += scope.cancelled_caught
            with pytest.raises(trio.WouldBlock):
                router.recv_multipart_nowait()
    for seqs in received.values():
        assert seqs == list(range(count))
    assert cancelled > 0  # the test did cancel receives


# --- one ROUTER, a hundred DEALERs ---------------------------------------------------------


def libzmq_requests_and_replies(
    socks: Sequence[LibzmqSocket], requests: Sequence[list[list[bytes]]], timeout: float
) -> list[list[list[bytes]]]:
    """In one worker thread: send each socket's requests, then collect as many replies."""
    for sock, msgs in zip(socks, requests, strict=True):
        for msg in msgs:
            sock.sock.send_multipart(msg)
    replies: list[list[list[bytes]]] = [[] for _ in socks]
    poller = zmq.Poller()
    index = {}
    for i, sock in enumerate(socks):
        poller.register(sock.sock, zmq.POLLIN)
        index[sock.sock] = i
    missing = sum(map(len, requests))
    while missing:
        events = poller.poll(round(timeout * 1000))
        if not events:
            raise TimeoutError(f"{missing} replies did not come")
        for zsock, _ in events:
            replies[index[zsock]].append(zsock.recv_multipart(zmq.NOBLOCK))
            missing -= 1
    return replies


@direction_param
async def test_one_router_serves_a_hundred_trio_and_libzmq_dealers(
    zctx: zmq.Context[Any], direction: str, transport: str
) -> None:
    """Half the dealers are libzmq's, but over inproc (which libzmq cannot join)."""
    n, rounds = 100, 3
    impls = ["trio", "libzmq" if transport != "inproc" else "trio"] * (n // 2)
    # Half name themselves, half are named by the ROUTER.
    specs: list[Spec] = [
        (impl, DEALER, {"routing_id": b"dealer-%03d" % i} if i % 4 < 2 else {})
        for i, impl in enumerate(impls)
    ]
    requests = [[[b"request", b"%d" % i, b"%d" % r] for r in range(rounds)] for i in range(n)]
    with trio.fail_after(30):
        async with router_with_peers(zctx, direction, specs, transport=transport) as (
            router,
            peers,
        ):
            seen: dict[int, bytes] = {}

            async def serve() -> None:
                for _ in range(n * rounds):
                    rid, kind, i, r = await router.recv_multipart()
                    assert kind == b"request"
                    assert seen.setdefault(int(i), rid) == rid  # one id per dealer
                    await router.send_multipart([rid, b"", b"reply", i, r])

            trio_replies: dict[int, list[list[bytes]]] = {}

            async def trio_dealer(i: int, dealer: trio_zmq.Socket) -> None:
                for msg in requests[i]:
                    await dealer.send_multipart(msg)
                trio_replies[i] = [await dealer.recv_multipart() for _ in range(rounds)]

            zpeers = [(i, p) for i, p in enumerate(peers) if isinstance(p, LibzmqSocket)]
            async with trio.open_nursery() as nursery:
                nursery.start_soon(serve)
                for i, peer in enumerate(peers):
                    if isinstance(peer, trio_zmq.Socket):
                        nursery.start_soon(trio_dealer, i, peer)
                zreplies = await trio.to_thread.run_sync(
                    libzmq_requests_and_replies,
                    [p for _, p in zpeers],
                    [requests[i] for i, _ in zpeers],
                    10.0,
                )
            all_replies = {**trio_replies, **{i: zreplies[k] for k, (i, _) in enumerate(zpeers)}}
            assert router.statistics().messages_dropped == 0
    assert len(seen) == n
    assert len(set(seen.values())) == n
    for i in range(n):
        assert all_replies[i] == [[b"", b"reply", b"%d" % i, b"%d" % r] for r in range(rounds)]
        assert (seen[i] == b"dealer-%03d" % i) if i % 4 < 2 else is_auto_id(seen[i])
