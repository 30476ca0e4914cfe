"""libzmq's spec tests for REQ, REP and DEALER, re-expressed for trio_zmq (RFC 28).

From libzmq's ``tests/test_spec_req.cpp``, ``test_spec_rep.cpp``,
``test_spec_dealer.cpp``, ``test_req_correlate.cpp`` and
``test_req_relaxed.cpp``, read for their behaviour and written anew. Each
runs the trio_zmq socket under test against trio_zmq peers and against
libzmq peers, in both bind directions, over tcp, ipc and inproc (the
``transport`` fixture; inproc with trio_zmq peers only); some also run
libzmq in the role under test, as the reference. Where libzmq's tests sleep
for connections to settle, these wait for handshakes, or for a first round
trip with every peer, instead.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
import trio
import zmq

import trio_zmq

from .helpers import NO_INPROC_RECONNECT, bind_endpoint, free_endpoint, release_endpoint, wait_until
from .peers import PAIRINGS, Message, open_peers
from .test_reqrep import binds_param, link, peer_param, recv_any


def tag(index: int) -> Any:
    """An answer for ``Peer.serve`` that says which peer answered."""

    def answer(request: Message) -> Message:
        return [b"%d" % index, *request]

    return answer


def is_periodic(order: list[int], n: int) -> bool:
    """``order`` visits ``n`` distinct peers, then the same ones in the same order again."""
    return sorted(order[:n]) == list(range(n)) and all(
        order[i] == order[i % n] for i in range(len(order))
    )


# --- REQ ---------------------------------------------------------------------------------


@peer_param
@binds_param
async def test_req_round_robins_requests_over_its_peers(
    zctx: zmq.Context[Any], peer: str, binds: str, transport: str
) -> None:
    n, rounds = 4, 3
    with trio.fail_after(10):
        async with (
            open_peers(zctx, "trio", trio_zmq.REQ, transport=transport) as [req],
            open_peers(zctx, peer, trio_zmq.REP, n, transport=transport) as reps,
        ):
            await link(req, reps, binds)
            order = []
            async with trio.open_nursery() as nursery:
                for i, rep in enumerate(reps):
                    nursery.start_soon(rep.serve, tag(i), rounds)
                for r in range(n * rounds):
                    await req.send(b"ABC", b"%d" % r)
                    reply = await req.recv()
                    assert reply[1:] == [b"ABC", b"%d" % r]
                    order.append(int(reply[0]))
    assert is_periodic(order, n), order


@pytest.mark.parametrize("routing_id", [None, b"req-7"])
@peer_param
@binds_param
async def test_req_sends_an_empty_delimiter_before_the_request(
    zctx: zmq.Context[Any], peer: str, binds: str, routing_id: bytes | None, transport: str
) -> None:
    options: dict[str, Any] = {} if routing_id is None else {"routing_id": routing_id}
    with trio.fail_after(10):
        async with (
            open_peers(zctx, "trio", trio_zmq.REQ, transport=transport, **options) as [req],
            open_peers(zctx, peer, trio_zmq.ROUTER, transport=transport) as [router],
        ):
            await link(req, [router], binds)
            await req.send(b"ABC", b"DEF")
            peer_id, *rest = await router.recv()
            assert rest == [b"", b"ABC", b"DEF"]
            if routing_id is None:
                assert len(peer_id) == 5
                assert peer_id[0] == 0  # an auto id (digest 3.2 ROUTER)
            else:
                assert peer_id == routing_id
            await router.send(peer_id, b"", b"GHI")  # a single-part reply
            assert await req.recv() == [b"GHI"]
            await req.send(b"single")
            assert await router.recv() == [peer_id, b"", b"single"]
            await router.send(peer_id, b"", b"J", b"", b"K")  # empty frames in the body
            await wait_until(lambda: req.trio.statistics().queued_inbound == 1)
            with pytest.raises(trio_zmq.MultipartMessageError):  # left for recv_multipart
                await req.trio.recv()
            assert await req.recv() == [b"J", b"", b"K"]


@peer_param
@binds_param
async def test_req_takes_only_the_reply_from_the_peer_it_asked(
    zctx: zmq.Context[Any], peer: str, binds: str, transport: str
) -> None:
    """libzmq's test_req_only_listens_to_current_peer (disabled there as racy).

    The first ``n`` rounds are plain round trips, so that every ROUTER knows
    the REQ ("A") before any of them sends to it unasked. In the next ``n``
    rounds the ROUTERs not asked answer first, and their replies are in the
    REQ's queue before the right one is sent.
    """
    n = 3
    with trio.fail_after(10):
        async with (
            open_peers(zctx, "trio", trio_zmq.REQ, routing_id=b"A", transport=transport) as [req],
            open_peers(zctx, peer, trio_zmq.ROUTER, n, transport=transport) as routers,
        ):
            await link(req, routers, binds)
            sock = req.trio
            asked_order = []
            for r in range(2 * n):
                await req.send(b"ABC%d" % r)
                asked, msg = await recv_any(routers)
                asked_order.append(asked)
                assert msg == [b"A", b"", b"ABC%d" % r]
                if r >= n:
                    for j, router in enumerate(routers):
                        if j != asked:
                            await router.send(b"A", b"", b"WRONG%d" % j)
                    await wait_until(lambda: sock.statistics().queued_inbound == n - 1)
                await routers[asked].send(b"A", b"", b"GOOD%d" % r)
                assert await req.recv() == [b"GOOD%d" % r]
            stats = sock.statistics()
    assert is_periodic(asked_order, n), asked_order
    # The wrong replies were dropped (counted), or wait to be dropped at the next send.
    assert stats.messages_dropped + stats.queued_inbound == n * (n - 1)
    assert stats.messages_received == 2 * n


@pytest.mark.parametrize("socket_type", [trio_zmq.REQ, trio_zmq.DEALER])
async def test_send_blocks_with_no_peer(socket_type: trio_zmq.SocketType, transport: str) -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(socket_type, linger=0) as sock:
            for bound in (False, True):
                with pytest.raises(trio.WouldBlock):
                    sock.send_nowait(b"x")
                with trio.move_on_after(0.05) as scope:
                    await sock.send(b"x")
                assert scope.cancelled_caught
                if socket_type == trio_zmq.REQ:
                    with pytest.raises(trio_zmq.SocketStateError):  # no request went out
                        sock.recv_nowait()
                assert sock.statistics().messages_sent == 0
                if not bound:
                    await sock.bind(bind_endpoint(transport))  # listening, but nobody came


@pytest.mark.parametrize(("req_impl", "router_impl"), PAIRINGS)
@binds_param
async def test_req_correlate_request_ids(
    zctx: zmq.Context[Any], req_impl: str, router_impl: str, binds: str, transport: str
) -> None:
    """A 4-byte id before the delimiter: a uint32 in host byte order, +1 per request.

    Replies with another id, or none, are dropped. Run with libzmq's REQ too:
    both must put the same bytes on the wire.
    """
    rounds = 3
    correlate = {"req_correlate": True}
    with trio.fail_after(10):
        async with (
            open_peers(zctx, req_impl, trio_zmq.REQ, transport=transport, **correlate) as [req],
            open_peers(zctx, router_impl, trio_zmq.ROUTER, transport=transport) as [router],
        ):
            await link(req, [router], binds)
            ids = []
            for r in range(rounds):
                await req.send(b"ABC", b"DEF%d" % r)
                peer_id, request_id, *rest = await router.recv()
                assert len(request_id) == 4
                assert rest == [b"", b"ABC", b"DEF%d" % r]
                ids.append(int.from_bytes(request_id, sys.byteorder))
                other_id = ((ids[-1] + 1) % 2**32).to_bytes(4, sys.byteorder)
                await router.send(peer_id, other_id, b"", b"WRONG ID")
                await router.send(peer_id, b"", b"NO ID")
                await router.send(peer_id, request_id, b"", b"GHI%d" % r)
                assert await req.recv() == [b"GHI%d" % r]
            if req.is_trio:
                stats = req.trio.statistics()
                assert (stats.messages_dropped, stats.protocol_errors) == (2 * rounds, 0)
    assert ids == [(ids[0] + r) % 2**32 for r in range(rounds)]


@peer_param
@binds_param
@pytest.mark.parametrize("correlate", [False, True], ids=["relaxed", "relaxed_correlate"])
async def test_req_relaxed(
    zctx: zmq.Context[Any], peer: str, binds: str, correlate: bool, transport: str
) -> None:
    """libzmq's test_req_relaxed, cases 1 to 3, with five REPs."""
    n = 5
    with trio.fail_after(10):
        relaxed = {"req_relaxed": True, "req_correlate": correlate}
        async with (
            open_peers(zctx, "trio", trio_zmq.REQ, transport=transport, **relaxed) as [req],
            open_peers(zctx, peer, trio_zmq.REP, n, transport=transport) as reps,
        ):
            await link(req, reps, binds)
            sock = req.trio
            order: list[int] = []
            busy: set[int] = set()  # REPs that owe a reply (they cannot recv)

            async def ask(*frames: bytes) -> int:
                """Send a request; return which REP got it."""
                await req.send(*frames)
                asked, msg = await recv_any(reps, skip=busy)
                assert msg == list(frames)
                order.append(asked)
                busy.add(asked)
                return asked

            async def answer(rep: int, *frames: bytes) -> None:
                await reps[rep].send(*frames)
                busy.discard(rep)

            # Case 1: a second request before the first reply has come.
            a = await ask(b"A", b"B")
            c = await ask(b"C", b"D")
            assert c != a
            await answer(a, b"WRONG")
            await wait_until(lambda: sock.statistics().queued_inbound == 1)
            await answer(c, b"OK")
            assert await req.recv() == [b"OK"]

            # A plain cycle, with a multipart reply.
            e = await ask(b"E")
            await answer(e, b"F", b"G")
            assert await req.recv() == [b"F", b"G"]

            # Case 2: a second request after the first reply has come.
            h = await ask(b"H")
            await answer(h, b"BAD")
            await wait_until(lambda: sock.statistics().queued_inbound == 1)
            i = await ask(b"I")
            assert sock.statistics().queued_inbound == 0  # dropped as the request went out
            await answer(i, b"GOOD")
            assert await req.recv() == [b"GOOD"]

            # Case 3 (libzmq #1690): two sends in a row closed no pipe; the
            # round-robin goes on, back to the first REP.
            j = await ask(b"J")
            assert j == a
            assert is_periodic(order, n), order
            assert sock.statistics().messages_dropped == 2


