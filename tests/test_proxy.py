"""trio_zmq.proxy: pub-sub forwarders, brokers, pipelines and capture, against trio_zmq and libzmq.

The proxy itself is always trio_zmq; the sockets around it are trio_zmq or
libzmq (through pyzmq), connected in both bind directions on each hop.
Publish-subscribe tests cope with slow joiners by publishing round after
round until every subscriber has had a message (as a real publisher does
anyway), then check what each one got.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Literal

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq import SocketType

from .helpers import LOOPBACK, wait_for_peers, wait_until
from .libzmq_peer import DEFAULT_TIMEOUT, LibzmqSocket, libzmq_socket

Impl = Literal["trio", "libzmq"]

#: Topics of the subscribers (weather-update style), and one nobody subscribes to.
TOPICS = (b"10001 ", b"10002 ", b"10003 ")
NOISE = b"99999 "


class Peer:
    """A trio_zmq or a libzmq socket around the proxy, behind one small interface."""

    def __init__(
        self,
        socket_type: SocketType,
        trio_sock: trio_zmq.Socket | None,
        zmq_sock: LibzmqSocket | None,
    ) -> None:
        self.socket_type = socket_type
        self.trio = trio_sock
        self.zmq = zmq_sock

    async def bind(self) -> str:
        if self.trio is not None:
            return await self.trio.bind(LOOPBACK)
        assert self.zmq is not None
        return self.zmq.bind()

    def connect(self, endpoint: str) -> None:
        if self.trio is not None:
            self.trio.connect(endpoint)
        else:
            assert self.zmq is not None
            self.zmq.connect(endpoint)

    async def send(self, data: bytes) -> None:
        await self.send_multipart([data])

    async def send_multipart(self, frames: Sequence[bytes]) -> None:
        if self.trio is not None:
            await self.trio.send_multipart(frames)
        else:
            assert self.zmq is not None
            await self.zmq.send_multipart(frames)

    async def recv(self) -> bytes:
        (data,) = await self.recv_multipart()
        return data

    async def recv_multipart(self) -> list[bytes]:
        if self.trio is not None:
            return await self.trio.recv_multipart()
        assert self.zmq is not None
        return await self.zmq.recv_multipart()

    async def subscribe(self, topic: bytes, subscribe: bool = True) -> None:
        """SUB: the option (or method); XSUB: a ``0x01``/``0x00`` message, as libzmq users do.

        On a libzmq SUB, call it while no worker thread uses the socket.
        """
        if self.socket_type is SocketType.XSUB:
            await self.send((b"\x01" if subscribe else b"\x00") + topic)
        elif self.trio is not None:
            (self.trio.subscribe if subscribe else self.trio.unsubscribe)(topic)
        else:
            assert self.zmq is not None
            self.zmq.sock.setsockopt(zmq.SUBSCRIBE if subscribe else zmq.UNSUBSCRIBE, topic)

    def close(self) -> None:
        if self.trio is not None:
            self.trio.close()
        else:
            assert self.zmq is not None
            self.zmq.close()


@asynccontextmanager
async def open_peer(
    impl: Impl,
    socket_type: SocketType,
    zctx: zmq.Context[Any],
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> AsyncIterator[Peer]:
    if impl == "trio":
        async with trio_zmq.open_socket(socket_type) as sock:
            yield Peer(socket_type, sock, None)
    else:
        with libzmq_socket(zctx, int(socket_type), timeout=timeout) as zsock:
            yield Peer(socket_type, None, zsock)


async def link(binder: Peer | trio_zmq.Socket, connecter: Peer | trio_zmq.Socket) -> None:
    """Bind ``binder`` on a kernel-chosen loopback port and connect ``connecter`` to it."""
    endpoint = await binder.bind() if isinstance(binder, Peer) else await binder.bind(LOOPBACK)
    connecter.connect(endpoint)


@asynccontextmanager
async def running_proxy(
    frontend: trio_zmq.Socket, backend: trio_zmq.Socket, capture: trio_zmq.Socket | None = None
) -> AsyncIterator[None]:
    """Run ``trio_zmq.proxy`` in the background for the duration of the block."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio_zmq.proxy, frontend, backend, capture)
        yield
        nursery.cancel_scope.cancel()


