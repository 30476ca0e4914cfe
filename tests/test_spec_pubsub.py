"""libzmq's publish-subscribe tests, re-expressed for trio_zmq (RFC 29, digest 1.10 and 3.2).

From libzmq's ``tests/test_pubsub.cpp``, ``test_sub_forward.cpp``,
``test_xpub_manual.cpp``, ``test_xpub_nodrop.cpp``,
``test_xpub_welcome_msg.cpp``, ``test_xpub_verbose.cpp``,
``test_hwm_pubsub.cpp`` and ``test_mock_pub_sub.cpp``, read for their
behaviour and written anew (the draft-only tests are left out). libzmq's
tests run over inproc, sleep for subscriptions to settle and check that
nothing came with a non-blocking receive; these wait for the
XPUB's notifications or for probe messages instead, and check that nothing
came by a marker: a later subscription or message on the same connection
that must be the next thing seen.

Each runs the trio_zmq socket under test against trio_zmq peers and against
libzmq peers, in both bind directions, over tcp, ipc and inproc (the
``transport`` fixture; inproc with trio_zmq peers only); with ``PAIRINGS``,
libzmq also plays the role under test, as the reference.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import pytest
import trio
import zmq

import trio_zmq
from trio_zmq import _pipe

from .helpers import wait_until, writers_idle
from .libzmq_peer import command, frame
from .peers import Message, Peer, open_peer, open_peers
from .test_pubsub import (
    binds_param,
    leave,
    link,
    pairings_param,
    peer_param,
    raw_peer,
    recv_until,
    role_param,
    settle,
)


async def expect_nothing_then(xpub: Peer, sub: Peer, marker: bytes) -> None:
    """What ``sub`` did last reached ``xpub`` and was not reported.

    ``sub`` subscribes ``marker``: on the same connection, after what it did
    before, so the XPUB's next notification must be the marker's.
    """
    sub.subscribe(marker)
    assert await xpub.recv() == [b"\x01" + marker]


# --- test_pubsub.cpp ------------------------------------------------------------------------


@pairings_param
@binds_param
async def test_pubsub(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.PUB, transport=transport) as pub,
            open_peer(zctx, sub_impl, trio_zmq.SUB, transport=transport) as sub,
        ):
            await link([pub], [sub], binds)
            sub.subscribe(b"")  # everything
            await settle(pub, [sub])
            await pub.send(b"test")
            assert await sub.recv() == [b"test"]


# --- test_sub_forward.cpp ------------------------------------------------------------------

DEVICE_PAIRINGS = [("trio", "trio"), ("trio", "libzmq"), ("libzmq", "trio")]


@pytest.mark.parametrize(("device_impl", "outer_impl"), DEVICE_PAIRINGS)
@pytest.mark.parametrize("binds", ["device_binds", "outer_binds"])
async def test_sub_forward(
    zctx: zmq.Context[Any], device_impl: str, outer_impl: str, binds: str, transport: str
) -> None:
    """A forwarding device: XPUB for the subscribers, XSUB for the publishers.

    The subscription travels up through the device, a message down; when the
    subscriber goes, its cancel travels up and the publisher stops sending.
    """
    with trio.fail_after(15):
        async with (
            open_peer(zctx, device_impl, trio_zmq.XPUB, transport=transport) as xpub,
            open_peer(zctx, device_impl, trio_zmq.XSUB, transport=transport) as xsub,
            open_peer(zctx, outer_impl, trio_zmq.PUB, transport=transport) as pub,
            open_peer(zctx, outer_impl, trio_zmq.SUB, transport=transport) as sub,
        ):
            # The device's sockets bind (as in libzmq's test), or the outer ones do.
            xsub_side = "sub_binds" if binds == "device_binds" else "pub_binds"
            xpub_side = "pub_binds" if binds == "device_binds" else "sub_binds"
            await link([pub], [xsub], xsub_side)
            [sub_endpoint] = await link([xpub], [sub], xpub_side)

            sub.subscribe(b"")
            subscription = await xpub.recv()  # pass it upstream through the device
            assert subscription == [b"\x01"]
            await xsub.send(*subscription)
            await settle(pub, [xsub])  # the subscription has reached the publisher

            await pub.send(b"")  # an empty message
            msg = await xsub.recv()  # pass it downstream through the device
            assert msg == [b""]
            await xpub.send(*msg)
            assert await sub.recv() == [b""]

            # The subscriber goes: its cancel goes upstream too.
            await leave(xpub, sub, sub_endpoint, xpub_side)
            cancel = await xpub.recv()
            assert cancel == [b"\x00"]
            await xsub.send(*cancel)
            await xsub.send(b"\x01Z")  # a marker, after the cancel
            await settle(pub, [xsub], b"Z")
            await pub.send(b"not wanted")
            await pub.send(b"Z-end")
            assert await xsub.recv() == [b"Z-end"]


# --- test_xpub_manual.cpp ------------------------------------------------------------------


@pairings_param
@binds_param
async def test_xpub_manual_basic(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    """The application decides: the XSUB asked for A, the XPUB subscribes it to B."""
    with trio.fail_after(10):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.XPUB, xpub_manual=True, transport=transport) as xpub,
            open_peer(zctx, sub_impl, trio_zmq.XSUB, transport=transport) as xsub,
        ):
            await link([xpub], [xsub], binds)
            await xsub.send(b"\x01A")
            assert await xpub.recv() == [b"\x01A"]
            xpub.subscribe(b"B")  # for the peer whose subscription came last
            await xpub.send(b"A")
            await xpub.send(b"B")
            assert await xsub.recv() == [b"B"]  # an XSUB does not filter: A was not sent


@pairings_param
@binds_param
async def test_xpub_manual_unsubscribe(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.XPUB, xpub_manual=True, transport=transport) as xpub,
            open_peer(zctx, sub_impl, trio_zmq.XSUB, transport=transport) as xsub,
        ):
            [endpoint] = await link([xpub], [xsub], binds)
            await xsub.send(b"\x01A")
            await xsub.send(b"\x01B")
            assert await xpub.recv() == [b"\x01A"]
            xpub.subscribe(b"XA")  # instead of A
            assert await xpub.recv() == [b"\x01B"]
            xpub.subscribe(b"XB")  # instead of B
            await xsub.send(b"\x00A")
            assert await xpub.recv() == [b"\x00A"]
            xpub.unsubscribe(b"XA")
            await xpub.send(b"XA")
            await xpub.send(b"XB")
            assert await xsub.recv() == [b"XB"]

            # When the subscriber goes, what it still asked for (B) is reported.
            await leave(xpub, xsub, endpoint, binds)
            assert await xpub.recv() == [b"\x00B"]
            xpub.unsubscribe(b"XB")  # no peer to apply it to: nothing happens


@pairings_param
@binds_param
async def test_xpub_proxy_unsubscribe_on_disconnect(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    """A manual XPUB reports each subscriber's subscription and, when it goes, its cancel.

    The proxy (XSUB + manual XPUB) is ``pub_impl``; the publisher and the two
    subscribers are ``sub_impl``. Two subscribers to "1" give two ``\\x011``
    and, when both go, two ``\\x001``: one per subscriber, as the XSUB needs
    to count them.
    """
    topic, payload = b"1", b"X"
    with trio.fail_after(15):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.XSUB, transport=transport) as xsub,
            open_peer(zctx, pub_impl, trio_zmq.XPUB, xpub_manual=True, transport=transport) as xpub,
            open_peer(zctx, sub_impl, trio_zmq.PUB, transport=transport) as pub,
            open_peers(zctx, sub_impl, trio_zmq.SUB, 2, transport=transport) as subs,
        ):
            await link([pub], [xsub], "sub_binds" if binds == "pub_binds" else "pub_binds")
            endpoints = await link([xpub], subs, binds)
            for sub in subs:
                sub.subscribe(topic)
                # The proxy confirms the subscription and passes it upstream.
                assert await xpub.recv() == [b"\x01" + topic]
                xpub.subscribe(topic)
                await xsub.send(b"\x01" + topic)
            await settle(pub, [xsub], topic)

            await pub.send(topic, payload)
            msg = await xsub.recv()  # the proxy forwards it
            assert msg == [topic, payload]
            await xpub.send(*msg)
            for sub in subs:
                assert await sub.recv() == [topic, payload]

            # (The endpoint matters with sub_binds only: then each subscriber has its own.)
            sub_endpoints = endpoints if binds == "sub_binds" else endpoints * len(subs)
            for sub, endpoint in zip(subs, sub_endpoints, strict=True):
                await leave(xpub, sub, endpoint, binds)
                assert await xpub.recv() == [b"\x00" + topic]
                xpub.unsubscribe(topic)
                await xsub.send(b"\x00" + topic)

            # The publisher no longer sends "1" (a marker subscription comes after the cancel).
            await xsub.send(b"\x01Z")
            await settle(pub, [xsub], b"Z")
            await pub.send(topic, payload)
            await pub.send(b"Z-end")
            assert await xsub.recv() == [b"Z-end"]


async def wait_for_notifications(xpub: Peer, n: int) -> None:
    """Wait until ``n`` notifications wait in a trio_zmq XPUB (white box: not observable).

    For a libzmq XPUB, return at once: the test is then weaker, not wrong.
    """
    if xpub.is_trio:
        pending = xpub.trio._pattern._pending  # type: ignore[attr-defined]
        while len(pending) < n:
            await trio.sleep(0.002)


@pairings_param
@binds_param
async def test_xpub_manual_missing_subscriptions(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    """Two subscriptions come before the application confirms the first: neither is lost.

    ``subscribe`` applies to the peer of the notification ``recv`` returned
    last, not to the peer whose subscription arrived last.
    """
    payload = b"X"
    with trio.fail_after(15):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.XSUB, transport=transport) as xsub,
            open_peer(zctx, pub_impl, trio_zmq.XPUB, xpub_manual=True, transport=transport) as xpub,
            open_peer(zctx, sub_impl, trio_zmq.PUB, transport=transport) as pub,
            open_peers(zctx, sub_impl, trio_zmq.SUB, 2, transport=transport) as subs,
        ):
            await link([pub], [xsub], "sub_binds" if binds == "pub_binds" else "pub_binds")
            await link([xpub], subs, binds)
            subs[0].subscribe(b"1")
            subs[1].subscribe(b"2")
            await wait_for_notifications(xpub, 2)
            for _ in range(2):
                notification = await xpub.recv()
                assert notification in ([b"\x011"], [b"\x012"])
                xpub.subscribe(notification[0][1:])
                await xsub.send(*notification)
            await settle(pub, [xsub], b"1")
            await settle(pub, [xsub], b"2")

            for topic in (b"1", b"2"):
                await pub.send(topic, payload)
                msg = await xsub.recv()
                assert msg == [topic, payload]
                await xpub.send(*msg)
            assert await subs[1].recv() == [b"2", payload]
            assert await subs[0].recv() == [b"1", payload]


@pairings_param
@binds_param
async def test_xpub_manual_unsubscribe_cleanup(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    """A departed peer's manual subscriptions go with it; a new peer starts afresh."""
    with trio.fail_after(15):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.XPUB, xpub_manual=True, transport=transport) as xpub,
            AsyncExitStack() as stack,
        ):
            xsub = await stack.enter_async_context(
                open_peer(zctx, sub_impl, trio_zmq.XSUB, transport=transport)
            )
            [endpoint] = await link([xpub], [xsub], binds)
            await xsub.send(b"\x01A")
            assert await xpub.recv() == [b"\x01A"]
            xpub.subscribe(b"XA")
            await xpub.send(b"XA")
            await xpub.send(b"XB")
            await xpub.send(b"XA-end")
            assert await xsub.recv() == [b"XA"]
            assert await xsub.recv() == [b"XA-end"]  # nothing else was sent (XB)

            await leave(xpub, xsub, endpoint, binds)
            assert await xpub.recv() == [b"\x00A"]
            xpub.unsubscribe(b"XA")  # the last peer is gone: this does nothing

            xsub = await stack.enter_async_context(
                open_peer(zctx, sub_impl, trio_zmq.XSUB, transport=transport)
            )
            await link([xpub], [xsub], binds)
            await xsub.send(b"\x01B")
            assert await xpub.recv() == [b"\x01B"]
            xpub.subscribe(b"XB")
            await xpub.send(b"XA")
            await xpub.send(b"XB")
            assert await xsub.recv() == [b"XB"]


