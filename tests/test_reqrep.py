"""REQ, REP and DEALER against trio_zmq and against libzmq: traffic, cancellation, bad peers.

libzmq's own spec tests, re-expressed, are in ``test_spec_reqrep.py``; this
file holds what both files share beyond ``peers.py`` (``link``, ``recv_any``)
and the scenarios beyond the spec:

* many round trips, content checked, trio_zmq and libzmq in each role;
* a REQ whose ``recv`` is cancelled still gets its reply (DESIGN 3.3), also
  under random cancellation, with and without ``req_relaxed``;
* a REQ whose peer sends a reply with a malformed envelope drops that
  connection and does not reconnect, as libzmq's REQ (digest 3.2);
* REP replying to a peer that has gone, or that does not read: the reply is
  dropped and counted, and ``send`` never blocks (a REP that connected keeps
  the reply for the reconnection instead, as libzmq's does);
* the bytes REQ, REP and DEALER put on the wire, compared with libzmq's;
* a bound REQ whose asked peer has gone; request-id wrap-around; two REQ
  peers with one routing id on a REP (a difference from libzmq, pinned down).

Every scenario runs against a trio_zmq peer and a libzmq peer (pyzmq), in
both bind directions, over tcp, ipc and inproc (the ``transport`` fixture;
inproc with trio_zmq peers only); the raw ZMTP ones over tcp. The socket
under test is trio_zmq's unless a test says it runs libzmq too, as the
reference.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq

from .helpers import (
    NO_INPROC_RECONNECT,
    bind_endpoint,
    libzmq_transports,
    rebindable_endpoint,
    wait_for_peers,
    wait_until,
)
from .libzmq_peer import (
    MORE,
    RawReader,
    greeting,
    message,
    ready,
    tcp_address,
)
from .peers import PAIRINGS, STOP, Message, Peer, connect_all, open_peers

#: The implementation of the peer(s) of the trio_zmq socket under test.
peer_param = pytest.mark.parametrize("peer", ["trio", "libzmq"])
#: Who binds: the socket under test (its peers connect), or its peers.
binds_param = pytest.mark.parametrize("binds", ["sut_binds", "peer_binds"])


async def link(sut: Peer, peers: Sequence[Peer], binds: str) -> None:
    """Connect ``sut`` with each of ``peers``; wait for the handshakes trio_zmq can see.

    ``binds`` is "sut_binds" (the peers connect to ``sut``) or "peer_binds".
    """
    if binds == "sut_binds":
        await connect_all([sut], peers)
    else:
        await connect_all(peers, [sut])


async def recv_any(
    peers: Sequence[Peer], *, skip: Collection[int] = (), poke: Peer | None = None
) -> tuple[int, Message]:
    """Wait for a message on any of ``peers`` but those in ``skip``; return (index, message).

    ``poke``: a libzmq socket to keep processing its commands meanwhile.
    """
    while True:
        if poke is not None:
            poke.poke()
        for i, peer in enumerate(peers):
            if i in skip:
                continue
            msg = peer.recv_nowait()
            if msg is not None:
                return i, msg
        await trio.sleep(0.002)


def payload(i: int) -> bytes:
    """Sizes around the short/long frame boundary and a few larger ones."""
    size = (0, 1, 255, 256, 3000)[i % 5]
    return random.Random(i).randbytes(size)


def echo(msg: Message) -> Message:
    return [b"re", *msg]


# --- many round trips -------------------------------------------------------------------


@pytest.mark.parametrize(("req_impl", "rep_impl"), PAIRINGS)
@pytest.mark.parametrize("binds", ["req_binds", "rep_binds"])
async def test_a_thousand_round_trips(
    zctx: zmq.Context[Any], req_impl: str, rep_impl: str, binds: str, transport: str
) -> None:
    n = 1000
    requests = [[b"req", b"%d" % i, payload(i)] for i in range(n)]

    def answer(request: Message) -> Message:
        return [b"rep", request[1], request[2][::-1]]

    with trio.fail_after(20):
        async with (
            open_peers(zctx, req_impl, trio_zmq.REQ, transport=transport) as [req],
            open_peers(zctx, rep_impl, trio_zmq.REP, transport=transport) as [rep],
        ):
            await link(req, [rep], "sut_binds" if binds == "req_binds" else "peer_binds")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(rep.serve, answer, n)
                replies = await req.exchange(requests)
            for sock in (req, rep):
                if sock.is_trio:
                    stats = sock.trio.statistics()
                    assert (stats.messages_sent, stats.messages_received) == (n, n)
                    assert stats.messages_dropped == 0
    assert replies == [answer(r) for r in requests]


@pytest.mark.parametrize(("req_impl", "rep_impl"), PAIRINGS)
@binds_param
async def test_rep_answers_each_of_many_reqs(
    zctx: zmq.Context[Any], req_impl: str, rep_impl: str, binds: str, transport: str
) -> None:
    """Several REQs at once on one REP: each gets the answer to its own requests."""
    n, rounds = 5, 20
    with trio.fail_after(10):
        async with (
            open_peers(zctx, rep_impl, trio_zmq.REP, transport=transport) as [rep],
            open_peers(zctx, req_impl, trio_zmq.REQ, n, transport=transport) as reqs,
        ):
            await link(rep, reqs, binds)
            results: dict[int, list[Message]] = {}

            async def client(c: int) -> None:
                requests = [[b"%d" % c, b"%d" % r] for r in range(rounds)]
                results[c] = await reqs[c].exchange(requests)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(rep.serve, echo, n * rounds)
                for c in range(n):
                    nursery.start_soon(client, c)
    for c in range(n):
        assert results[c] == [[b"re", b"%d" % c, b"%d" % r] for r in range(rounds)]


# --- cancellation (DESIGN 3.3) ---------------------------------------------------------------


@peer_param
@binds_param
async def test_cancelled_req_recv_gets_the_reply_on_the_next_recv(
    zctx: zmq.Context[Any], peer: str, binds: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with (
            open_peers(zctx, "trio", trio_zmq.REQ, transport=transport) as [req],
            open_peers(zctx, peer, trio_zmq.REP, transport=transport) as [rep],
        ):
            await link(req, [rep], binds)
            sock = req.trio

            # Cancelled while parked, before the reply exists.
            await sock.send(b"one")
            assert await rep.recv() == [b"one"]
            async with trio.open_nursery() as nursery:

                async def parked_recv() -> None:
                    await sock.recv()
                    raise AssertionError("recv should have been cancelled")  # pragma: no cover

                nursery.start_soon(parked_recv)
                await trio.testing.wait_all_tasks_blocked()
                nursery.cancel_scope.cancel()
            with trio.move_on_after(0.05) as scope:  # and by a deadline
                await sock.recv()
            assert scope.cancelled_caught
            await rep.send(b"reply one")
            assert await sock.recv() == b"reply one"

            # Cancelled before it could take a reply that is already waiting.
            await sock.send(b"two")
            assert await rep.recv() == [b"two"]
            await rep.send(b"reply two")
            await wait_until(lambda: sock.statistics().queued_inbound == 1)
            for op in (sock.recv, sock.recv_multipart, sock.recv_string):
                with trio.CancelScope() as scope:
                    scope.cancel()
                    await op()
                assert scope.cancelled_caught
            assert sock.statistics().queued_inbound == 1
            assert await sock.recv_multipart() == [b"reply two"]

            # And the socket goes on alternating normally.
            with pytest.raises(trio_zmq.SocketStateError):
                sock.recv_nowait()
            await sock.send(b"three")
            assert await rep.recv() == [b"three"]
            await rep.send(b"reply three")
            assert await sock.recv() == b"reply three"
            assert sock.statistics().messages_dropped == 0


@peer_param
@binds_param
async def test_randomly_cancelled_req_recvs_lose_nothing(
    zctx: zmq.Context[Any], peer: str, binds: str, transport: str
) -> None:
    rng = random.Random(f"{peer}-{binds}")
    n = 200
    cancelled = 0
    with trio.fail_after(20):
        async with (
            open_peers(zctx, "trio", trio_zmq.REQ, transport=transport) as [req],
            open_peers(zctx, peer, trio_zmq.REP, transport=transport) as [rep],
        ):
            await link(req, [rep], binds)
            sock = req.trio
            async with trio.open_nursery() as nursery:
                nursery.start_soon(rep.serve, echo, n)
                for i in range(n):
                    await sock.send_multipart([b"%d" % i, payload(i)])
                    while True:
                        with trio.move_on_after(rng.choice((0, 0, 1e-5, 1e-4, 1e-3))) as scope:
                            reply = await sock.recv_multipart()
                        if not scope.cancelled_caught:
                            break
                        cancelled += 1
                    assert reply == [b"re", b"%d" % i, payload(i)]
            stats = sock.statistics()
            assert (stats.messages_dropped, stats.queued_inbound) == (0, 0)
            assert stats.messages_received == n
    assert cancelled > n // 4  # the test did cancel receives, many times


@peer_param
@binds_param
async def test_relaxed_req_giving_up_on_cancelled_recvs_never_takes_a_stale_reply(
    zctx: zmq.Context[Any], peer: str, binds: str, transport: str
) -> None:
    """req_relaxed + req_correlate: a request given up on has its late reply discarded."""
    rng = random.Random(f"relaxed-{peer}-{binds}")
    n = 200
    abandoned = 0
    with trio.fail_after(20):
        async with (
            open_peers(
                zctx,
                "trio",
                trio_zmq.REQ,
                req_relaxed=True,
                req_correlate=True,
                transport=transport,
            ) as [req],
            open_peers(zctx, peer, trio_zmq.REP, transport=transport) as [rep],
        ):
            await link(req, [rep], binds)
            sock = req.trio
            async with trio.open_nursery() as nursery:
                nursery.start_soon(rep.serve, echo)
                for i in range(n):
                    await sock.send_multipart([b"%d" % i])
                    while True:
                        with trio.move_on_after(rng.choice((0, 1e-5, 1e-4, 1e-3))) as scope:
                            reply = await sock.recv_multipart()
                        if not scope.cancelled_caught:
                            assert reply == [b"re", b"%d" % i]
                            break
                        if rng.random() < 0.3:  # give up: the next request goes out
                            abandoned += 1
                            break
                # The REP answers in order: once this reply is in, every late one is too.
                await sock.send_multipart(STOP)
                assert await sock.recv_multipart() == [b"re", *STOP]
            stats = sock.statistics()
    assert abandoned > 5
    assert stats.messages_dropped == abandoned
    assert stats.messages_received == n - abandoned + 1


# --- a REQ whose peer replies with a malformed envelope ------------------------------------

#: Replies whose envelope libzmq's req_session_t refuses (a protocol error).
MALFORMED_REPLIES = {
    "no_delimiter": [b"reply"],
    "lone_delimiter": [b""],
    "delimiter_last": [b"reply", b""],
    "three_byte_first_frame": [b"abc", b"", b"reply"],
    "id_without_delimiter": [b"abcd", b"reply"],
}


class RawRep:
    """A raw TCP peer that speaks ZMTP 3.1 as a REP and answers the first request as told."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.accepted = 0
        self.closed = 0
        self.requests: list[Message] = []
        self.peer_ready = b""

    async def handle(self, stream: trio.SocketStream) -> None:
        self.accepted += 1
        async with stream:
            reader = RawReader(stream)
            try:
                await stream.send_all(greeting() + ready(b"REP"))
                await reader.read_exactly(64)
                self.peer_ready = await reader.read_frame()
                request: Message = []
                while True:  # the frames of one message
                    frame = await reader.read_frame()
                    request.append(frame[2:])
                    if not frame[0] & MORE:
                        break
                self.requests.append(request)
                await stream.send_all(self.reply)
                await reader.read_until_closed()
            except (trio.BrokenResourceError, trio.ClosedResourceError, EOFError):
                pass
        self.closed += 1