async def publish_until_each_receives(
    publisher: Peer,
    subscribers: dict[bytes, Peer],
    *,
    first: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Publish until every subscriber has its topic, then check each got only its topic.

    Slow joiners: rounds of one unsubscribed message and one message per
    topic go out until each subscriber has received one; then an end marker
    per topic goes out once (every path is up by then), and each subscriber
    reads up to its marker. ``first`` runs once the subscribers are reading
    (a libzmq socket that binds only takes in a connection, and sends its
    subscriptions, while its application thread is in a call).
    """
    received: dict[bytes, list[bytes]] = {topic: [] for topic in subscribers}
    got_one = {topic: trio.Event() for topic in subscribers}

    async def collect(topic: bytes, sub: Peer) -> None:
        # Ends by itself (never cancelled: a libzmq recv runs in a thread).
        while not received[topic] or received[topic][-1] != topic + b"end":
            received[topic].append(await sub.recv())
            got_one[topic].set()

    async with trio.open_nursery() as nursery:
        for topic, sub in subscribers.items():
            nursery.start_soon(collect, topic, sub)
        if first is not None:
            await first()
        n = 0
        while not all(event.is_set() for event in got_one.values()):
            await publisher.send(NOISE + b"%d" % n)
            for topic in subscribers:
                await publisher.send(topic + b"%d" % n)
            n += 1
            with trio.move_on_after(0.005):  # the pace of the rounds, not a synchronisation
                for event in got_one.values():
                    await event.wait()
        await publisher.send(NOISE + b"end")
        for topic in subscribers:
            await publisher.send(topic + b"end")
    for topic, messages in received.items():
        assert messages[-1] == topic + b"end"
        assert all(m.startswith(topic) for m in messages), (topic, messages)


# --- XSUB/XPUB: a publish-subscribe forwarder -----------------------------------


@pytest.mark.parametrize("impl", ["trio", "libzmq"])
@pytest.mark.parametrize("publisher_type", [SocketType.PUB, SocketType.XPUB], ids=["PUB", "XPUB"])
@pytest.mark.parametrize("frontend_binds", ["proxy", "publisher"], ids=lambda s: f"{s}-binds")
@pytest.mark.parametrize("backend_binds", ["proxy", "subscribers"], ids=lambda s: f"{s}-bind")
async def test_xsub_xpub_proxy_forwards_subscriptions_up_and_messages_down(
    zctx: zmq.Context[Any],
    impl: Impl,
    publisher_type: SocketType,
    frontend_binds: str,
    backend_binds: str,
) -> None:
    """Two SUBs and an XSUB (which does not filter) behind the proxy, one topic each.

    The XSUB subscriber only gets its topic if the proxy's XPUB filters; an
    XPUB publisher sees each subscription arrive through the proxy, and an
    unsubscription too.
    """
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.XSUB) as frontend,
            trio_zmq.open_socket(trio_zmq.XPUB) as backend,
            AsyncExitStack() as stack,
        ):
            publisher = await stack.enter_async_context(open_peer(impl, publisher_type, zctx))
            sub_types = (SocketType.SUB, SocketType.SUB, SocketType.XSUB)
            subscribers = {
                topic: await stack.enter_async_context(open_peer(impl, sub_type, zctx))
                for topic, sub_type in zip(TOPICS, sub_types, strict=True)
            }
            if frontend_binds == "proxy":
                await link(frontend, publisher)
            else:
                await link(publisher, frontend)
            for sub in subscribers.values():
                if backend_binds == "proxy":
                    await link(backend, sub)
                else:
                    await link(sub, backend)
            for topic, sub in subscribers.items():
                await sub.subscribe(topic)

            async def check_notices() -> None:
                notices = {await publisher.recv() for _ in TOPICS}
                assert notices == {b"\x01" + topic for topic in TOPICS}

            async with running_proxy(frontend, backend):
                await publish_until_each_receives(
                    publisher,
                    subscribers,
                    first=check_notices if publisher_type is SocketType.XPUB else None,
                )
                if publisher_type is SocketType.XPUB:
                    # Unsubscribing travels up as well (the last reference went).
                    await subscribers[TOPICS[0]].subscribe(TOPICS[0], subscribe=False)
                    assert await publisher.recv() == b"\x00" + TOPICS[0]


@pytest.mark.parametrize("publisher_binds", [False, True], ids=["proxy-binds", "publisher-binds"])
async def test_a_late_publisher_gets_the_subscriptions_already_forwarded(
    zctx: zmq.Context[Any], publisher_binds: bool
) -> None:
    """Subscriptions that passed the proxy before the publisher came are sent to it when it does."""
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.XSUB) as frontend,
            trio_zmq.open_socket(trio_zmq.XPUB) as backend,
            trio_zmq.open_socket(trio_zmq.PAIR) as capture,
            trio_zmq.open_socket(trio_zmq.PAIR) as captured,
            AsyncExitStack() as stack,
        ):
            await link(captured, capture)
            subscribers = {
                topic: await stack.enter_async_context(open_peer("libzmq", SocketType.SUB, zctx))
                for topic in TOPICS[:2]
            }
            for topic, sub in subscribers.items():
                await sub.subscribe(topic)
                await link(backend, sub)
            if not publisher_binds:
                frontend_endpoint = await frontend.bind(LOOPBACK)
            async with running_proxy(frontend, backend, capture):
                # Both subscriptions went through the proxy (with no publisher yet).
                seen = {await captured.recv() for _ in subscribers}
                assert seen == {b"\x01" + topic for topic in subscribers}
                publisher = await stack.enter_async_context(
                    open_peer("libzmq", SocketType.XPUB, zctx)
                )
                if publisher_binds:
                    frontend.connect(await publisher.bind())
                else:
                    publisher.connect(frontend_endpoint)
                notices = {await publisher.recv() for _ in subscribers}
                assert notices == {b"\x01" + topic for topic in subscribers}
                await publish_until_each_receives(publisher, subscribers)


@pytest.mark.parametrize("impl", ["trio", "libzmq"])
async def test_a_topic_two_subscribers_share_is_cancelled_upstream_when_both_are_gone(
    zctx: zmq.Context[Any], impl: Impl
) -> None:
    """The proxy's XPUB passes a shared topic up once, and its cancel once the last one goes.

    The first subscriber unsubscribes, then subscribes to a marker topic: the
    publisher sees the marker next, not a cancel. The second one goes away
    (its connection closes): now the publisher sees the cancel.
    """
    shared, marker = TOPICS[0], TOPICS[1]
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.XSUB) as frontend,
            trio_zmq.open_socket(trio_zmq.XPUB) as backend,
            AsyncExitStack() as stack,
        ):
            publisher = await stack.enter_async_context(open_peer("libzmq", SocketType.XPUB, zctx))
            await link(publisher, frontend)
            subs = [
                await stack.enter_async_context(open_peer(impl, SocketType.SUB, zctx))
                for _ in range(2)
            ]
            async with running_proxy(frontend, backend):
                for sub in subs:
                    await sub.subscribe(shared)
                    await link(backend, sub)
                assert await publisher.recv() == b"\x01" + shared
                await publish_until_each_receives(publisher, {shared: subs[0]})
                await publish_until_each_receives(publisher, {shared: subs[1]})
                await subs[0].subscribe(shared, subscribe=False)
                await subs[0].subscribe(marker)
                assert await publisher.recv() == b"\x01" + marker
                subs[1].close()
                assert await publisher.recv() == b"\x00" + shared


async def test_subscriptions_are_sent_again_to_a_restarted_publisher(
    zctx: zmq.Context[Any],
) -> None:
    """The proxy's XSUB reconnects to a publisher that restarts and subscribes it again."""
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.XSUB, reconnect_ivl=0.01) as frontend,
            trio_zmq.open_socket(trio_zmq.XPUB) as backend,
            AsyncExitStack() as stack,
        ):
            subscribers = {
                topic: await stack.enter_async_context(open_peer("libzmq", SocketType.SUB, zctx))
                for topic in TOPICS[:2]
            }
            for topic, sub in subscribers.items():
                await sub.subscribe(topic)
                await link(backend, sub)
            expected = {b"\x01" + topic for topic in subscribers}
            async with running_proxy(frontend, backend):
                with libzmq_socket(zctx, zmq.XPUB) as first:
                    endpoint = first.bind()
                    frontend.connect(endpoint)
                    assert {await first.recv() for _ in subscribers} == expected
                await wait_for_peers(frontend, 0)
                with libzmq_socket(zctx, zmq.XPUB) as second:
                    second.bind_to(endpoint)
                    assert {await second.recv() for _ in subscribers} == expected
                    publisher = Peer(SocketType.XPUB, None, second)
                    await publish_until_each_receives(publisher, subscribers)


