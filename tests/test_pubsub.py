"""PUB, SUB, XPUB and XSUB against trio_zmq and against libzmq: filtering, subscriptions, drops.

libzmq's own publish-subscribe tests, re-expressed, are in
``test_spec_pubsub.py``; this file holds what both files share beyond
``peers.py`` (``link``, ``settle``) and the scenarios of RFC 29
and the digest (sections 1.10 and 3.2):

* prefix matching, with every subscriber getting each matching message
  whole (all its frames) or not at all;
* counted subscriptions, as the publisher sees them on the wire (a libzmq
  or trio_zmq XPUB with ``xpub_verboser`` reports every one);
* the wire forms: commands to ZMTP 3.1 peers, 0x01/0x00 messages to 3.0
  peers, both forms accepted by PUB and XPUB on every connection;
* a SUB resubscribing by itself to a publisher that restarts;
* a PUB that never blocks on a subscriber that does not read, counting
  what that subscriber misses;
* XPUB notifications (deduplicated, and for a subscriber that goes);
* XSUB: subscriptions written by the application, refcounted, filtered by
  the publisher, and messages fair-queued in without a local filter;
* the ``subscribe`` option, ``str`` topics, and SUB/XSUB's default linger 0;
* three differences from libzmq found while writing these tests, each
  pinned by a test that fails until trio_zmq is fixed (their docstrings say
  what libzmq does): ``test_xsub_keeps_the_order_of_subscriptions_written_and_made_by_method``,
  ``test_subscriptions_made_before_the_handshake_reach_the_publisher_as_made``,
  ``test_xsub_resends_each_topic_once_to_a_restarted_publisher``.

Each scenario runs trio_zmq with trio_zmq and trio_zmq with libzmq (pyzmq),
in both bind directions; ``PAIRINGS`` also runs libzmq in the role under
test, as the reference; each over tcp, ipc and inproc (the ``transport``
fixture; inproc with trio_zmq peers only), but for the raw ZMTP ones (tcp).
Pub-sub's "slow joiner" is handled without sleeps: ``settle`` sends probe
messages until every subscriber has one, and XPUB tests wait for the XPUB's
own notifications.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
import trio
import zmq

import trio_zmq

from .helpers import (
    NO_INPROC_RECONNECT,
    free_endpoint,
    linked,
    wait_for_peers,
    wait_until,
)
from .libzmq_peer import (
    RawReader,
    command,
    frame,
    greeting,
    message,
    ready,
)
from .peers import PAIRINGS, Message, Peer, connect_all, open_peer, open_peers
from .test_interop import open_raw

#: (publisher side, subscriber side): who is trio_zmq and who is libzmq.
pairings_param = pytest.mark.parametrize(("pub_impl", "sub_impl"), PAIRINGS)
#: Who binds: the publisher side (the subscribers connect) or the subscribers.
binds_param = pytest.mark.parametrize("binds", ["pub_binds", "sub_binds"])
#: The peers of a trio_zmq socket under test.
peer_param = pytest.mark.parametrize("peer_impl", ["trio", "libzmq"])
#: A raw ZMTP peer: it connects to the socket, or listens and is connected to.
role_param = pytest.mark.parametrize("role", ["raw_connects", "raw_listens"])


async def link(
    pubs: Sequence[Peer], subs: Sequence[Peer], binds: str, *, rebindable: bool = False
) -> list[str]:
    """Connect publishers and subscribers; ``binds`` says which side binds.

    They bind over their transport (``open_peer``); ``rebindable``: see ``Peer.bind``.
    """
    if binds == "pub_binds":
        return await connect_all(pubs, subs, rebindable=rebindable)
    return await connect_all(subs, pubs, rebindable=rebindable)


async def settle(pub: Peer, subs: Sequence[Peer], topic: bytes = b"") -> None:
    """Wait until ``pub`` sends ``topic`` to every one of ``subs``.

    Sends probe messages (``topic + b"~probe"``) until each subscriber has
    received one, then a last one that each subscriber reads up to: they
    are left with nothing queued.
    """
    probe, last = [topic + b"~probe"], [topic + b"~settled"]
    pending = set(range(len(subs)))
    while pending:
        await pub.send(*probe)
        for i in list(pending):
            msg = subs[i].recv_nowait()
            if msg is not None:
                assert msg == probe, msg
                pending.discard(i)
        await trio.sleep(0.002)
    await pub.send(*last)
    for sub in subs:
        await recv_until(sub, last)


async def recv_until(peer: Peer, last: Message) -> list[Message]:
    """Receive up to ``last``; return the messages before it."""
    got = []
    while (msg := await peer.recv()) != last:
        got.append(msg)
    return got


async def send_subscription(peer: Peer, topic: bytes, subscribe: bool = True) -> None:
    """Subscribe (or unsubscribe) a SUB by method and an XSUB with a 0x01/0x00 message."""
    if peer.socket_type == trio_zmq.XSUB:
        await peer.send((b"\x01" if subscribe else b"\x00") + topic)
    elif subscribe:
        peer.subscribe(topic)
    else:
        peer.unsubscribe(topic)


async def leave(xpub: Peer, sub: Peer, endpoint: str, binds: str) -> None:
    """``sub`` closes; with ``sub_binds``, ``xpub`` then disconnects from ``endpoint``.

    An XPUB that connected to a subscriber keeps that peer, subscriptions
    and all, while it tries to reconnect (libzmq keeps the session's pipe),
    so it reports nothing until it disconnects. The XPUB must have no
    notification pending. An inproc link ends with the socket at either end:
    there the XPUB reports at once, whoever bound.
    """
    peers = xpub.trio.statistics().peers if xpub.is_trio else 0
    sub.close()
    if binds == "sub_binds" and xpub.transport != "inproc":
        if xpub.is_trio:
            await wait_until(lambda: xpub.trio.statistics().peers < peers)
        else:
            await trio.sleep(0.1)  # only to see that nothing happens
        assert xpub.recv_nowait() is None
        xpub.disconnect(endpoint)


def matches(msg: Message, topics: Sequence[bytes]) -> bool:
    return any(msg[0].startswith(t) for t in topics)


# --- prefix matching, whole messages ----------------------------------------------------

#: Each subscriber's topics, and the messages published (multipart ones too).
TOPICS: list[list[bytes]] = [[b""], [b"ab", b"x"], [b"b"], [b"abc", b"ab"]]
MESSAGES: list[Message] = [
    [b"a"],
    [b"ab", b"1", b"2"],
    [b"abc"],
    [b"b"],
    [b"ba", b""],
    [b"x"],
    [b"", b"an empty first frame"],
    [b"y", b"ab"],  # only the first frame is matched
    [b"xab", b"", b"3"],
    [b"AB"],
    [b"abcd", b"x" * 300],
]
END = b"\xffend"


@pairings_param
@binds_param
async def test_each_subscriber_gets_the_messages_its_prefixes_match_whole(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    with trio.fail_after(15):
        async with AsyncExitStack() as stack:
            pub = await stack.enter_async_context(
                open_peer(zctx, pub_impl, trio_zmq.PUB, transport=transport)
            )
            subs = [
                await stack.enter_async_context(
                    open_peer(
                        zctx, sub_impl, trio_zmq.SUB, subscribe=[*topics, END], transport=transport
                    )
                )
                for topics in TOPICS
            ]
            await link([pub], subs, binds)
            await settle(pub, subs, END)
            for msg in MESSAGES:
                await pub.send(*msg)
            await pub.send(END)
            for sub, topics in zip(subs, TOPICS, strict=True):
                got = await recv_until(sub, [END])
                assert got == [m for m in MESSAGES if matches(m, topics)], topics
    assert [len([m for m in MESSAGES if matches(m, t)]) for t in TOPICS] == [11, 5, 2, 3]


# --- counted subscriptions, as the publisher sees them ------------------------------------


@pytest.mark.parametrize("sub_type", [trio_zmq.SUB, trio_zmq.XSUB], ids=["SUB", "XSUB"])
@pairings_param
@binds_param
async def test_subscriptions_are_counted_and_only_the_last_cancel_goes_upstream(
    zctx: zmq.Context[Any],
    pub_impl: str,
    sub_impl: str,
    binds: str,
    sub_type: trio_zmq.SocketType,
    transport: str,
) -> None:
    """Subscribing twice sends two SUBSCRIBEs; only the second unsubscribe sends a CANCEL.

    The XPUB has ``xpub_verboser``: it reports every subscription and every
    cancel it receives, so its notifications show what came on the wire.
    Each step that must send nothing is followed by a marker subscription,
    which must then be the next notification.
    """
    with trio.fail_after(15):
        async with (
            open_peer(
                zctx, pub_impl, trio_zmq.XPUB, xpub_verboser=True, transport=transport
            ) as xpub,
            open_peer(zctx, sub_impl, sub_type, transport=transport) as sub,
        ):
            await link([xpub], [sub], binds)
            # A first subscription tells us that the subscriber's pipe is attached.
            await send_subscription(sub, b"M0")
            assert await xpub.recv() == [b"\x01M0"]

            await send_subscription(sub, b"A")
            await send_subscription(sub, b"A")
            await send_subscription(sub, b"M1")
            assert [await xpub.recv() for _ in range(3)] == [[b"\x01A"], [b"\x01A"], [b"\x01M1"]]

            await send_subscription(sub, b"A", subscribe=False)  # one reference left
            await send_subscription(sub, b"M2")
            assert await xpub.recv() == [b"\x01M2"]

            # Still subscribed: the publisher sends A.
            await xpub.send(b"A-1")
            await xpub.send(b"M2-1")
            assert await sub.recv() == [b"A-1"]
            assert await sub.recv() == [b"M2-1"]

            await send_subscription(sub, b"A", subscribe=False)  # the last reference
            assert await xpub.recv() == [b"\x00A"]

            await send_subscription(sub, b"A", subscribe=False)  # nothing left to cancel
            await send_subscription(sub, b"M3")
            assert await xpub.recv() == [b"\x01M3"]

            # The publisher no longer sends A (an XSUB does not filter: it would see it).
            await xpub.send(b"A-2")
            await xpub.send(b"M3-2")
            assert await sub.recv() == [b"M3-2"]


# --- subscriptions on the wire: ZMTP 3.1 commands, ZMTP 3.0 messages ---------------------


@asynccontextmanager
async def raw_peer(
    sock: Peer, role: str, minor: int, socket_type: bytes
) -> AsyncIterator[tuple[trio.SocketStream, RawReader]]:
    """A raw ZMTP 3.``minor`` peer of ``sock``, handshake done (NULL, ``Socket-Type``)."""
    async with await open_raw(role, sock.bind, sock.connect) as stream:
        await stream.send_all(greeting(minor=minor) + ready(socket_type))
        reader = RawReader(stream)
        their_greeting = await reader.read_exactly(64)
        assert (their_greeting[0], their_greeting[9:11]) == (0xFF, b"\x7f\x03")
        ready_frame = await reader.read_frame()
        assert ready_frame[0] == 0x04
        assert ready_frame[2:8] == b"\x05READY"
        yield stream, reader


def subscription_frame(minor: int, topic: bytes, subscribe: bool = True) -> bytes:
    """A subscription as sent to a ZMTP 3.``minor`` peer (digest 1.10.1)."""
    if minor == 0:
        return frame((b"\x01" if subscribe else b"\x00") + topic)
    return command(b"SUBSCRIBE" if subscribe else b"CANCEL", topic)


#: What a SUB puts on the wire in ``test_sub_sends_subscriptions_in_the_form_its_peer_speaks``,
#: written out from digest 1.10.1.
EXPECTED_SUB_WIRE = {
    0: [b"\x00\x02\x01A", b"\x00\x01\x01", b"\x00\x02\x01A", b"\x00\x02\x00A", b"\x00\x01\x00"],
    1: [
        b"\x04\x0b\x09SUBSCRIBEA",
        b"\x04\x0a\x09SUBSCRIBE",
        b"\x04\x0b\x09SUBSCRIBEA",
        b"\x04\x08\x06CANCELA",
        b"\x04\x07\x06CANCEL",
    ],
}


async def read_while_probing(
    reader: RawReader,
    probe: Callable[[], Awaitable[None]],
    *,
    until: Callable[[bytes], bool] | None = None,
) -> list[bytes]:
    """Read frames while calling ``probe()`` every 10 ms; stop after a frame ``until`` accepts.

    ``until`` defaults to any frame. Returns every frame read.
    """
    frames: list[bytes] = []

    async def read(cancel_scope: trio.CancelScope) -> None:
        while True:
            frames.append(await reader.read_frame())
            if until is None or until(frames[-1]):
                cancel_scope.cancel()
                return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read, nursery.cancel_scope)
        while True:
            await probe()
            await trio.sleep(0.01)
    return frames


@pytest.mark.parametrize("minor", [0, 1])
@role_param
@pytest.mark.parametrize("impl", ["trio", "libzmq"])
async def test_sub_sends_subscriptions_in_the_form_its_peer_speaks(
    zctx: zmq.Context[Any], impl: str, role: str, minor: int
) -> None:
    """Legacy 0x01/0x00 messages to a ZMTP 3.0 peer, commands to a 3.1 peer; counted.

    libzmq 4.3.5's SUB (the reference) sends exactly the same bytes.
    """
    with trio.fail_after(10):
        async with (
            open_peer(zctx, impl, trio_zmq.SUB, subscribe=b"A") as sub,
            raw_peer(sub, role, minor, b"PUB") as (_, reader),
        ):
            wire = [await reader.read_frame()]  # the subscription made before connecting
            sub.subscribe(b"")
            wire.append(await reader.read_frame())
            sub.subscribe(b"A")  # a second reference: sent again
            wire.append(await reader.read_frame())
            sub.unsubscribe(b"A")  # one reference left: nothing goes out
            sub.unsubscribe(b"B")  # never subscribed: nothing goes out
            sub.unsubscribe(b"A")
            wire.append(await reader.read_frame())
            sub.unsubscribe(b"")
            wire.append(await reader.read_frame())
    assert wire == EXPECTED_SUB_WIRE[minor]
    assert wire == [
        subscription_frame(minor, b"A"),
        subscription_frame(minor, b""),
        subscription_frame(minor, b"A"),
        subscription_frame(minor, b"A", subscribe=False),
        subscription_frame(minor, b"", subscribe=False),
    ]


#: Topics around the short/long frame boundary: 0x01 + 254 bytes is the longest short frame.
LONG_TOPICS = [bytes(range(1, 255)), bytes(range(1, 255)) + b"+", b"t" * 300]


@pytest.mark.parametrize(
    ("impl", "minor"),
    [("trio", 0), ("trio", 1), ("libzmq", 1)],
    ids=["trio-3.0", "trio-3.1", "libzmq-3.1"],
)
async def test_long_topics_on_the_wire(zctx: zmq.Context[Any], impl: str, minor: int) -> None:
    """Subscriptions past 255 bytes use long frames, correctly sized, in both forms.

    (libzmq 4.3.5 is the reference only for 3.1: its legacy encoder writes a
    malformed frame for a 255-byte topic to a 3.0 peer, digest 1.10.4.)
    """
    with trio.fail_after(10):
        async with (
            open_peer(zctx, impl, trio_zmq.SUB) as sub,
            raw_peer(sub, "raw_connects", minor, b"PUB") as (_, reader),
        ):
            wire = []
            for topic in LONG_TOPICS:
                sub.subscribe(topic)
                wire.append(await reader.read_frame())
    assert wire == [subscription_frame(minor, t) for t in LONG_TOPICS]
    if minor == 0:
        assert wire[0][:2] == b"\x00\xff"  # short: 255 bytes
        assert wire[1][:9] == b"\x02" + (256).to_bytes(8, "big")
    else:
        assert wire[0][:19] == b"\x06" + (264).to_bytes(8, "big") + b"\x09SUBSCRIBE"


@pytest.mark.parametrize("form", ["command", "message"])
@pytest.mark.parametrize("minor", [0, 1])
async def test_xpub_takes_long_subscriptions(minor: int, form: str) -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.XPUB) as sock:
            xpub = Peer(sock)
            async with raw_peer(xpub, "raw_connects", minor, b"SUB") as (stream, _):
                for topic in LONG_TOPICS:
                    if form == "command":
                        await stream.send_all(command(b"SUBSCRIBE", topic))
                    else:
                        await stream.send_all(frame(b"\x01" + topic))
                    assert await xpub.recv() == [b"\x01" + topic]


@pytest.mark.parametrize("minor", [0, 1])
@role_param
@pytest.mark.parametrize("impl", ["trio", "libzmq"])
async def test_xsub_sends_what_the_application_writes(
    zctx: zmq.Context[Any], impl: str, role: str, minor: int
) -> None:
    """An XSUB forwards 0x01/0x00 messages as messages, even to a ZMTP 3.1 peer (digest 1.10.2).

    A cancel goes upstream only when it removes the last reference. trio_zmq's
    ``XSUB.subscribe`` convenience sends the peer's form, like a SUB.
    """
    with trio.fail_after(10):
        async with (
            open_peer(zctx, impl, trio_zmq.XSUB) as xsub,
            raw_peer(xsub, role, minor, b"PUB") as (_, reader),
        ):
            # libzmq drops what its XSUB sends before it has attached the peer: probe first.
            probes = await read_while_probing(reader, lambda: xsub.send(b"probe"))
            assert probes == [frame(b"probe")]

            async def next_frame() -> bytes:
                while (data := await reader.read_frame()) == frame(b"probe"):
                    pass
                return data

            await xsub.send(b"\x01A")
            assert await next_frame() == b"\x00\x02\x01A"
            await xsub.send(b"\x01A")  # counted, and forwarded
            assert await next_frame() == b"\x00\x02\x01A"
            await xsub.send(b"\x00A")  # one reference left: not forwarded
            await xsub.send(b"\x00Z")  # never subscribed: not forwarded
            await xsub.send(b"\x00A")
            assert await next_frame() == b"\x00\x02\x00A"
            await xsub.send(b"user", b"data")  # anything else goes upstream as it is
            assert await next_frame() == b"\x01\x04user"
            assert await next_frame() == b"\x00\x04data"
            if xsub.is_trio:
                xsub.trio.subscribe(b"B")
                assert await next_frame() == subscription_frame(minor, b"B")
                xsub.trio.unsubscribe("B")
                assert await next_frame() == subscription_frame(minor, b"B", subscribe=False)


@pytest.mark.parametrize("form", ["command", "message"])
@pytest.mark.parametrize("minor", [0, 1])
@role_param
@pytest.mark.parametrize("socket_type", [trio_zmq.PUB, trio_zmq.XPUB], ids=["PUB", "XPUB"])
async def test_publishers_accept_both_subscription_forms_from_any_peer(
    zctx: zmq.Context[Any], socket_type: trio_zmq.SocketType, role: str, minor: int, form: str
) -> None:
    """A trio_zmq PUB or XPUB applies SUBSCRIBE/CANCEL commands and 0x01/0x00 messages.

    From a peer that announced ZMTP 3.0 as from one that announced 3.1
    (digest 1.10.3, 6.1 item 9): a 3.1 peer may send legacy messages (libzmq's
    XSUB does) and the libzmq test ``test_mock_pub_sub`` sends commands after
    a 3.0 greeting.
    """

    def subscription(topic: bytes, subscribe: bool = True, *, other_form: bool = False) -> bytes:
        if (form == "command") != other_form:
            return command(b"SUBSCRIBE" if subscribe else b"CANCEL", topic)
        return frame((b"\x01" if subscribe else b"\x00") + topic)

    with trio.fail_after(10):
        async with open_peer(zctx, "trio", socket_type) as pub:  # noqa: SIM117
            async with raw_peer(pub, role, minor, b"SUB") as (stream, reader):
                await stream.send_all(subscription(b"A"))
                if socket_type == trio_zmq.XPUB:
                    assert await pub.recv() == [b"\x01A"]

                async def publish_a() -> None:
                    await pub.send(b"B-never")
                    await pub.send(b"A-yes")

                frames = await read_while_probing(reader, publish_a)
                assert frames == [frame(b"A-yes")]

                # The cancel comes in the other form: both are accepted on one connection.
                await stream.send_all(
                    subscription(b"A", subscribe=False, other_form=True) + subscription(b"C")
                )
                if socket_type == trio_zmq.XPUB:
                    assert await pub.recv() == [b"\x00A"]
                    assert await pub.recv() == [b"\x01C"]

                async def publish_c() -> None:
                    await pub.send(b"A-maybe")  # sent before the cancel was applied, perhaps
                    await pub.send(b"C-yes")

                frames = await read_while_probing(
                    reader, publish_c, until=lambda f: f == frame(b"C-yes")
                )
                assert set(frames) <= {frame(b"A-yes"), frame(b"A-maybe"), frame(b"C-yes")}
                # From now on A is cancelled and C subscribed.
                await pub.send(b"A-no")
                await pub.send(b"C-end")
                while (data := await reader.read_frame()) != frame(b"C-end"):
                    assert data == frame(b"C-yes")


# --- a publisher that restarts ------------------------------------------------------------


async def bind_again(peer: Peer, endpoint: str) -> None:
    """Bind ``endpoint`` again; libzmq closes a listener in its I/O thread, a moment later."""
    while True:
        try:
            await peer.bind(endpoint)
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EADDRINUSE:
                raise
            await trio.sleep(0.01)
        else:
            return


@pytest.mark.transport_skip("inproc", binds="pub_binds", reason=NO_INPROC_RECONNECT)
@pairings_param
@binds_param
async def test_sub_resubscribes_when_its_publisher_restarts(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    """After the restart, messages matching the old subscriptions arrive with no new subscribe.

    ``pub_binds``: the new PUB binds the same port and the SUB reconnects.
    ``sub_binds``: the new PUB connects to the SUB, a new peer the SUB must
    tell its subscriptions.
    """
    with trio.fail_after(15):
        async with open_peer(
            zctx, sub_impl, trio_zmq.SUB, subscribe=b"A", transport=transport
        ) as sub:
            async with open_peer(zctx, pub_impl, trio_zmq.PUB, transport=transport) as pub:
                [endpoint] = await link([pub], [sub], binds, rebindable=True)
                sub.subscribe(b"B")
                await settle(pub, [sub], b"A")
                await settle(pub, [sub], b"B")
            async with open_peer(zctx, pub_impl, trio_zmq.PUB, transport=transport) as pub:
                if binds == "pub_binds":
                    await bind_again(pub, endpoint)
                else:
                    pub.connect(endpoint)
                await settle(pub, [sub], b"A")
                await settle(pub, [sub], b"B")
                await pub.send(b"C-never")
                await pub.send(b"B-end")
                assert await sub.recv() == [b"B-end"]
        if sub.is_trio:
            assert sub.trio.statistics().handshakes == 2


# --- a subscriber that does not read --------------------------------------------------------


@peer_param
@binds_param
async def test_pub_never_blocks_and_counts_what_a_slow_subscriber_misses(
    zctx: zmq.Context[Any], peer_impl: str, binds: str, transport: str
) -> None:
    """A full subscriber misses messages (counted for it); the fast one gets every one.

    The PUB sends with ``send_nowait``, which would raise ``trio.WouldBlock``
    if it ever blocked. Each message is whole at the slow subscriber or
    not there at all.
    """
    n, payload = 200, b"p" * 64 * 1024
    with trio.fail_after(20):
        async with (
            open_peer(zctx, "trio", trio_zmq.PUB, sndhwm=4, transport=transport) as pub,
            open_peer(
                zctx, peer_impl, trio_zmq.SUB, subscribe=b"", rcvhwm=4, transport=transport
            ) as slow,
            open_peer(zctx, peer_impl, trio_zmq.SUB, subscribe=b"", transport=transport) as fast,
        ):
            endpoints = await link([pub], [slow, fast], binds)
            await settle(pub, [slow, fast])
            assert pub.trio.statistics().messages_dropped == 0
            for i in range(n):
                pub.trio.send_multipart_nowait([b"%d" % i, b"x", payload])
                assert await fast.recv() == [b"%d" % i, b"x", payload]  # paced by the fast one
            stats = pub.trio.statistics()
            dropped = stats.messages_dropped
            assert 0 < dropped < n
            details = stats.peer_details
            assert len(details) == 2
            assert sum(d.messages_dropped for d in details) == dropped
            if binds == "sub_binds":  # each peer has its own endpoint
                by_endpoint = {d.endpoint: d.messages_dropped for d in details}
                assert by_endpoint == {endpoints[0]: dropped, endpoints[1]: 0}
            else:
                assert sorted(d.messages_dropped for d in details) == [0, dropped]
            # The slow subscriber reads at last: what it gets is whole and in order.
            got = [await slow.recv() for _ in range(n - dropped)]
            numbers = [int(m[0]) for m in got]
            assert numbers == sorted(numbers)
            assert numbers[0] == 0
            assert all(m[1:] == [b"x", payload] for m in got)
            await pub.send(b"end")
            assert await slow.recv() == [b"end"]
            assert await fast.recv() == [b"end"]


# --- XPUB notifications ----------------------------------------------------------------------


@pairings_param
@binds_param
async def test_xpub_reports_a_topic_once_whatever_the_number_of_subscribers(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    """``\\x01A`` when A gets its first subscriber, ``\\x00A`` when it loses its last."""
    with trio.fail_after(15):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.XPUB, transport=transport) as xpub,
            open_peers(zctx, sub_impl, trio_zmq.SUB, 2, transport=transport) as subs,
        ):
            await link([xpub], subs, binds)
            for i, sub in enumerate(subs):
                sub.subscribe(b"M%d" % i)
                assert await xpub.recv() == [b"\x01M%d" % i]
            for i, sub in enumerate(subs):
                sub.subscribe(b"A")
                sub.subscribe(b"N%d" % i)
            # Each subscriber's N comes after its A: with both Ns, both As are in.
            got = [await xpub.recv() for _ in range(3)]
            assert sorted(got) == [[b"\x01A"], [b"\x01N0"], [b"\x01N1"]]
            subs[0].unsubscribe(b"A")  # subs[1] still has A
            subs[0].subscribe(b"O")
            assert await xpub.recv() == [b"\x01O"]
            await xpub.send(b"A-1")
            await xpub.send(b"O-1")
            assert await subs[0].recv() == [b"O-1"]
            assert await subs[1].recv() == [b"A-1"]
            subs[1].unsubscribe(b"A")
            assert await xpub.recv() == [b"\x00A"]


@pytest.mark.parametrize("verboser", [False, True], ids=["", "verboser"])
@pairings_param
@binds_param
async def test_xpub_reports_the_topics_a_departing_subscriber_leaves_without_subscriber(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, verboser: bool, transport: str
) -> None:
    """When a subscriber goes, ``\\x00topic`` for each topic nobody else has.

    With ``xpub_verboser``, for each topic it had.

    An XPUB that connected to the subscriber keeps the peer (and its
    subscriptions) while it reconnects, as libzmq's does; disconnecting
    ends it.
    """
    with trio.fail_after(15):
        async with (
            open_peer(
                zctx, pub_impl, trio_zmq.XPUB, xpub_verboser=verboser, transport=transport
            ) as xpub,
            open_peer(
                zctx, sub_impl, trio_zmq.SUB, subscribe=[b"A", b"B", b"M0"], transport=transport
            ) as sub0,
            open_peer(
                zctx, sub_impl, trio_zmq.SUB, subscribe=[b"B", b"M1"], transport=transport
            ) as sub1,
        ):
            endpoints = await link([xpub], [sub0, sub1], binds)
            # Verboser reports sub1's B too.
            got = [await xpub.recv() for _ in range(4 + verboser)]
            assert sorted(got) == [[b"\x01A"]] + [[b"\x01B"]] * (1 + verboser) + [
                [b"\x01M0"],
                [b"\x01M1"],
            ]
            await settle(xpub, [sub0, sub1], b"B")

            await leave(xpub, sub0, endpoints[0], binds)
            if verboser:
                got = [await xpub.recv() for _ in range(3)]
                assert sorted(got) == [[b"\x00A"], [b"\x00B"], [b"\x00M0"]]
            else:
                got = [await xpub.recv() for _ in range(2)]
                assert sorted(got) == [[b"\x00A"], [b"\x00M0"]]  # B still has sub1
            await leave(xpub, sub1, endpoints[-1], binds)
            got = [await xpub.recv() for _ in range(2)]
            assert sorted(got) == [[b"\x00B"], [b"\x00M1"]]


# --- XSUB -------------------------------------------------------------------------------------


@pairings_param
@binds_param
async def test_xsub_subscriptions_go_upstream_and_the_publisher_filters(
    zctx: zmq.Context[Any], pub_impl: str, sub_impl: str, binds: str, transport: str
) -> None:
    """An XSUB does not filter: what it receives is what the PUB chose to send it."""
    with trio.fail_after(15):
        async with (
            open_peer(zctx, pub_impl, trio_zmq.PUB, transport=transport) as pub,
            open_peer(zctx, sub_impl, trio_zmq.XSUB, transport=transport) as xsub,
        ):
            await link([pub], [xsub], binds)
            await xsub.send(b"\x01A")
            await settle(pub, [xsub], b"A")
            await pub.send(b"B-1")
            await pub.send(b"A-end")
            assert await xsub.recv() == [b"A-end"]

            await xsub.send(b"\x00A")
            await xsub.send(b"\x01C")
            await settle(pub, [xsub], b"C")  # the cancel came before C: A is gone
            await pub.send(b"A-2")
            await pub.send(b"C-end")
            assert await xsub.recv() == [b"C-end"]


@peer_param
@binds_param
async def test_pub_drops_what_an_xsub_sends_upstream(
    zctx: zmq.Context[Any], peer_impl: str, binds: str, transport: str
) -> None:
    """A PUB has no ``recv``: an XSUB's user messages are dropped (counted), not queued."""
    with trio.fail_after(10):
        async with (
            open_peer(zctx, "trio", trio_zmq.PUB, transport=transport) as pub,
            open_peer(zctx, peer_impl, trio_zmq.XSUB, transport=transport) as xsub,
        ):
            await link([pub], [xsub], binds)
            await xsub.send(b"\x01A")
            await settle(pub, [xsub], b"A")
            await xsub.send(b"hello", b"upstream")
            await xsub.send(b"\x01B")  # after the user message, on the same connection
            await settle(pub, [xsub], b"B")
            stats = pub.trio.statistics()
            assert stats.messages_dropped == 1
            assert stats.queued_inbound == 0
            with pytest.raises(trio_zmq.OperationNotSupported):
                pub.trio.recv_nowait()


@role_param
@pytest.mark.parametrize("socket_type", [trio_zmq.SUB, trio_zmq.XSUB], ids=["SUB", "XSUB"])
@pytest.mark.parametrize("impl", ["trio", "libzmq"])
async def test_sub_filters_what_it_receives_and_xsub_does_not(
    zctx: zmq.Context[Any], impl: str, socket_type: trio_zmq.SocketType, role: str
) -> None:
    """A publisher that ignores subscriptions (a raw peer here, or PGM) sends everything.

    A SUB drops what matches none of its subscriptions, whole; an XSUB passes
    everything on (digest 1.10.5, 3.2).
    """
    options: dict[str, Any] = {"subscribe": b"A"} if socket_type == trio_zmq.SUB else {}
    with trio.fail_after(10):
        async with (
            open_peer(zctx, impl, socket_type, **options) as sock,
            raw_peer(sock, role, 1, b"PUB") as (stream, reader),
        ):
            if socket_type == trio_zmq.XSUB:
                await sock.send(b"\x01A")
            # The subscription arrives (a command, or the XSUB's message).
            assert await reader.read_frame() in (subscription_frame(1, b"A"), frame(b"\x01A"))
            published = [[b"B-1"], [b"A-1"], [b"B-2", b"A"], [b"AB", b"", b"x"], [b"", b"A"]]
            await stream.send_all(b"".join(message(*m) for m in published) + message(b"A-end"))
            got = await recv_until(sock, [b"A-end"])
            if socket_type == trio_zmq.SUB:
                assert got == [m for m in published if m[0].startswith(b"A")]
            else:
                assert got == published
            if sock.is_trio and socket_type == trio_zmq.SUB:
                assert sock.trio.statistics().messages_dropped == 3


@pytest.mark.parametrize("socket_type", [trio_zmq.SUB, trio_zmq.XSUB], ids=["SUB", "XSUB"])
async def test_recv_of_a_multipart_message_leaves_it_and_sub_still_filters(
    zctx: zmq.Context[Any], socket_type: trio_zmq.SocketType
) -> None:
    """``recv`` (one frame) on SUB and XSUB: the filter applies, a multipart message stays.

    They take a single-frame message in one walk; a SUB must still drop what
    matches no subscription first, and a multipart message raises
    MultipartMessageError and is left for ``recv_multipart``.
    """
    options: dict[str, Any] = {"subscribe": b"A"} if socket_type == trio_zmq.SUB else {}
    with trio.fail_after(10):
        async with (
            open_peer(zctx, "trio", socket_type, **options) as sock,
            raw_peer(sock, "bind", 1, b"PUB") as (stream, reader),
        ):
            if socket_type == trio_zmq.XSUB:
                await sock.send(b"\x01A")
            assert await reader.read_frame() in (subscription_frame(1, b"A"), frame(b"\x01A"))
            published = [[b"B-1"], [b"A", b"two"], [b"A-1"], [b"B-2"], [b"A-2"]]
            await stream.send_all(b"".join(message(*m) for m in published))
            await wait_until(lambda: sock.trio.statistics().queued_inbound == 5)
            if socket_type == trio_zmq.XSUB:
                assert await sock.trio.recv() == b"B-1"
            with pytest.raises(trio_zmq.MultipartMessageError):
                await sock.trio.recv()
            with pytest.raises(trio_zmq.MultipartMessageError):
                sock.trio.recv_nowait()
            assert await sock.trio.recv_multipart() == [b"A", b"two"]
            assert await sock.trio.recv() == b"A-1"
            if socket_type == trio_zmq.XSUB:
                assert sock.trio.recv_nowait() == b"B-2"
            assert sock.trio.recv_nowait() == b"A-2"
            dropped = 2 if socket_type == trio_zmq.SUB else 0
            assert sock.trio.statistics().messages_dropped == dropped


@peer_param
@binds_param
async def test_xsub_fair_queues_its_publishers(
    zctx: zmq.Context[Any], peer_impl: str, binds: str, transport: str
) -> None:
    n, count = 3, 20
    with trio.fail_after(15):
        async with (
            open_peer(zctx, "trio", trio_zmq.XSUB, transport=transport) as xsub,
            open_peers(zctx, peer_impl, trio_zmq.XPUB, n, transport=transport) as xpubs,
        ):
            await link(xpubs, [xsub], binds)
            await xsub.send(b"\x01")  # everything
            for xpub in xpubs:
                assert await xpub.recv() == [b"\x01"]
            async with trio.open_nursery() as nursery:
                for s, xpub in enumerate(xpubs):
                    if xpub.is_trio:
                        for i in range(count):
                            await xpub.send(b"%d" % s, b"%d" % i)
                    else:
                        msgs = [[b"%d" % s, b"%d" % i] for i in range(count)]
                        nursery.start_soon(xpub.libzmq.send_many, msgs)
            await wait_until(lambda: xsub.trio.statistics().queued_inbound == n * count)
            received = [await xsub.recv() for _ in range(n * count)]
            assert xsub.recv_nowait() is None
    senders = [int(m[0]) for m in received]
    for s in range(n):
        assert [int(m[1]) for m in received if int(m[0]) == s] == list(range(count))
    for i in range(len(senders) - n + 1):  # one message from each publisher in turn
        assert len(set(senders[i : i + n])) == n, senders


async def test_xsub_keeps_the_order_of_subscriptions_written_and_made_by_method(
    transport: str,
) -> None:
    """``XSUB.subscribe``/``unsubscribe`` are documented as the 0x01/0x00 messages.

    So they must reach the publisher in the order the application wrote
    them. Here the application sends ``\\x01A`` then calls ``unsubscribe("A")``
    in the same step (``send_nowait``): the publisher must end up without A.
    """
    with trio.fail_after(10):
        async with linked(
            trio_zmq.XPUB, trio_zmq.XSUB, {"xpub_verboser": True}, transport=transport
        ) as (xpub, xsub):
            await wait_for_peers(xpub, 1)
            await wait_for_peers(xsub, 1)
            xsub.send_nowait(b"\x01A")
            xsub.unsubscribe(b"A")
            xsub.subscribe(b"M")
            got = [await xpub.recv() for _ in range(3)]
            await xpub.send(b"A-1")
            await xpub.send(b"M-1")
            first = await xsub.recv()
    assert got == [b"\x01A", b"\x00A", b"\x01M"]
    assert first == b"M-1"  # an XSUB does not filter: A-1 would show


@pytest.mark.parametrize("socket_type", [trio_zmq.SUB, trio_zmq.XSUB], ids=["SUB", "XSUB"])
@pairings_param
async def test_subscriptions_made_before_the_handshake_reach_the_publisher_as_made(
    zctx: zmq.Context[Any],
    pub_impl: str,
    sub_impl: str,
    socket_type: trio_zmq.SocketType,
    transport: str,
) -> None:
    """What is subscribed between ``connect`` and the handshake goes out as it was made.

    libzmq creates the pipe at ``connect``: a SUB that subscribes to A twice
    there queues two SUBSCRIBEs, and a verbose XPUB reports both (digest
    1.10.5: every subscribe is forwarded); an XSUB's ``\\x01A`` message is
    sent once. (Topics subscribed before ``connect`` go once per topic, in
    both.) The marker M, subscribed once the XPUB has seen A, comes after.
    An inproc link has no handshake: there the SUB connects before the bind.
    """
    with trio.fail_after(10):
        async with (
            open_peer(
                zctx, pub_impl, trio_zmq.XPUB, xpub_verbose=True, transport=transport
            ) as xpub,
            open_peer(zctx, sub_impl, socket_type, transport=transport) as sub,
        ):
            bind_later = transport == "inproc"
            endpoint = await free_endpoint(transport) if bind_later else await xpub.bind()
            sub.connect(endpoint)
            if socket_type == trio_zmq.SUB:
                sub.subscribe(b"A")
                sub.subscribe(b"A")
            else:
                await sub.send(b"\x01A")
            if sub.is_trio:
                assert sub.trio.statistics().peers == 0  # no handshake (or bind) yet
            if bind_later:
                await xpub.bind(endpoint)
            got = [await xpub.recv()]
            await send_subscription(sub, b"M")
            got += await recv_until(xpub, [b"\x01M"])
    assert got == [[b"\x01A"]] * (2 if socket_type == trio_zmq.SUB else 1)


@pytest.mark.transport_skip("inproc", reason=NO_INPROC_RECONNECT)
@pytest.mark.parametrize("xsub_impl", ["trio", "libzmq"])
async def test_xsub_resends_each_topic_once_to_a_restarted_publisher(
    zctx: zmq.Context[Any], xsub_impl: str, transport: str
) -> None:
    """A reconnected publisher gets every topic once, however it was subscribed.

    libzmq's XSUB drops what it queued for the lost connection and sends its
    topics again (``xhiccuped``). Here B is subscribed (by a ``\\x01B``
    message) while the publisher is away: the new one, a verbose XPUB, must
    see A and B once each, then the marker M.
    """
    with trio.fail_after(10):
        async with open_peer(zctx, xsub_impl, trio_zmq.XSUB, transport=transport) as xsub:
            async with open_peer(
                zctx, "trio", trio_zmq.XPUB, xpub_verbose=True, transport=transport
            ) as xpub:
                [endpoint] = await link([xpub], [xsub], "pub_binds", rebindable=True)
                await xsub.send(b"\x01A")
                assert await xpub.recv() == [b"\x01A"]
            if xsub.is_trio:
                await wait_until(lambda: xsub.trio.statistics().peers == 0)
            else:
                await trio.sleep(0.1)  # for libzmq to see the connection go
            await xsub.send(b"\x01B")
            async with open_peer(
                zctx, "trio", trio_zmq.XPUB, xpub_verbose=True, transport=transport
            ) as xpub:
                await bind_again(xpub, endpoint)
                got = [await xpub.recv()]  # the XSUB has reconnected
                await xsub.send(b"\x01M")
                got += await recv_until(xpub, [b"\x01M"])
    assert sorted(got) == [[b"\x01A"], [b"\x01B"]]


# --- options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subscribe",
    [b"a", "a", [b"a", "\u00e9t\u00e9"], ("a", b"b")],
    ids=["bytes", "str", "list", "tuple"],
)
@peer_param
@binds_param
async def test_the_subscribe_option_at_creation(
    zctx: zmq.Context[Any], peer_impl: str, binds: str, subscribe: Any, transport: str
) -> None:
    topics = [subscribe] if isinstance(subscribe, bytes | str) else list(subscribe)
    expected_topics = [t.encode() if isinstance(t, str) else t for t in topics]
    published = [b"a-1", "\u00e9t\u00e9-1".encode(), b"b-1", b"c-1", b"A-1"]
    with trio.fail_after(10):
        async with (
            open_peer(zctx, "trio", trio_zmq.SUB, subscribe=subscribe, transport=transport) as sub,
            open_peer(zctx, peer_impl, trio_zmq.PUB, transport=transport) as pub,
        ):
            assert sub.trio._options.subscribe == tuple(expected_topics)
            await link([pub], [sub], binds)
            await settle(pub, [sub], b"a")
            for data in published:
                await pub.send(data)
            await pub.send(b"a-end")
            got = await recv_until(sub, [b"a-end"])
    assert got == [[m] for m in published if matches([m], expected_topics)]