@pytest.mark.parametrize(
    "msg",
    [[b"\x02A"], [b"ABC"], [b"ABC", b"DEF"], [b""], [b"", b"x"]],
    ids=["2A", "ABC", "2frames", "empty", "empty_first"],
)
@pairings_param
@binds_param
async def test_xpub_user_message(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, msg: Message, transport: str
) -> None:
    """What an XSUB sends that is not a subscription reaches the XPUB's application whole."""
    with trio.fail_after(10):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.XPUB, transport=transport) as xpub,
            open_peer(zctx, sub_impl, trio_zmq.XSUB, transport=transport) as xsub,
        ):
            await link([xpub], [xsub], binds)
            await xsub.send(b"\x01M")  # libzmq's XSUB drops what it sends before attaching...
            assert await xpub.recv() == [b"\x01M"]  # ...and it resends M when it attaches
            await xsub.send(*msg)
            assert await xpub.recv() == msg


# --- test_xpub_nodrop.cpp --------------------------------------------------------------------


@peer_param
@binds_param
async def test_xpub_nodrop(
    zctx: zmq.Context[Any], peer_impl: str, binds: str, transport: str
) -> None:
    """With ``xpub_nodrop``, send waits for a full subscriber instead of dropping.

    ``send_nowait`` raises ``trio.WouldBlock`` meanwhile; the blocked send
    completes once the subscriber reads, and nothing is lost.
    """
    hwm, payload = 10, b"n" * 64 * 1024
    with trio.fail_after(20):
        async with (
            open_peer(
                zctx, "trio", trio_zmq.XPUB, sndhwm=hwm, xpub_nodrop=True, transport=transport
            ) as xpub,
            open_peer(zctx, peer_impl, trio_zmq.SUB, rcvhwm=hwm, transport=transport) as sub,
        ):
            await link([xpub], [sub], binds)
            sub.subscribe(b"m")
            assert await xpub.recv() == [b"\x01m"]  # the subscription is in

            for i in range(hwm - 1):
                await xpub.send(b"m%d" % i)
            for i in range(hwm - 1):
                assert await sub.recv() == [b"m%d" % i]

            # The subscriber stops reading: send until a send waits (its queue,
            # TCP's buffers and ours are full).
            sent = 0
            while True:
                with trio.move_on_after(0.2) as scope:
                    await xpub.send(b"m%d" % sent, payload)
                if scope.cancelled_caught:
                    break
                sent += 1
            assert hwm < sent < 1000
            with pytest.raises(trio.WouldBlock):
                xpub.send_nowait(b"m%d" % sent, payload)
            xpub.send_nowait(b"x")  # it matches nobody: nobody to wait for
            assert xpub.trio.statistics().messages_dropped == 0

            got: list[Message] = []

            async def read_all() -> None:
                got.extend([await sub.recv() for _ in range(sent + 1)])

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_all)
                await xpub.send(b"m-last", payload)  # completes as the subscriber reads
            # Nothing lost; the cancelled send and the refused one had no effect.
            assert got == [[b"m%d" % i, payload] for i in range(sent)] + [[b"m-last", payload]]
            await xpub.send(b"m-end")
            assert await sub.recv() == [b"m-end"]
            assert xpub.trio.statistics().messages_dropped == 0