# --- capture ---------------------------------------------------------------------


async def test_capture_gets_subscriptions_and_messages_in_order(zctx: zmq.Context[Any]) -> None:
    """XSUB/XPUB with a PUSH capture read by a libzmq PULL: both directions, each once."""
    topic = TOPICS[0]
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.XSUB) as frontend,
            trio_zmq.open_socket(trio_zmq.XPUB) as backend,
            trio_zmq.open_socket(trio_zmq.PUSH) as capture,
            trio_zmq.open_socket(trio_zmq.PUB) as publisher,
            trio_zmq.open_socket(trio_zmq.SUB, subscribe=topic) as subscriber,
        ):
            with libzmq_socket(zctx, zmq.PULL) as captured:
                capture.connect(captured.bind())
                await link(frontend, publisher)
                await link(backend, subscriber)
                async with running_proxy(frontend, backend, capture):
                    pub = Peer(SocketType.PUB, publisher, None)
                    sub = Peer(SocketType.SUB, subscriber, None)
                    await publish_until_each_receives(pub, {topic: sub})
                    subscriber.unsubscribe(topic)
                    log = [await captured.recv_multipart()]
                    while log[-1] != [b"\x00" + topic]:
                        log.append(await captured.recv_multipart())
    # Subscribe, then what the publisher sent for the topic (it filters), then unsubscribe.
    assert log[0] == [b"\x01" + topic]
    data = log[1:-1]
    assert all(len(frames) == 1 and frames[0].startswith(topic) for frames in data), data
    assert data[-1] == [topic + b"end"]
    numbers = [int(frames[0][len(topic) :]) for frames in data[:-1]]
    # Every one from the first that found the subscription at the publisher, once, in order.
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