@peer_param
@binds_param
async def test_str_topics_are_utf8(
    zctx: zmq.Context[Any], peer_impl: str, binds: str, transport: str
) -> None:
    with trio.fail_after(10):
        async with (
            open_peer(zctx, "trio", trio_zmq.SUB, transport=transport) as sub,
            open_peer(zctx, peer_impl, trio_zmq.XPUB, transport=transport) as xpub,
        ):
            await link([xpub], [sub], binds)
            sub.trio.subscribe("\u00e9")
            assert await xpub.recv() == [b"\x01" + "\u00e9".encode()]
            sub.trio.subscribe("z")
            assert await xpub.recv() == [b"\x01z"]
            await xpub.send("\u00e9-1".encode())
            assert await sub.trio.recv_string() == "\u00e9-1"
            sub.trio.unsubscribe("\u00e9")
            assert await xpub.recv() == [b"\x00" + "\u00e9".encode()]
            await xpub.send("\u00e9-2".encode())
            await xpub.send(b"z-end")
            assert await sub.recv() == [b"z-end"]


async def test_subscribe_argument_errors() -> None:
    with trio.fail_after(5):
        async with trio_zmq.open_socket(trio_zmq.SUB) as sub:
            with pytest.raises(TypeError):
                sub.subscribe(1)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                sub.unsubscribe(None)  # type: ignore[arg-type]
            with pytest.raises(trio_zmq.OperationNotSupported):
                await sub.send(b"\x01A")  # a SUB cannot send
        with pytest.raises(TypeError, match="subscribe"):
            async with trio_zmq.open_socket(trio_zmq.SUB, subscribe=1):
                pass
        with pytest.raises(TypeError, match="subscribe"):
            async with trio_zmq.open_socket(trio_zmq.PUB, subscribe=b"A"):
                pass
        async with trio_zmq.open_socket(trio_zmq.PUB) as pub:
            with pytest.raises(trio_zmq.OperationNotSupported):
                pub.subscribe(b"A")
            with pytest.raises(trio_zmq.OperationNotSupported):
                await pub.recv()
        async with trio_zmq.open_socket(trio_zmq.XPUB) as xpub:
            with pytest.raises(trio_zmq.OperationNotSupported):
                xpub.subscribe(b"A")  # only with xpub_manual
        with pytest.raises(TypeError, match="subscribe"):  # as libzmq's XSUB (EINVAL)
            async with trio_zmq.open_socket(trio_zmq.XSUB, subscribe=b"A"):
                pass