# --- test_xpub_welcome_msg.cpp ----------------------------------------------------------------


@pairings_param
@binds_param
async def test_xpub_welcome_msg(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    """Each new subscriber gets the welcome message first, if its subscriptions match it."""
    with trio.fail_after(10):
        async with (
            open_peer(
                zctx, pub_impl, trio_zmq.XPUB, xpub_welcome_msg=b"Welcome", transport=transport
            ) as xpub,
            open_peer(
                zctx, sub_impl, trio_zmq.SUB, subscribe=b"Wel", transport=transport
            ) as welcomed,
            open_peer(zctx, sub_impl, trio_zmq.SUB, subscribe=b"X", transport=transport) as other,
        ):
            await link([xpub], [welcomed, other], binds)
            got = [await xpub.recv() for _ in range(2)]
            assert sorted(got) == [[b"\x01Wel"], [b"\x01X"]]
            assert await welcomed.recv() == [b"Welcome"]
            await xpub.send(b"X-1")
            await xpub.send(b"Wel-1")
            assert await other.recv() == [b"X-1"]  # the welcome came before, and was filtered
            assert await welcomed.recv() == [b"Wel-1"]  # only once


# --- test_xpub_verbose.cpp ---------------------------------------------------------------------


@pairings_param
@binds_param
async def test_xpub_verbose_one_sub(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.XPUB, transport=transport) as xpub,
            open_peer(zctx, sub_impl, trio_zmq.SUB, transport=transport) as sub,
        ):
            await link([xpub], [sub], binds)
            sub.subscribe(b"A")
            assert await xpub.recv() == [b"\x01A"]
            sub.subscribe(b"B")
            assert await xpub.recv() == [b"\x01B"]
            sub.subscribe(b"A")  # a duplicate: not reported
            await expect_nothing_then(xpub, sub, b"M1")

            xpub.set_option("xpub_verbose", True)
            sub.subscribe(b"A")  # now reported
            assert await xpub.recv() == [b"\x01A"]

            await xpub.send(b"A")
            await xpub.send(b"B")
            assert await sub.recv() == [b"A"]
            assert await sub.recv() == [b"B"]