async def test_capture_gets_requests_and_replies_of_a_broker(zctx: zmq.Context[Any]) -> None:
    """ROUTER/DEALER with a PAIR capture: every request and every reply, whole, in order."""
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.ROUTER) as frontend,
            trio_zmq.open_socket(trio_zmq.DEALER) as backend,
            trio_zmq.open_socket(trio_zmq.PAIR) as capture,
            trio_zmq.open_socket(trio_zmq.PAIR) as captured,
            trio_zmq.open_socket(trio_zmq.REQ) as client,
        ):
            with libzmq_socket(zctx, zmq.REP) as worker:
                await link(captured, capture)
                await link(frontend, client)
                backend.connect(worker.bind())
                async with running_proxy(frontend, backend, capture):
                    for i in range(5):
                        await client.send(b"request %d" % i)
                        request = await worker.recv()
                        await worker.send(request + b" done")
                        assert await client.recv() == b"request %d done" % i
                    log = [await captured.recv_multipart() for _ in range(10)]
    routing_id = log[0][0]
    expected = []
    for i in range(5):
        expected += [
            [routing_id, b"", b"request %d" % i],
            [routing_id, b"", b"request %d done" % i],
        ]
    assert log == expected


# --- one way only ------------------------------------------------------------------


@pytest.mark.parametrize("pull_is_frontend", [True, False], ids=["PULL-PUSH", "PUSH-PULL"])
async def test_pull_push_proxy_forwards_one_way(
    zctx: zmq.Context[Any], pull_is_frontend: bool
) -> None:
    """A PULL and a PUSH: the only possible direction, whichever side is the frontend."""
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH) as push,
            trio_zmq.open_socket(trio_zmq.PUSH) as capture,
            trio_zmq.open_socket(trio_zmq.PULL) as captured,
        ):
            with (
                libzmq_socket(zctx, zmq.PUSH) as upstream,
                libzmq_socket(zctx, zmq.PULL) as downstream,
            ):
                await link(captured, capture)
                upstream.connect(await pull.bind(LOOPBACK))
                push.connect(downstream.bind())
                frontend, backend = (pull, push) if pull_is_frontend else (push, pull)
                messages = [[b"job", b"%d" % i] for i in range(100)]
                async with running_proxy(frontend, backend, capture):
                    await upstream.send_many(messages)
                    assert await downstream.recv_many(100) == messages
                    assert [await captured.recv_multipart() for _ in range(100)] == messages
                assert captured.statistics().queued_inbound == 0  # nothing else came