@asynccontextmanager
async def raw_rep_listener(raw: RawRep) -> AsyncIterator[str]:
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, raw.handle, [listener])
        yield f"tcp://127.0.0.1:{port}"
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("client", ["trio", "libzmq"])
@pytest.mark.parametrize("reply", MALFORMED_REPLIES)
async def test_req_drops_a_peer_whose_reply_is_malformed_and_does_not_reconnect(
    zctx: zmq.Context[Any], client: str, reply: str
) -> None:
    raw = RawRep(message(*MALFORMED_REPLIES[reply]))
    with trio.fail_after(10):
        async with (
            raw_rep_listener(raw) as endpoint,
            open_peers(zctx, client, trio_zmq.REQ, reconnect_ivl=0.02) as [req],
        ):
            req.connect(endpoint)
            await req.send(b"hello")
            await wait_until(lambda: raw.closed == 1)  # the REQ hung up
            assert raw.requests == [[b"", b"hello"]]
            assert b"REQ" in raw.peer_ready
            if req.is_trio:
                await wait_until(lambda: req.trio.statistics().connected_endpoints == 0)
                stats = req.trio.statistics()
                assert (stats.protocol_errors, stats.peers) == (1, 0)
            # Checking for the absence of a reconnect (it would come within 40 ms).
            await trio.sleep(0.2)
            assert raw.accepted == 1
            assert req.recv_nowait() is None  # the malformed reply never reaches recv