@pairings_param
@binds_param
async def test_xpub_verbose_two_subs(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.XPUB, transport=transport) as xpub,
            open_peers(zctx, sub_impl, trio_zmq.SUB, 2, transport=transport) as (sub0, sub1),
        ):
            await link([xpub], [sub0, sub1], binds)
            sub0.subscribe(b"A")
            assert await xpub.recv() == [b"\x01A"]
            sub1.subscribe(b"A")  # A has a subscriber already: not reported
            await expect_nothing_then(xpub, sub1, b"M1")
            sub0.subscribe(b"B")
            assert await xpub.recv() == [b"\x01B"]

            xpub.set_option("xpub_verbose", True)
            sub1.subscribe(b"A")  # now reported
            assert await xpub.recv() == [b"\x01A"]

            await xpub.send(b"A")
            await xpub.send(b"B")
            assert await sub0.recv() == [b"A"]
            assert await sub1.recv() == [b"A"]
            assert await sub0.recv() == [b"B"]


@pairings_param
@binds_param
async def test_xpub_verboser_one_sub(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.XPUB, transport=transport) as xpub,
            open_peer(zctx, sub_impl, trio_zmq.SUB, transport=transport) as sub,
        ):
            await link([xpub], [sub], binds)
            sub.unsubscribe(b"A")  # not subscribed: the SUB sends nothing
            await expect_nothing_then(xpub, sub, b"M1")
            sub.subscribe(b"A")
            assert await xpub.recv() == [b"\x01A"]
            sub.subscribe(b"A")  # counted by the SUB; a duplicate for the XPUB
            await expect_nothing_then(xpub, sub, b"M2")
            sub.unsubscribe(b"A")  # one reference left: the SUB sends nothing
            sub.unsubscribe(b"A")
            assert await xpub.recv() == [b"\x00A"]
            await expect_nothing_then(xpub, sub, b"M3")  # only one
            sub.unsubscribe(b"A")  # gone already: the SUB sends nothing
            await expect_nothing_then(xpub, sub, b"M4")

            xpub.set_option("xpub_verboser", True)
            sub.subscribe(b"A")
            assert await xpub.recv() == [b"\x01A"]
            await xpub.send(b"A")
            assert await sub.recv() == [b"A"]
            sub.unsubscribe(b"A")
            assert await xpub.recv() == [b"\x00A"]
            sub.unsubscribe(b"A")  # even with verboser: the SUB sends nothing
            await expect_nothing_then(xpub, sub, b"M5")