async def test_sub_pub_proxy_forwards_what_it_subscribed_to(zctx: zmq.Context[Any]) -> None:
    """A SUB frontend (subscribed to everything) and a PUB backend: a one-way relay."""
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.SUB, subscribe=b"") as frontend,
            trio_zmq.open_socket(trio_zmq.PUB) as backend,
            AsyncExitStack() as stack,
        ):
            publisher = await stack.enter_async_context(open_peer("libzmq", SocketType.PUB, zctx))
            subscribers = {
                topic: await stack.enter_async_context(open_peer("libzmq", SocketType.SUB, zctx))
                for topic in TOPICS[:2]
            }
            await link(publisher, frontend)
            for topic, sub in subscribers.items():
                await sub.subscribe(topic)
                await link(backend, sub)
            async with running_proxy(frontend, backend):
                await publish_until_each_receives(publisher, subscribers)


# --- ROUTER/DEALER: a broker ------------------------------------------------------


@pytest.mark.parametrize("broker_binds", [True, False], ids=["broker-binds", "peers-bind"])
async def test_router_dealer_proxy_is_a_broker(zctx: zmq.Context[Any], broker_binds: bool) -> None:
    """REQ clients and REP workers, trio_zmq and libzmq, each reply back at its client."""
    requests = 6
    with trio.fail_after(15):
        async with (
            trio_zmq.open_socket(trio_zmq.ROUTER) as frontend,
            trio_zmq.open_socket(trio_zmq.DEALER) as backend,
            AsyncExitStack() as stack,
        ):
            clients = {
                f"{impl}-client": await stack.enter_async_context(
                    open_peer(impl, SocketType.REQ, zctx)
                )
                for impl in ("trio", "libzmq")
            }
            # A short timeout: the libzmq worker's receive loop notices the end quickly.
            workers = {
                f"{impl}-worker": await stack.enter_async_context(
                    open_peer(impl, SocketType.REP, zctx, timeout=0.2)
                )
                for impl in ("trio", "libzmq")
            }
            for peer, sock in [(c, frontend) for c in clients.values()] + [
                (w, backend) for w in workers.values()
            ]:
                if broker_binds:
                    await link(sock, peer)
                else:
                    await link(peer, sock)
            await wait_for_peers(backend, 2)  # so the DEALER round-robins over both

            async def serve(name: str, worker: Peer) -> None:
                while True:
                    try:
                        request = await worker.recv()
                    except zmq.Again:
                        continue  # the libzmq worker's timeout: try again
                    await worker.send(request + b" by " + name.encode())

            handled_by: dict[str, list[bytes]] = {}

            async def run_client(name: str, client: Peer) -> None:
                handled_by[name] = []
                for i in range(requests):
                    request = f"{name} request {i}".encode()
                    await client.send(request)
                    reply, worker = (await client.recv()).split(b" by ")
                    assert reply == request
                    handled_by[name].append(worker)

            async with running_proxy(frontend, backend), trio.open_nursery() as nursery:
                for name, worker in workers.items():
                    nursery.start_soon(serve, name, worker)
                async with trio.open_nursery() as clients_nursery:
                    for name, client in clients.items():
                        clients_nursery.start_soon(run_client, name, client)
                nursery.cancel_scope.cancel()
    assert sorted(handled_by) == sorted(clients)
    assert all(len(workers_seen) == requests for workers_seen in handled_by.values())
    every_worker = {w for seen in handled_by.values() for w in seen}
    assert every_worker == {b"trio-worker", b"libzmq-worker"}