@peer_param
async def test_req_relaxed_correlate_answers_only_the_last_request(
    zctx: zmq.Context[Any], peer: str, transport: str
) -> None:
    """libzmq's test_req_relaxed, case 4 (#1695): requests pile up before the server
    exists; it answers both; only the answer to the last one is taken."""
    with trio.fail_after(10):
        endpoint = await free_endpoint(transport)
        relaxed: dict[str, Any] = {"req_relaxed": True, "req_correlate": True}
        async with open_peers(zctx, "trio", trio_zmq.REQ, **relaxed) as [req]:
            req.connect(endpoint)
            await req.send(b"TO_BE_DISCARDED")
            await req.send(b"TO_BE_ANSWERED")
            async with open_peers(zctx, peer, trio_zmq.ROUTER) as [router]:
                await router.bind(release_endpoint(endpoint))
                for _ in range(2):
                    await router.send(*await router.recv())  # bounce it as it came
                assert await req.recv() == [b"TO_BE_ANSWERED"]
                stats = req.trio.statistics()
                assert (stats.messages_dropped, stats.queued_inbound) == (1, 0)


@pytest.mark.parametrize(("sock_impl", "router_impl"), PAIRINGS)
@binds_param
@pytest.mark.parametrize("socket_type", [trio_zmq.DEALER, trio_zmq.REQ])
async def test_probe_router(
    zctx: zmq.Context[Any],
    sock_impl: str,
    router_impl: str,
    binds: str,
    socket_type: trio_zmq.SocketType,
    transport: str,
) -> None:
    """probe_router: an empty message to each new peer; a ROUTER receives [id, b""].

    Run with libzmq's DEALER and REQ too. A bound libzmq socket attaches a new
    peer's pipe, and so writes the probe, only when the application next calls
    into it (libzmq processes commands in the application's thread), so the
    test pokes it; trio_zmq sends the probe as soon as the handshake is done.
    """
    n = 2
    with trio.fail_after(10):
        async with (
            open_peers(
                zctx,
                sock_impl,
                socket_type,
                probe_router=True,
                routing_id=b"P",
                transport=transport,
            ) as [sock],
            open_peers(zctx, router_impl, trio_zmq.ROUTER, n, transport=transport) as routers,
        ):
            await link(sock, routers, binds)
            probed: set[int] = set()
            while len(probed) < n:  # a bound libzmq socket needs poking to attach its peers
                got, msg = await recv_any(routers, skip=probed, poke=sock)
                assert msg == [b"P", b""]
                probed.add(got)
            envelope = [b""] if socket_type == trio_zmq.REQ else []
            for r in range(n):
                await sock.send(b"hello%d" % r)
                asked, msg = await recv_any(routers)
                assert msg == [b"P", *envelope, b"hello%d" % r]
                await routers[asked].send(b"P", *envelope, b"world%d" % r)
                assert await sock.recv() == [b"world%d" % r]
            for router in routers:
                assert router.recv_nowait() is None  # one probe each, no more