@pairings_param
@binds_param
async def test_xpub_verboser_two_subs(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.XPUB, transport=transport) as xpub,
            open_peers(zctx, sub_impl, trio_zmq.SUB, 2, transport=transport) as (sub0, sub1),
        ):
            await link([xpub], [sub0, sub1], binds)
            sub0.subscribe(b"A")
            assert await xpub.recv() == [b"\x01A"]
            sub1.subscribe(b"A")
            await expect_nothing_then(xpub, sub1, b"M1")
            sub0.unsubscribe(b"A")  # sub1 still has A: not reported
            await expect_nothing_then(xpub, sub0, b"M2")
            sub1.unsubscribe(b"A")
            assert await xpub.recv() == [b"\x00A"]
            await expect_nothing_then(xpub, sub1, b"M3")  # only one

            xpub.set_option("xpub_verboser", True)
            sub0.subscribe(b"A")
            sub1.subscribe(b"A")
            assert [await xpub.recv() for _ in range(2)] == [[b"\x01A"], [b"\x01A"]]
            await xpub.send(b"A")
            assert await sub0.recv() == [b"A"]
            assert await sub1.recv() == [b"A"]
            sub1.unsubscribe(b"A")  # reported, with verboser, though sub0 still has A
            assert await xpub.recv() == [b"\x00A"]
            sub0.unsubscribe(b"A")
            assert await xpub.recv() == [b"\x00A"]
            sub1.unsubscribe(b"A")  # not subscribed: the SUB sends nothing
            await expect_nothing_then(xpub, sub1, b"M4")