# --- stopping: closed sockets, cancellation, nothing to forward --------------------


async def _proxy_outcome(
    frontend: trio_zmq.Socket,
    backend: trio_zmq.Socket,
    capture: trio_zmq.Socket | None,
    close: trio_zmq.Socket,
    *,
    use_aclose: bool = False,
) -> Exception:
    """Start a proxy, close ``close`` once the proxy waits, return the error the proxy raised.

    (Cancellation, ``trio.Cancelled`` alone or in a group, goes through.)
    """
    raised: list[Exception] = []

    async def run() -> None:
        try:
            await trio_zmq.proxy(frontend, backend, capture)
        except Exception as exc:  # whatever it is (an ExceptionGroup too) is the result
            raised.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        await trio.testing.wait_all_tasks_blocked()
        if use_aclose:
            await close.aclose()
        else:
            close.close()
    return raised[0]


@pytest.mark.parametrize("closed", ["frontend", "backend"])
@pytest.mark.parametrize("use_aclose", [False, True], ids=["close", "aclose"])
async def test_closing_a_proxied_socket_raises_closed_resource_error(
    closed: str, use_aclose: bool
) -> None:
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.XSUB) as frontend,
            trio_zmq.open_socket(trio_zmq.XPUB) as backend,
        ):
            await frontend.bind(LOOPBACK)
            await backend.bind(LOOPBACK)
            target = frontend if closed == "frontend" else backend
            exc = await _proxy_outcome(frontend, backend, None, target, use_aclose=use_aclose)
    assert type(exc) is trio.ClosedResourceError, repr(exc)  # bare, not in an exception group


@pytest.mark.parametrize("closed", ["backend", "capture"])
async def test_closing_the_socket_a_proxy_is_sending_to_raises_closed_resource_error(
    closed: str,
) -> None:
    """The proxy is stuck sending (a PUSH with no peer): closing that socket stops it."""
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as frontend,
            trio_zmq.open_socket(trio_zmq.PUSH) as backend,
            trio_zmq.open_socket(trio_zmq.PUSH) as capture,
            trio_zmq.open_socket(trio_zmq.PUSH) as upstream,
            trio_zmq.open_socket(trio_zmq.PULL) as downstream,
        ):
            await link(frontend, upstream)
            if closed == "capture":
                await link(downstream, backend)  # only the capture has no peer
            await upstream.send(b"stuck")
            await trio.testing.wait_all_tasks_blocked()
            if closed == "backend":
                exc = await _proxy_outcome(frontend, backend, None, backend)
            else:
                exc = await _proxy_outcome(frontend, backend, capture, capture)
    assert type(exc) is trio.ClosedResourceError, repr(exc)


@pytest.mark.parametrize("closed", ["backend", "capture"])
async def test_closing_a_socket_the_proxy_only_sends_to_raises_closed_resource_error(
    closed: str,
) -> None:
    """A PULL->PUSH proxy waiting for a message: closing its PUSH (or its capture) stops it.

    FAILS (bug): the proxy only notices when a message comes, and waits forever otherwise.
    """
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as frontend,
            trio_zmq.open_socket(trio_zmq.PUSH) as backend,
            trio_zmq.open_socket(trio_zmq.PUSH) as capture,
        ):
            await frontend.bind(LOOPBACK)
            target = backend if closed == "backend" else capture
            with trio.move_on_after(0.5) as waited:
                exc = await _proxy_outcome(frontend, backend, capture, target)
            assert not waited.cancelled_caught, "the proxy did not notice the closed socket"
    assert type(exc) is trio.ClosedResourceError, repr(exc)