# --- REP ---------------------------------------------------------------------------------------


@peer_param
@binds_param
async def test_rep_fair_queues_requests_and_answers_each_sender(
    zctx: zmq.Context[Any], peer: str, binds: str, transport: str
) -> None:
    n, k = 3, 5
    with trio.fail_after(10):
        async with (
            open_peers(zctx, "trio", trio_zmq.REP, transport=transport) as [rep],
            open_peers(zctx, peer, trio_zmq.DEALER, n, transport=transport) as dealers,
        ):
            await link(rep, dealers, binds)
            sock = rep.trio
            for s, dealer in enumerate(dealers):
                for i in range(k):
                    await dealer.send(b"", b"%d" % s, b"%d" % i)
            await wait_until(lambda: sock.statistics().queued_inbound == n * k)
            senders = []
            for _ in range(n * k):
                s_frame, i_frame = await sock.recv_multipart()
                senders.append(int(s_frame))
                await sock.send_multipart([b"re", s_frame, i_frame])
            for s, dealer in enumerate(dealers):
                replies = [await dealer.recv() for _ in range(k)]
                assert replies == [[b"", b"re", b"%d" % s, b"%d" % i] for i in range(k)]
    # One request from each peer in turn, never one peer drained first.
    for i in range(len(senders) - n + 1):
        assert len(set(senders[i : i + n])) == n, senders