async def test_sub_and_xsub_linger_0_by_default_as_in_libzmq(zctx: zmq.Context[Any]) -> None:
    """libzmq's SUB and XSUB set linger 0 (digest 3.1); PUB and XPUB keep -1 (forever)."""
    for socket_type in (trio_zmq.PUB, trio_zmq.SUB, trio_zmq.XPUB, trio_zmq.XSUB):
        zsock = zctx.socket(int(socket_type))
        libzmq_linger = zsock.getsockopt(zmq.LINGER)
        zsock.close()
        async with trio_zmq.open_socket(socket_type) as sock:
            assert sock.linger == (None if libzmq_linger == -1 else libzmq_linger / 1000)
        assert libzmq_linger == (0 if socket_type in (trio_zmq.SUB, trio_zmq.XSUB) else -1)

    # An XSUB with messages queued for a publisher that is not there closes at once...
    endpoint = await free_endpoint()
    with trio.fail_after(5):
        async with trio_zmq.open_socket(trio_zmq.XSUB) as xsub:
            xsub.connect(endpoint)
            await xsub.send(b"\x01A")
            await xsub.send(b"upstream")
            assert xsub.statistics().queued_outbound == 2
            await xsub.aclose()
        assert xsub.closed
        # ...and with linger=None it waits for them to be sent.
        async with trio_zmq.open_socket(trio_zmq.XSUB, linger=None) as xsub:
            xsub.connect(endpoint)
            await xsub.send(b"upstream")
            with trio.move_on_after(0.1) as scope:
                await xsub.aclose()
            assert scope.cancelled_caught
            xsub.close()