@pytest.mark.parametrize("server", ["trio", "libzmq"])
@pytest.mark.parametrize("reply", ["no_delimiter", "three_byte_first_frame"])
async def test_bound_req_drops_a_connecting_peer_whose_reply_is_malformed(
    zctx: zmq.Context[Any], server: str, reply: str
) -> None:
    raw = RawRep(message(*MALFORMED_REPLIES[reply]))
    with trio.fail_after(10):
        async with open_peers(zctx, server, trio_zmq.REQ) as [req]:
            endpoint = await req.bind()
            async with (
                await trio.open_tcp_stream(*tcp_address(endpoint)) as stream,
                trio.open_nursery() as nursery,
            ):
                nursery.start_soon(raw.handle, stream)
                await req.send(b"hello")
            # raw.handle returned: the REQ closed the connection.
            assert raw.requests == [[b"", b"hello"]]
            assert raw.closed == 1
            if req.is_trio:
                await wait_until(lambda: req.trio.statistics().peers == 0)
                assert req.trio.statistics().protocol_errors == 1
            assert req.recv_nowait() is None


@pytest.mark.parametrize("client", ["trio", "libzmq"])
async def test_req_keeps_a_peer_whose_reply_is_well_formed_but_not_for_it(
    zctx: zmq.Context[Any], client: str
) -> None:
    """A 4-byte first frame passes libzmq's session check (it may be a request id):
    without req_correlate the REQ drops that message, not the connection."""
    raw = RawRep(message(b"abcd", b"", b"stale") + message(b"", b"good"))
    with trio.fail_after(10):
        async with (
            raw_rep_listener(raw) as endpoint,
            open_peers(zctx, client, trio_zmq.REQ) as [req],
        ):
            req.connect(endpoint)
            await req.send(b"hello")
            assert await req.recv() == [b"good"]
            assert (raw.accepted, raw.closed) == (1, 0)
            if req.is_trio:
                stats = req.trio.statistics()
                assert (stats.protocol_errors, stats.messages_dropped, stats.peers) == (0, 1, 1)


