"""A trio_zmq socket or a libzmq socket behind one interface, for the pattern tests.

The request-reply and publish-subscribe tests (``test_reqrep.py``,
``test_spec_reqrep.py``, ``test_pubsub.py``, ``test_spec_pubsub.py``) run
each scenario with trio_zmq and with libzmq (pyzmq) in each role: ``Peer``
drives either from trio the same way, ``open_peer``/``open_peers`` open one
or several of a given implementation, and ``connect_all`` binds and
connects them over the ``transport`` fixture's tcp, ipc or inproc, waiting
for the handshakes trio_zmq can see. Each test module keeps its own words
for who binds (``link``).

``Peer.send(*frames)`` sends one message of ``frames`` (as ``Socket.send``
for a single frame); ``Peer.recv()`` returns one message, a list of frames.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, AsyncExitStack, asynccontextmanager, nullcontext
from typing import Any, TypeVar

import trio
import zmq

import trio_zmq

from .helpers import bind_endpoint, rebindable_endpoint, wait_for_peers
from .libzmq_peer import LibzmqSocket, libzmq_socket

T = TypeVar("T")
Message = list[bytes]
Answer = Callable[[Message], Message]

#: (implementation of one side, of the other): trio_zmq with trio_zmq and with
#: libzmq, and libzmq in the first side's role, as the reference.
PAIRINGS = [("trio", "trio"), ("trio", "libzmq"), ("libzmq", "trio")]

#: A request that ends ``Peer.serve`` when it has no count.
STOP = [b"stop"]


class Peer:
    """A trio_zmq socket or a libzmq (pyzmq) socket, driven the same way from trio."""

    def __init__(self, sock: trio_zmq.Socket | LibzmqSocket, transport: str = "tcp") -> None:
        self.sock = sock
        #: What ``bind`` binds by default: "tcp", "ipc" or "inproc" (trio_zmq only).
        self.transport = transport

    @property
    def is_trio(self) -> bool:
        return isinstance(self.sock, trio_zmq.Socket)

    @property
    def socket_type(self) -> int:
        if isinstance(self.sock, trio_zmq.Socket):
            return int(self.sock.socket_type)
        return int(self.sock.sock.type)

    @property
    def trio(self) -> trio_zmq.Socket:
        """The trio_zmq socket (the test must be running one here)."""
        assert isinstance(self.sock, trio_zmq.Socket)
        return self.sock

    @property
    def libzmq(self) -> LibzmqSocket:
        assert isinstance(self.sock, LibzmqSocket)
        return self.sock

    # --- endpoints ----------------------------------------------------------------------

    async def bind(self, endpoint: str | None = None, *, rebindable: bool = False) -> str:
        """Bind (a new endpoint of the peer's transport by default); return the endpoint.

        ``rebindable``: an endpoint that can be bound again once the socket has closed.
        """
        if isinstance(self.sock, trio_zmq.Socket):
            if endpoint is None:
                endpoint = (rebindable_endpoint if rebindable else bind_endpoint)(self.transport)
            return await self.sock.bind(endpoint)
        if endpoint is None:
            return self.sock.bind(self.transport)
        self.sock.bind_to(endpoint)
        return endpoint

    def connect(self, endpoint: str) -> None:
        with self._locked():
            self.sock.connect(endpoint)

    def disconnect(self, endpoint: str) -> None:
        if isinstance(self.sock, trio_zmq.Socket):
            self.sock.disconnect(endpoint)
        else:
            with self._locked():
                self.sock.sock.disconnect(endpoint)

    # --- traffic ------------------------------------------------------------------------

    async def send(self, *frames: bytes) -> None:
        """Send one message of ``frames``."""
        await self.sock.send_multipart(list(frames))

    def send_nowait(self, *frames: bytes) -> None:
        """Send at once or raise ``trio.WouldBlock`` (libzmq: ``NOBLOCK``, ``EAGAIN``)."""
        if isinstance(self.sock, trio_zmq.Socket):
            self.sock.send_multipart_nowait(frames)
            return
        try:
            with self._locked():
                self.sock.sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            raise trio.WouldBlock from None

    async def recv(self) -> Message:
        return await self.sock.recv_multipart()

    def recv_nowait(self) -> Message | None:
        """The next message if one is there, else None (never blocks)."""
        if isinstance(self.sock, trio_zmq.Socket):
            try:
                return self.sock.recv_multipart_nowait()
            except trio.WouldBlock:
                return None
        lock = self.sock._lock
        if not lock.acquire(blocking=False):  # a worker thread is using the socket
            return None
        try:
            return self.sock.sock.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return None
        finally:
            lock.release()

    # --- request-reply loops (a libzmq socket runs each in one worker thread) -------------

    async def serve(self, answer: Answer, count: int | None = None) -> int:
        """As a REP: answer ``count`` requests, or until ``STOP``; return how many."""
        if isinstance(self.sock, trio_zmq.Socket):
            sock = self.sock
            served = 0
            while count is None or served < count:
                request = await sock.recv_multipart()
                await sock.send_multipart(answer(request))
                served += 1
                if count is None and request == STOP:
                    break
            return served
        zsock = self.sock.sock

        def loop() -> int:
            served = 0
            while count is None or served < count:
                request = zsock.recv_multipart()
                zsock.send_multipart(answer(request))
                served += 1
                if count is None and request == STOP:
                    break
            return served

        return await self._in_worker(loop)

    async def exchange(self, requests: Sequence[Message]) -> list[Message]:
        """As a REQ: send each request and take its reply; return the replies."""
        if isinstance(self.sock, trio_zmq.Socket):
            sock = self.sock
            replies = []
            for request in requests:
                await sock.send_multipart(request)
                replies.append(await sock.recv_multipart())
            return replies
        zsock = self.sock.sock

        def loop() -> list[Message]:
            out = []
            for request in requests:
                zsock.send_multipart(request)
                out.append(zsock.recv_multipart())
            return out

        return await self._in_worker(loop)

    # --- subscriptions and options ------------------------------------------------------

    def subscribe(self, topic: bytes) -> None:
        """SUB (and XPUB with ``xpub_manual``): subscribe, as the application does."""
        if isinstance(self.sock, trio_zmq.Socket):
            self.sock.subscribe(topic)
        else:
            with self._locked():
                self.sock.sock.setsockopt(zmq.SUBSCRIBE, topic)

    def unsubscribe(self, topic: bytes) -> None:
        if isinstance(self.sock, trio_zmq.Socket):
            self.sock.unsubscribe(topic)
        else:
            with self._locked():
                self.sock.sock.setsockopt(zmq.UNSUBSCRIBE, topic)

    def set_option(self, name: str, value: Any) -> None:
        if isinstance(self.sock, trio_zmq.Socket):
            setattr(self.sock, name, value)
        else:
            with self._locked():
                self.sock.sock.setsockopt(getattr(zmq, name.upper()), int(value))

    def close(self) -> None:
        self.sock.close()

    # --- libzmq's application thread ----------------------------------------------------

    def poke(self) -> None:
        """Make a libzmq socket process its pending commands (no-op for trio_zmq).

        libzmq attaches a new peer's pipe (and, with probe_router, writes the
        probe) only when the application thread next calls into the socket.
        """
        if isinstance(self.sock, LibzmqSocket):
            with self.sock._lock:
                self.sock.sock.getsockopt(zmq.EVENTS)

    def _locked(self) -> AbstractContextManager[Any]:
        """libzmq: the socket's lock (no worker thread may use it meanwhile)."""
        if isinstance(self.sock, trio_zmq.Socket):
            return nullcontext()
        return self.sock._lock

    async def _in_worker(self, fn: Callable[[], T]) -> T:
        return await self.libzmq._run(fn)