#: (what a DEALER sends, what REP's recv returns); the reply comes back with the envelope.
ENVELOPES = [
    ([b"", b"A"], [b"A"]),  # minimal
    ([b"X", b"Y", b"", b"A"], [b"A"]),  # big
    ([b"A", b"B", b"", b"body"], [b"body"]),
    ([b"z" * 300, b"", b"long", b"frame"], [b"long", b"frame"]),
    ([b"", b"a", b"", b"b"], [b"a", b"", b"b"]),  # the first empty frame delimits
    ([b"", b""], [b""]),  # an empty body
]


@pytest.mark.parametrize(("rep_impl", "dealer_impl"), PAIRINGS)
@binds_param
async def test_rep_keeps_the_envelope_and_puts_it_back(
    zctx: zmq.Context[Any], rep_impl: str, dealer_impl: str, binds: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with (
            open_peers(zctx, rep_impl, trio_zmq.REP, transport=transport) as [rep],
            open_peers(zctx, dealer_impl, trio_zmq.DEALER, transport=transport) as [dealer],
        ):
            await link(rep, [dealer], binds)
            for request, body in ENVELOPES:
                envelope = request[: len(request) - len(body)]
                await dealer.send(*request)
                if rep.is_trio and len(body) > 1:
                    await wait_until(lambda: rep.trio.statistics().queued_inbound == 1)
                    with pytest.raises(trio_zmq.MultipartMessageError):  # left in place
                        await rep.trio.recv()
                assert await rep.recv() == body
                await rep.send(b"reply", b"to", *body)
                assert await dealer.recv() == [*envelope, b"reply", b"to", *body]
            if rep.is_trio:
                assert rep.trio.statistics().messages_dropped == 0


@pytest.mark.parametrize(("rep_impl", "dealer_impl"), PAIRINGS)
@binds_param
async def test_rep_drops_requests_without_an_envelope(
    zctx: zmq.Context[Any], rep_impl: str, dealer_impl: str, binds: str, transport: str
) -> None:
    bad = [[b"no envelope"], [b"A", b"no delimiter"], [b"X", b""], [b""]]
    with trio.fail_after(10):
        async with (
            open_peers(zctx, rep_impl, trio_zmq.REP, transport=transport) as [rep],
            open_peers(zctx, dealer_impl, trio_zmq.DEALER, transport=transport) as [dealer],
        ):
            await link(rep, [dealer], binds)
            for msg in bad:
                await dealer.send(*msg)
            await dealer.send(b"", b"ok")
            assert await rep.recv() == [b"ok"]
            await rep.send(b"fine")
            assert await dealer.recv() == [b"", b"fine"]
            await trio.sleep(0.05)  # checking that nothing else comes
            assert rep.recv_nowait() is None
            assert dealer.recv_nowait() is None
            if rep.is_trio:
                stats = rep.trio.statistics()
                assert (stats.messages_dropped, stats.messages_received) == (len(bad), 1)
                assert stats.protocol_errors == 0


# --- strict alternation -------------------------------------------------------------------------


@peer_param
@binds_param
async def test_req_strict_alternation(
    zctx: zmq.Context[Any], peer: str, binds: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with (
            open_peers(zctx, "trio", trio_zmq.REQ, transport=transport) as [req],
            open_peers(zctx, peer, trio_zmq.REP, transport=transport) as [rep],
        ):
            await link(req, [rep], binds)
            sock = req.trio
            # recv before any send
            with pytest.raises(trio_zmq.SocketStateError):
                await sock.recv()
            with pytest.raises(trio_zmq.SocketStateError):
                sock.recv_multipart_nowait()
            await sock.send(b"one")
            # send twice
            before = sock.statistics()
            with pytest.raises(trio_zmq.SocketStateError):
                await sock.send(b"two")
            with pytest.raises(trio_zmq.SocketStateError):
                sock.send_multipart_nowait([b"two"])
            assert sock.statistics() == before
            assert await rep.recv() == [b"one"]
            await rep.send(b"reply one")
            assert await sock.recv() == b"reply one"
            # the reply was taken: back to sending
            with pytest.raises(trio_zmq.SocketStateError):
                await sock.recv()
            await sock.send(b"three")
            assert await rep.recv() == [b"three"]  # "two" never went out
            await rep.send(b"reply three")
            assert await sock.recv() == b"reply three"
            assert sock.statistics().messages_sent == 2


@peer_param
@binds_param
async def test_rep_strict_alternation(
    zctx: zmq.Context[Any], peer: str, binds: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with (
            open_peers(zctx, "trio", trio_zmq.REP, transport=transport) as [rep],
            open_peers(zctx, peer, trio_zmq.DEALER, transport=transport) as [dealer],
        ):
            await link(rep, [dealer], binds)
            sock = rep.trio
            # send before any recv
            with pytest.raises(trio_zmq.SocketStateError):
                await sock.send(b"unasked")
            with pytest.raises(trio_zmq.SocketStateError):
                sock.send_multipart_nowait([b"unasked"])
            await dealer.send(b"", b"one")
            await dealer.send(b"", b"two")
            await wait_until(lambda: sock.statistics().queued_inbound == 2)
            assert await sock.recv() == b"one"
            # recv twice
            before = sock.statistics()
            with pytest.raises(trio_zmq.SocketStateError):
                await sock.recv()
            with pytest.raises(trio_zmq.SocketStateError):
                sock.recv_multipart_nowait()
            assert sock.statistics() == before
            assert before.queued_inbound == 1
            await sock.send(b"reply one")
            # the reply went: back to receiving
            with pytest.raises(trio_zmq.SocketStateError):
                await sock.send(b"extra")
            assert await sock.recv() == b"two"
            await sock.send(b"reply two")
            assert await dealer.recv() == [b"", b"reply one"]  # "unasked" never went out
            assert await dealer.recv() == [b"", b"reply two"]
            await trio.sleep(0.05)  # checking that nothing else comes ("extra")
            assert dealer.recv_nowait() is None
            assert sock.statistics().messages_sent == 2


# --- DEALER --------------------------------------------------------------------------------------


@peer_param
@binds_param
async def test_dealer_round_robins_out(
    zctx: zmq.Context[Any], peer: str, binds: str, transport: str
) -> None:
    n, k = 4, 3
    with trio.fail_after(10):
        async with (
            open_peers(zctx, "trio", trio_zmq.DEALER, transport=transport) as [dealer],
            open_peers(zctx, peer, trio_zmq.REP, n, transport=transport) as reps,
        ):
            await link(dealer, reps, binds)
            for i in range(n * k):
                await dealer.send(b"", b"ABC", b"%d" % i)
            async with trio.open_nursery() as nursery:
                for r, rep in enumerate(reps):
                    nursery.start_soon(rep.serve, tag(r), k)
                replies = [await dealer.recv() for _ in range(n * k)]
    by_rep: dict[int, list[int]] = {}
    for reply in replies:
        assert reply[0] == b""
        assert reply[2] == b"ABC"
        by_rep.setdefault(int(reply[1]), []).append(int(reply[3]))
    assert sorted(by_rep) == list(range(n))
    for got in by_rep.values():
        assert got == list(range(got[0], n * k, n)), by_rep  # i, i+n, i+2n ...


@peer_param
@binds_param
async def test_dealer_fair_queues_in_without_envelope_handling(
    zctx: zmq.Context[Any], peer: str, binds: str, transport: str
) -> None:
    n, k = 4, 5
    with trio.fail_after(10):
        async with (
            open_peers(zctx, "trio", trio_zmq.DEALER, transport=transport) as [receiver],
            open_peers(zctx, peer, trio_zmq.DEALER, n, transport=transport) as senders,
        ):
            await link(receiver, senders, binds)
            sock = receiver.trio
            # The libzmq test's warm-up: two messages from the first sender.
            for _ in range(2):
                await senders[0].send(b"A")
                assert await receiver.recv() == [b"A"]
            for s, sender in enumerate(senders):
                for i in range(k):
                    await sender.send(*shaped(s, i))
            await wait_until(lambda: sock.statistics().queued_inbound == n * k)
            received = [await receiver.recv() for _ in range(n * k)]
            # And out, untouched, one message to each sender in turn.
            for r in range(n):
                await receiver.send(b"", b"to", b"%d" % r)
            back = sorted([await sender.recv() for sender in senders])
            assert back == [[b"", b"to", b"%d" % r] for r in range(n)]
    order = []
    for msg in received:
        s = int(next(f for f in msg if f.startswith(b"s"))[1:])
        assert msg == shaped(s, int(msg[-1]))  # as it was sent
        order.append((s, int(msg[-1])))
    for s in range(n):  # each sender's messages in order
        assert [i for t, i in order if t == s] == list(range(k))
    senders_seen = [s for s, _ in order]
    for i in range(len(senders_seen) - n + 1):
        assert len(set(senders_seen[i : i + n])) == n, senders_seen


def shaped(s: int, i: int) -> Message:
    """Messages of several shapes (leading and trailing empty frames), sender s, number i."""
    sender = b"s%d" % s
    shape = ([sender], [b"", sender], [sender, b"", b""])[i % 3]
    return [*shape, b"%d" % i]


@pytest.mark.transport_skip("inproc", reason=NO_INPROC_RECONNECT)
@pytest.mark.parametrize("dealer_impl", ["trio", "libzmq"])
async def test_connected_dealer_probes_once_per_pipe_not_per_connection(
    zctx: zmq.Context[Any], dealer_impl: str, transport: str
) -> None:
    """A connect keeps its pipe across reconnections, so a ROUTER that restarts
    gets no second probe, as with libzmq (run too, as the reference)."""
    with trio.fail_after(10):
        endpoint = await free_endpoint(transport)
        async with open_peers(
            zctx, dealer_impl, trio_zmq.DEALER, probe_router=True, routing_id=b"D"
        ) as [dealer]:
            handshakes = (
                None if dealer.is_trio else dealer.libzmq.monitor(zmq.EVENT_HANDSHAKE_SUCCEEDED)
            )
            dealer.connect(endpoint)
            for generation in range(2):
                async with open_peers(zctx, "trio", trio_zmq.ROUTER) as [router]:
                    await router.bind(release_endpoint(endpoint))
                    if handshakes is None:
                        await wait_until(lambda: dealer.trio.statistics().peers == 1)
                    else:
                        assert (await handshakes.next_event())[0] == zmq.EVENT_HANDSHAKE_SUCCEEDED
                    await dealer.send(b"generation %d" % generation)
                    first = await router.recv()
                    if generation == 0:
                        assert first == [b"D", b""]
                        first = await router.recv()
                    assert first == [b"D", b"generation %d" % generation]
                if handshakes is None:
                    await wait_until(lambda: dealer.trio.statistics().peers == 0)
            if handshakes is not None:
                handshakes.close()