# --- REP replying to a peer that has gone or does not read ----------------------------------


@peer_param
@pytest.mark.parametrize("when", ["read_before_it_left", "read_after_it_left"])
async def test_rep_reply_to_a_peer_that_has_gone_is_dropped(
    zctx: zmq.Context[Any], peer: str, when: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with open_peers(zctx, "trio", trio_zmq.REP, transport=transport) as [rep]:
            sock = rep.trio
            endpoint = await rep.bind()
            async with open_peers(zctx, peer, trio_zmq.REQ, transport=transport) as [req]:
                req.connect(endpoint)
                await req.send(b"question")
                await wait_until(lambda: sock.statistics().queued_inbound == 1)
                if when == "read_before_it_left":
                    assert await sock.recv() == b"question"
            await wait_for_peers(sock, 0)
            if when == "read_after_it_left":
                assert await sock.recv() == b"question"  # still readable once it has gone
            sock.send_nowait(b"answer")  # never blocks, never raises
            stats = sock.statistics()
            assert (stats.messages_dropped, stats.queued_outbound) == (1, 0)

            # The REP is ready for the next request, from a new peer.
            async with open_peers(zctx, peer, trio_zmq.REQ, transport=transport) as [req]:
                req.connect(endpoint)
                await req.send(b"again")
                assert await sock.recv() == b"again"
                await sock.send(b"answered")
                assert await req.recv() == [b"answered"]
            assert sock.statistics().messages_dropped == 1


@pytest.mark.transport_skip("inproc", reason=NO_INPROC_RECONNECT)
@pytest.mark.parametrize("rep_impl", ["trio", "libzmq"])
async def test_connected_rep_keeps_the_reply_for_the_reconnection_as_libzmq(
    zctx: zmq.Context[Any], rep_impl: str, transport: str
) -> None:
    """A REP that connected keeps its pipe while the peer is away (libzmq's session
    without ``immediate``): the reply waits in it and goes to whoever binds the
    endpoint next. Run with libzmq's REP too, the reference. (libzmq's REP is
    given the reply once it has seen the connection go: before, its engine may
    still take the reply and lose it with the connection.)"""
    with trio.fail_after(10):
        async with open_peers(zctx, rep_impl, trio_zmq.REP) as [rep]:
            gone = None if rep.is_trio else rep.libzmq.monitor(zmq.EVENT_DISCONNECTED)
            async with open_peers(zctx, "trio", trio_zmq.REQ) as [req]:
                endpoint = await req.bind(rebindable_endpoint(transport))
                rep.connect(endpoint)
                await req.send(b"question")
                assert await rep.recv() == [b"question"]
            if gone is None:
                await wait_for_peers(rep.trio, 0)
            else:
                with gone:
                    assert (await gone.next_event())[0] == zmq.EVENT_DISCONNECTED
            await rep.send(b"late answer")  # never blocks
            if rep.is_trio:
                stats = rep.trio.statistics()
                assert (stats.messages_dropped, stats.queued_outbound) == (0, 1)
            async with open_peers(zctx, "trio", trio_zmq.DEALER) as [dealer]:
                await dealer.bind(endpoint)
                assert await dealer.recv() == [b"", b"late answer"]


@peer_param
@binds_param
async def test_rep_never_blocks_on_send_to_a_peer_that_does_not_read(
    zctx: zmq.Context[Any], peer: str, binds: str, transport: str
) -> None:
    n = 40
    big = b"x" * 1_000_000
    with trio.fail_after(15):
        async with (
            open_peers(zctx, "trio", trio_zmq.REP, sndhwm=2, transport=transport) as [rep],
            open_peers(zctx, peer, trio_zmq.DEALER, rcvhwm=2, transport=transport) as [dealer],
        ):
            await link(rep, [dealer], binds)
            sock = rep.trio
            for i in range(n):
                await dealer.send(b"", b"%d" % i)
            for i in range(n):
                assert await sock.recv() == b"%d" % i
                sock.send_multipart_nowait([b"%d" % i, big])  # raises WouldBlock if it would block
            dropped = sock.statistics().messages_dropped
            assert 0 < dropped < n
            # What was not dropped is delivered, in order, once the peer reads.
            got = [await dealer.recv() for _ in range(n - dropped)]
            assert [len(m) for m in got] == [3] * (n - dropped)
            assert all(m[0] == b"" and m[2] == big for m in got)
            indices = [int(m[1]) for m in got]
            assert indices == sorted(indices)
            assert len(set(indices)) == n - dropped
            await trio.sleep(0.1)  # checking that nothing more comes
            assert dealer.recv_nowait() is None


# --- on the wire: trio_zmq and libzmq send the same bytes -------------------------------------

#: The peer type a raw connection announces to each socket type.
RAW_PEER_TYPE = {"REQ": b"ROUTER", "REP": b"DEALER", "DEALER": b"ROUTER"}


@pytest.mark.parametrize("role", ["raw_connects", "raw_listens"])
@pytest.mark.parametrize(
    ("type_name", "options"),
    [
        ("REQ", {}),
        ("REQ", {"routing_id": b"me"}),
        ("REQ", {"req_correlate": True}),
        ("REQ", {"probe_router": True}),
        ("REP", {}),
        ("REP", {"routing_id": b"me"}),
        ("DEALER", {}),
        ("DEALER", {"routing_id": b"me", "probe_router": True}),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, dict) else v,
)
async def test_handshake_and_traffic_bytes_match_libzmq(
    zctx: zmq.Context[Any], type_name: str, options: dict[str, Any], role: str
) -> None:
    """READY (with ``Identity`` for REQ and DEALER), the probe, a request or a reply."""
    socket_type = trio_zmq.SocketType[type_name]

    async def capture(impl: str) -> tuple[bytes, bytes, list[bytes]]:
        async with open_peers(zctx, impl, socket_type, **options) as [sock]:
            if role == "raw_connects":
                stream = await trio.open_tcp_stream(*tcp_address(await sock.bind()))
            else:
                listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
                sock.connect(f"tcp://127.0.0.1:{listener.socket.getsockname()[1]}")
                stream = await listener.accept()
                await listener.aclose()
            async with stream:
                await stream.send_all(greeting() + ready(RAW_PEER_TYPE[type_name], Identity=b"p"))
                reader = RawReader(stream)
                their_greeting = await reader.read_exactly(64)
                their_ready = await reader.read_frame()
                if type_name == "REP":
                    await stream.send_all(message(b"A", b"", b"q"))
                    assert await sock.recv() == [b"q"]
                    await sock.send(b"answer", b"x" * 300)
                else:
                    await sock.send(b"hello", b"x" * 300)
                messages = []
                for _ in range(2 if options.get("probe_router") else 1):
                    frames = [await reader.read_frame()]
                    while frames[-1][0] & MORE:
                        frames.append(await reader.read_frame())
                    messages.append(b"".join(frames))
        return their_greeting, their_ready, messages

    with trio.fail_after(10):
        lz_greeting, lz_ready, lz_messages = await capture("libzmq")
        tz_greeting, tz_ready, tz_messages = await capture("trio")
    identity = options.get("routing_id", b"")
    if type_name == "REP":
        assert b"Identity" not in lz_ready  # only REQ, DEALER and ROUTER send it
    else:
        assert lz_ready.endswith(b"\x08Identity" + len(identity).to_bytes(4, "big") + identity)
    assert tz_ready == lz_ready
    assert tz_greeting[9:] == lz_greeting[9:]  # the padding may differ (test_interop)
    if options.get("req_correlate"):  # the request ids are random: compare the rest
        for msgs in (lz_messages, tz_messages):
            assert msgs[0][:2] == b"\x01\x04"  # a 4-byte frame, MORE
            msgs[0] = msgs[0][:2] + msgs[0][6:]
    if options.get("probe_router"):
        assert lz_messages[0] == b"\x00\x00"  # an empty single-frame message
    expected_first = {"REQ": b"\x01\x00", "REP": b"\x01\x01A\x01\x00", "DEALER": b"\x01\x05"}
    after_id = 2 if options.get("req_correlate") else 0
    assert lz_messages[-1][after_id:].startswith(expected_first[type_name])
    assert tz_messages == lz_messages


# --- more REQ and REP behaviour -----------------------------------------------------------------


@peer_param
@binds_param
async def test_req_whose_asked_peer_has_gone(
    zctx: zmq.Context[Any], peer: str, binds: str, transport: str
) -> None:
    """A bound REQ takes a reply from any peer once the pipe its request went to is
    gone (libzmq's req_t::xpipe_terminated). A connected REQ keeps that pipe while
    the peer is away, so other peers' replies are still dropped; but an inproc
    link ends with the socket at either end, so over inproc the pipe is gone too."""
    with trio.fail_after(10):
        async with (
            open_peers(zctx, "trio", trio_zmq.REQ, routing_id=b"A", transport=transport) as [req],
            open_peers(zctx, peer, trio_zmq.ROUTER, transport=transport) as [stay],
        ):
            sock = req.trio
            async with open_peers(zctx, peer, trio_zmq.ROUTER, transport=transport) as [leave]:
                await link(req, [stay, leave], binds)
                routers = [stay, leave]
                for r in range(2):  # a round trip with each: both know "A"
                    await req.send(b"hi%d" % r)
                    asked, _ = await recv_any(routers)
                    await routers[asked].send(b"A", b"", b"hello%d" % r)
                    assert await req.recv() == [b"hello%d" % r]
                await req.send(b"to the one that leaves")
                asked, msg = await recv_any(routers)
                if asked == 0:  # the round-robin order is the attach order: swap roles
                    await routers[0].send(b"A", b"", b"answered")
                    assert await req.recv() == [b"answered"]
                    await req.send(b"to the one that leaves")
                    asked, msg = await recv_any(routers)
                assert asked == 1
                assert msg == [b"A", b"", b"to the one that leaves"]
            await wait_for_peers(sock, 1)
            await stay.send(b"A", b"", b"from the other")
            if binds == "sut_binds" or transport == "inproc":
                assert await req.recv() == [b"from the other"]
                assert sock.statistics().messages_dropped == 0
            else:
                await wait_until(lambda: sock.statistics().queued_inbound == 1)
                assert req.recv_nowait() is None  # dropped
                assert sock.statistics().messages_dropped == 1


async def test_req_correlate_request_id_wraps_around_as_a_uint32(transport: str) -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.ROUTER, linger=0) as router,
            trio_zmq.open_socket(trio_zmq.REQ, req_correlate=True, linger=0) as req,
        ):
            req.connect(await router.bind(bind_endpoint(transport)))
            req._pattern._request_id = 2**32 - 2  # type: ignore[attr-defined]  # white box
            ids = []
            for r in range(3):
                await req.send(b"%d" % r)
                peer_id, request_id, *rest = await router.recv_multipart()
                assert rest == [b"", b"%d" % r]
                ids.append(request_id)
                await router.send_multipart([peer_id, request_id, b"", b"ok"])
                assert await req.recv() == b"ok"
    assert ids == [(2**32 - 1).to_bytes(4, "little"), bytes(4), (1).to_bytes(4, "little")]


@libzmq_transports
@pytest.mark.parametrize("rep_impl", ["trio", "libzmq"])
async def test_rep_with_two_req_peers_using_the_same_routing_id(
    zctx: zmq.Context[Any], rep_impl: str, transport: str
) -> None:
    """libzmq's REP is built on its ROUTER, so a second peer announcing a routing id
    already in use is left unidentified and its requests are never delivered; trio_zmq's
    REP does the same."""
    with trio.fail_after(10):
        async with (
            open_peers(zctx, rep_impl, trio_zmq.REP, transport=transport) as [rep],
            open_peers(
                zctx, "libzmq", trio_zmq.REQ, 2, routing_id=b"same", transport=transport
            ) as [first, second],
        ):
            endpoint = await rep.bind()
            first.connect(endpoint)
            await first.send(b"one")
            assert await rep.recv() == [b"one"]
            await rep.send(b"re", b"one")
            assert await first.recv() == [b"re", b"one"]
            second.connect(endpoint)
            await second.send(b"two")
            await first.send(b"three")
            served = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(rep.serve, echo, 1)
                served.append(await first.recv())
            assert served == [[b"re", b"three"]]
            await trio.sleep(0.1)  # checking that "two" never comes
            assert rep.recv_nowait() is None