# --- opening peers ----------------------------------------------------------------------

#: Options in seconds for trio_zmq, in milliseconds for libzmq.
DURATIONS = frozenset({"reconnect_ivl"})

#: The socket types whose libzmq peers get their commands processed in the
#: background (``_keep_processing_commands``): a SUB sends its subscriptions,
#: and a publisher starts sending to a new subscriber, only once the
#: application thread has attached its pipe. A request-reply test pokes its
#: libzmq socket itself where that matters (``Peer.poke``).
BACKGROUND_COMMANDS = frozenset({trio_zmq.PUB, trio_zmq.SUB, trio_zmq.XPUB, trio_zmq.XSUB})


def libzmq_options(options: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
    """trio_zmq's option keywords as ``libzmq_socket`` takes them, and the topics to subscribe.

    Seconds become milliseconds, booleans 0 or 1; ``linger`` is left out
    (``LibzmqSocket`` always sets 0); ``subscribe`` (a topic or several,
    ``str`` as UTF-8) is returned apart, one SUBSCRIBE a topic.
    """
    converted: dict[str, Any] = {}
    topics: list[bytes] = []
    for name, value in options.items():
        if name == "linger":
            continue
        if name == "subscribe":
            given = [value] if isinstance(value, bytes | str) else value
            topics.extend(t.encode() if isinstance(t, str) else t for t in given)
        elif name in DURATIONS:
            converted[name] = round(value * 1000)
        elif isinstance(value, bool):
            converted[name] = int(value)
        else:
            converted[name] = value
    return converted, topics


async def _keep_processing_commands(sock: LibzmqSocket) -> None:
    """Let a libzmq socket process its commands while the test waits elsewhere.

    libzmq attaches a new peer's pipe, and so sends a SUB's subscriptions to
    it, only when the application thread next calls into the socket; a real
    application is always in ``recv`` or ``poll``. Never blocks: if a worker
    thread holds the socket, that thread is processing the commands.
    """
    while True:
        if sock._lock.acquire(blocking=False):
            try:
                if not sock.sock.closed:
                    sock.sock.getsockopt(zmq.EVENTS)
            finally:
                sock._lock.release()
        await trio.sleep(0.005)


@asynccontextmanager
async def open_peer(
    zctx: zmq.Context[Any],
    impl: str,
    socket_type: trio_zmq.SocketType,
    *,
    transport: str = "tcp",
    **options: Any,
) -> AsyncIterator[Peer]:
    """A socket of ``impl`` ("trio" or "libzmq"), linger 0 unless ``options`` says (trio_zmq).

    It binds over ``transport`` (tcp, ipc, or for trio_zmq only inproc).
    """
    if impl == "trio":
        async with trio_zmq.open_socket(socket_type, **{"linger": 0, **options}) as sock:
            yield Peer(sock, transport)
        return
    converted, topics = libzmq_options(options)
    with libzmq_socket(zctx, int(socket_type), **converted) as zsock:
        for topic in topics:
            zsock.sock.setsockopt(zmq.SUBSCRIBE, topic)
        if socket_type not in BACKGROUND_COMMANDS:
            yield Peer(zsock, transport)
            return
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_keep_processing_commands, zsock)
            yield Peer(zsock, transport)
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def open_peers(
    zctx: zmq.Context[Any],
    impl: str,
    socket_type: trio_zmq.SocketType,
    n: int = 1,
    *,
    transport: str = "tcp",
    **options: Any,
) -> AsyncIterator[list[Peer]]:
    """``n`` sockets as ``open_peer`` opens them."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                open_peer(zctx, impl, socket_type, transport=transport, **options)
            )
            for _ in range(n)
        ]


# --- linking them -----------------------------------------------------------------------


async def connect_all(
    binders: Sequence[Peer], connectors: Sequence[Peer], *, rebindable: bool = False
) -> list[str]:
    """Each binder binds; each connector connects to every binder. Returns the endpoints.

    They bind over their transport (``open_peer``). Waits for the handshakes
    that trio_zmq sockets can see. ``rebindable``: see ``Peer.bind``.
    """
    endpoints = [await b.bind(rebindable=rebindable) for b in binders]
    for c in connectors:
        for endpoint in endpoints:
            c.connect(endpoint)
    for b in binders:
        if b.is_trio:
            await wait_for_peers(b.trio, len(connectors))
    for c in connectors:
        if c.is_trio:
            await wait_for_peers(c.trio, len(binders))
    return endpoints