async def test_a_proxy_on_a_closed_socket_raises_closed_resource_error() -> None:
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.ROUTER) as frontend,
            trio_zmq.open_socket(trio_zmq.DEALER) as backend,
        ):
            frontend.close()
            with pytest.raises(trio.ClosedResourceError):
                await trio_zmq.proxy(frontend, backend)


async def test_cancelling_the_proxy_stops_it_cleanly() -> None:
    """The cancel scope absorbs it; the sockets go on working; a new proxy takes over."""
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.ROUTER) as frontend,
            trio_zmq.open_socket(trio_zmq.DEALER) as backend,
            trio_zmq.open_socket(trio_zmq.REQ) as client,
            trio_zmq.open_socket(trio_zmq.REP) as worker,
        ):
            await link(frontend, client)
            await link(backend, worker)

            async def round_trip(text: bytes) -> None:
                await client.send(text)
                await worker.send(await worker.recv())
                assert await client.recv() == text

            with trio.CancelScope() as scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(trio_zmq.proxy, frontend, backend)
                    await round_trip(b"one")
                    scope.cancel()
            assert scope.cancelled_caught
            assert not frontend.closed and not backend.closed
            # Nothing forwards now: the request waits in the ROUTER.
            await client.send(b"two")
            await wait_for_peers(frontend, 1)
            await wait_until(lambda: frontend.statistics().queued_inbound == 1)
            async with running_proxy(frontend, backend):
                await worker.send(await worker.recv())
                assert await client.recv() == b"two"
                await round_trip(b"three")


async def test_cancelling_the_proxy_raises_a_bare_cancelled() -> None:
    """What the proxy's caller sees is ``trio.Cancelled``, as from any trio_zmq call.

    FAILS (bug): it is a ``BaseExceptionGroup`` holding one ``Cancelled`` per
    direction, from the proxy's internal nursery.
    """
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.XSUB) as frontend,
            trio_zmq.open_socket(trio_zmq.XPUB) as backend,
        ):
            raised: list[BaseException] = []
            with trio.CancelScope() as scope:
                async with trio.open_nursery() as nursery:

                    async def run() -> None:
                        try:
                            await trio_zmq.proxy(frontend, backend)
                        except BaseException as exc:
                            raised.append(exc)
                            raise

                    nursery.start_soon(run)
                    await trio.testing.wait_all_tasks_blocked()
                    scope.cancel()
    assert type(raised[0]) is trio.Cancelled, repr(raised[0])


@pytest.mark.parametrize(
    ("frontend_type", "backend_type"),
    [
        (SocketType.PUSH, SocketType.PUSH),
        (SocketType.PULL, SocketType.PULL),
        (SocketType.PUB, SocketType.PUB),
        (SocketType.SUB, SocketType.SUB),
        (SocketType.PUB, SocketType.PUSH),
        (SocketType.PULL, SocketType.SUB),
    ],
    ids=lambda t: t.name,
)
async def test_a_proxy_that_can_forward_nothing_raises_value_error(
    frontend_type: SocketType, backend_type: SocketType
) -> None:
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(frontend_type) as frontend,
            trio_zmq.open_socket(backend_type) as backend,
        ):
            with pytest.raises(ValueError, match="nothing can flow"):
                await trio_zmq.proxy(frontend, backend)


async def test_a_capture_that_cannot_send_is_refused_at_once() -> None:
    """A capture socket that cannot send (a PULL) is refused before anything is forwarded.

    As the frontend/backend check does (``ValueError``), or with the error a
    send on it raises (``OperationNotSupported``), bare.

    FAILS (bug): the proxy takes it, and only when the first message comes
    (which is then lost) does it fail, with ``OperationNotSupported`` inside
    an ``ExceptionGroup``.
    """
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as frontend,
            trio_zmq.open_socket(trio_zmq.PUSH) as backend,
            trio_zmq.open_socket(trio_zmq.PULL) as capture,
        ):
            with trio.move_on_after(0.5) as waited:
                with pytest.raises((ValueError, trio_zmq.OperationNotSupported)):
                    await trio_zmq.proxy(frontend, backend, capture)
            assert not waited.cancelled_caught, "the proxy took a capture that cannot send"