# --- test_hwm_pubsub.cpp ---------------------------------------------------------------------


@pytest.mark.parametrize("hwm", [100, 1000])
@pairings_param
@binds_param
async def test_hwm_pubsub_defaults(
    zctx: zmq.Context[Any],
    pub_impl: str,
    sub_impl: str,
    binds: str,
    hwm: int,
    transport: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As many messages as SNDHWM, sent at once to a subscriber that does not read, all arrive.

    For trio_zmq, one more in the same step is dropped (and counted). Over
    inproc the high-water marks combine: the subscriber's RCVHWM (1000) is
    room too, before the first drop. Over tcp and ipc a trio_zmq publisher
    writes the first message to an idle connection straight to the network
    (the latency path), so that one is not queued: one more fits. A second
    one would go that way too if the machine stalled for DIRECT_REARM
    between the first two sends: the test turns that off to count exactly.
    And the first goes that way only once the connection's writer has
    parked, which the handshake can beat (about one run in ten): the test
    waits for it.
    """
    monkeypatch.setattr(_pipe, "DIRECT_REARM", float("inf"))
    direct = 1 if pub_impl == "trio" and transport != "inproc" else 0  # the latency path's
    room = hwm + (1000 if transport == "inproc" else direct)
    with trio.fail_after(15):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.XPUB, sndhwm=hwm, transport=transport) as xpub,
            open_peer(zctx, sub_impl, trio_zmq.SUB, transport=transport) as sub,
        ):
            await link([xpub], [sub], binds)
            sub.subscribe(b"")
            assert await xpub.recv() == [b"\x01"]
            if direct:
                await wait_until(lambda: writers_idle(xpub.trio))
            for _ in range(room):
                xpub.send_nowait(b"test message")  # never blocks: an XPUB drops
            if xpub.is_trio:
                xpub.send_nowait(b"one too many")
                assert xpub.trio.statistics().messages_dropped == 1
            for _ in range(room):
                assert await sub.recv() == [b"test message"]
            await xpub.send(b"end")  # there is room again
            assert await sub.recv() == [b"end"]  # and nothing else came


@pairings_param
@binds_param
async def test_hwm_pubsub_blocking(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    """With ``xpub_nodrop``, a non-blocking send says "would block" and nothing is lost."""
    hwm, count, payload = 10, 100, b"b" * 64 * 1024
    with trio.fail_after(20):
        async with (
            open_peer(
                zctx, pub_impl, trio_zmq.XPUB, sndhwm=hwm, xpub_nodrop=True, transport=transport
            ) as xpub,
            open_peer(zctx, sub_impl, trio_zmq.SUB, rcvhwm=hwm, transport=transport) as sub,
        ):
            await link([xpub], [sub], binds)
            sub.subscribe(b"")
            assert await xpub.recv() == [b"\x01"]
            sent = received = blocked = 0
            while sent < count:
                try:
                    xpub.send_nowait(b"%d" % sent, payload)
                except trio.WouldBlock:
                    blocked += 1
                    # Make room. (libzmq may say EAGAIN until its socket has
                    # processed the "room again" command: poll, as libzmq's
                    # test receives with a 10 ms timeout.)
                    msg = sub.recv_nowait()
                    if msg is None:
                        await trio.sleep(0.001)
                        continue
                    assert msg == [b"%d" % received, payload]
                    received += 1
                else:
                    sent += 1
            assert blocked > 0
            async with trio.open_nursery() as nursery:
                # The pipeline may be full: "end" waits for room as the subscriber
                # reads (libzmq's test empties the subscriber first). Over ipc and
                # inproc there is far less room than TCP's loopback buffers hold.
                nursery.start_soon(xpub.send, b"end")
                got = await recv_until(sub, [b"end"])
            assert got == [[b"%d" % i, payload] for i in range(received, count)]


@pairings_param
@binds_param
async def test_hwm_pubsub_reset_hwm(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    """The HWM counts messages not yet delivered: two bursts that add up to more are fine."""
    hwm, first, second = 1000, 900, 200
    with trio.fail_after(15):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.PUB, sndhwm=hwm, transport=transport) as pub,
            open_peer(
                zctx, sub_impl, trio_zmq.SUB, rcvhwm=hwm, subscribe=b"", transport=transport
            ) as sub,
        ):
            await link([pub], [sub], binds)
            await settle(pub, [sub])
            for count in (first, second):
                for i in range(count):
                    pub.send_nowait(b"%d" % i)
                await pub.send(b"end")
                got = await recv_until(sub, [b"end"])
                assert got == [[b"%d" % i] for i in range(count)]
            if pub.is_trio:
                assert pub.trio.statistics().messages_dropped == 0


# --- test_mock_pub_sub.cpp -----------------------------------------------------------------------


@pytest.mark.parametrize("form", ["command", "message"])
@pytest.mark.parametrize("minor", [0, 1])
@role_param
@pytest.mark.parametrize("impl", ["trio", "libzmq"])
async def test_mock_sub(
    zctx: zmq.Context[Any], impl: str, role: str, minor: int, form: str
) -> None:
    """A scripted SUB subscribes to A with a command or a message, after a 3.0 or 3.1 greeting."""
    subscription = command(b"SUBSCRIBE", b"A") if form == "command" else frame(b"\x01A")
    assert subscription in (b"\x04\x0b\x09SUBSCRIBEA", b"\x00\x02\x01A")  # digest 1.10.1
    with trio.fail_after(10):
        async with (
            open_peer(zctx, impl, trio_zmq.XPUB) as xpub,
            raw_peer(xpub, role, minor, b"SUB") as (stream, reader),
        ):
            await stream.send_all(subscription)
            assert await xpub.recv() == [b"\x01A"]
            await xpub.send(b"ALOL")
            assert await reader.read_frame() == b"\x00\x04ALOL"
