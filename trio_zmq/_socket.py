"""Socket: owns the nursery, endpoints, options and pipes; the blocking recipe.

Every blocking operation follows trio's memory-channel recipe (DESIGN 3.2):
``checkpoint_if_cancelled()``, then the synchronous ``*_nowait`` step, then
on success ``cancel_shielded_checkpoint()``; on ``WouldBlock`` park (changing
nothing) until something changes and try the step again. All state changes
happen inside the ``*_nowait`` step, so a cancelled ``recv`` loses nothing
and a cancelled ``send`` has sent nothing.
"""

from __future__ import annotations

import enum
import json
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar, final

import trio
from trio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled

from . import _zmtp
from ._batches import SocketBatches
from ._endpoint import Address, InprocAddress, TcpAddress, parse_endpoint
from ._endpoints import BoundEndpoint, Connecter
from ._errors import EndpointError, MultipartMessageError, OperationNotSupported
from ._frames import Frame, as_frame, as_message, as_topic
from ._inproc import InprocBinding, InprocConnecter
from ._options import TYPE_OPTIONS, Option, Options
from ._patterns import Pattern
from ._pipeset import PipeSet
from ._socket_peers import SocketPeers
from ._stats import Counters, SocketStatistics
from ._strategies import Message
from ._transports import TRANSPORTS
from ._util import NoPublicConstructor

log = logging.getLogger("trio_zmq")
T = TypeVar("T")


class _State(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # aclose() is lingering: no more user operations
    CLOSED = "closed"


@final
class Socket(SocketBatches, SocketPeers, metaclass=NoPublicConstructor):
    """A ZeroMQ socket; made by :func:`trio_zmq.open_socket` or ``Context.socket``.

    Messages are whole multipart messages. Every ``async`` method is a
    checkpoint; every sync method never is. Options are attributes.
    """

    sndhwm = Option[int]()
    rcvhwm = Option[int]()
    linger = Option[float | None]()
    routing_id = Option[bytes]()
    reconnect_ivl = Option[float | None]()
    reconnect_ivl_max = Option[float]()
    maxmsgsize = Option[int | None]()
    handshake_ivl = Option[float | None]()
    ipv6 = Option[bool]()
    immediate = Option[bool]()
    connect_timeout = Option[float | None]()
    tcp_keepalive = Option[bool | None]()
    tcp_keepalive_idle = Option[int | None]()
    tcp_keepalive_cnt = Option[int | None]()
    tcp_keepalive_intvl = Option[int | None]()
    heartbeat_ivl = Option[float | None]()
    heartbeat_ttl = Option[float | None]()
    heartbeat_timeout = Option[float | None]()
    req_relaxed = Option[bool]()
    req_correlate = Option[bool]()
    router_mandatory = Option[bool]()
    router_handover = Option[bool]()
    probe_router = Option[bool]()
    stream_notify = Option[bool]()
    connect_routing_id = Option[bytes | None]()
    xpub_verbose = Option[bool]()
    xpub_verboser = Option[bool]()
    xpub_manual = Option[bool]()
    xpub_welcome_msg = Option[bytes | None]()
    xpub_nodrop = Option[bool]()

    def __init__(
        self,
        socket_type: _zmtp.SocketType,
        context: Any,
        nursery: trio.Nursery,
        options: Options,
        pattern: Pattern,
    ) -> None:
        #: The socket's type.
        self.socket_type = socket_type
        #: The :class:`~trio_zmq.Context` the socket belongs to.
        self.context = context
        self._options = options
        #: The endpoint of the last ``bind`` (resolved) or ``connect``.
        self.last_endpoint: str | None = None
        self._nursery = nursery
        self._pattern = pattern
        self._state = _State.OPEN
        #: Open, and of a type that sends / receives: the per-message checks.
        self._sending = pattern.can_send
        self._receiving = pattern.can_recv
        self._bound: dict[str, BoundEndpoint | InprocBinding] = {}
        self._bind_aliases: dict[str, str] = {}
        self._connecters: dict[str, list[Connecter | InprocConnecter]] = {}
        self._counters = Counters()
        #: Set as soon as close() or aclose() is called (proxy watches it).
        self._closed_event = trio.Event()
        self._pipeset = PipeSet(pattern, options, self._counters, nursery)
        pattern.terminate = self._terminate_pipe  # type: ignore[assignment]
        pattern.wake_receivers = self._pipeset.wake_receivers

    def __repr__(self) -> str:
        return f"<trio_zmq.Socket {self.socket_type.name} {self._state.value}>"

    @property
    def closed(self) -> bool:
        """Whether ``close``/``aclose`` has been called."""
        return self._state is not _State.OPEN

    # --- endpoints ---------------------------------------------------------

    async def bind(self, endpoint: str) -> str:
        """Listen on ``endpoint``; return it resolved (``tcp://127.0.0.1:*`` -> port).

        A checkpoint. Raises :class:`EndpointError` at once for a malformed
        endpoint or unknown transport, and ``OSError`` if the address cannot
        be bound (e.g. in use). If cancelled, nothing is bound.
        """
        address = self._parse(endpoint, bind=True)
        self._check_open()
        if isinstance(address, InprocAddress):
            await trio.lowlevel.checkpoint()
            self._check_open()
            registry = self.context._inproc
            registry.bind(address.name, self)
            self._bound[endpoint] = InprocBinding(self, registry, address.name)
            self._bind_aliases[endpoint] = endpoint
            self.last_endpoint = endpoint
            return endpoint
        listener = await TRANSPORTS[address.scheme].open_listener(address, self._options)
        if self._state is not _State.OPEN:
            listener.close()
            raise trio.ClosedResourceError("socket was closed during bind")
        resolved = listener.endpoint
        bound = BoundEndpoint(self, listener)
        self._bound[resolved] = bound
        self._bind_aliases[endpoint] = resolved
        self._nursery.start_soon(bound.serve)
        self.last_endpoint = resolved
        return resolved

    def _parse(self, endpoint: str, *, bind: bool) -> Address:
        address = parse_endpoint(endpoint, bind=bind)
        if isinstance(address, InprocAddress) and self._pattern.raw:
            raise EndpointError(f"a STREAM socket carries raw bytes: tcp or ipc, not {endpoint!r}")
        if isinstance(address, TcpAddress) and address.needs_ipv6 and not self._options.ipv6:
            raise EndpointError(f"{endpoint!r} is an IPv6 address: set ipv6=True first")
        return address

    def unbind(self, endpoint: str) -> None:
        """Stop listening on ``endpoint`` and end the connections accepted there.

        Those connections end as with :meth:`disconnect`: nothing more is
        received from them, and what was queued for them gets up to
        ``linger`` to go out. Takes the endpoint as given to ``bind`` or as
        ``bind`` returned it. Not a checkpoint. Raises :class:`EndpointError`
        if it is not bound.
        """
        self._check_open()
        resolved = self._bind_aliases.get(endpoint, endpoint)
        bound = self._bound.pop(resolved, None)
        if bound is None:
            raise EndpointError(f"{endpoint!r} is not bound")
        for alias in [a for a, r in self._bind_aliases.items() if r == resolved]:
            del self._bind_aliases[alias]
        bound.close()

    def connect(self, endpoint: str) -> None:
        """Connect to ``endpoint`` in the background, and reconnect when needed.

        Not a checkpoint, and never waits for the peer: messages sent before
        the connection is made queue for it (up to ``sndhwm``). Raises
        :class:`EndpointError` at once for a malformed endpoint, and
        ``ValueError`` for a ``connect_routing_id`` already in use.
        """
        address = self._parse(endpoint, bind=False)
        self._check_open()
        preset = self._options.connect_routing_id
        if preset is not None:
            if self._options.immediate:
                raise ValueError("connect_routing_id needs a pipe at connect: not with immediate")
            if self._pattern.routing_id_in_use(preset):
                raise ValueError(f"connect_routing_id {preset!r} is in use")
            self._options.connect_routing_id = None  # as libzmq: for one connect only
        if isinstance(address, InprocAddress):
            registry = self.context._inproc
            inproc_pipe = self._pipeset.new_inproc_pipe(endpoint, self, attach=True)
            if preset is not None:
                self._pattern.preset_routing_id(inproc_pipe, preset)
            inproc = InprocConnecter(self, registry, address.name, inproc_pipe)
            self._connecters.setdefault(endpoint, []).append(inproc)
            registry.connect(inproc)
            self.last_endpoint = endpoint
            return
        pipe = None if self._options.immediate else self._pipeset.new_pipe(endpoint)
        if preset is not None and pipe is not None:
            self._pattern.preset_routing_id(pipe, preset)
        connecter = Connecter(self, address, endpoint, pipe)
        self._connecters.setdefault(endpoint, []).append(connecter)
        self._nursery.start_soon(connecter.run)
        self.last_endpoint = endpoint

    def disconnect(self, endpoint: str) -> None:
        """Stop talking to ``endpoint``, as libzmq's ``zmq_disconnect``.

        Nothing more is received from it (messages received and not read yet
        are dropped) and nothing more is sent to it, but what was already
        queued for it still gets up to ``linger`` to go out, reconnecting if
        needed; then the connection is closed. Not a checkpoint. Raises
        :class:`EndpointError` if not connected.
        """
        self._check_open()
        connecters = self._connecters.pop(endpoint, None)
        if not connecters:
            raise EndpointError(f"{endpoint!r} is not connected")
        for connecter in connecters:
            self._pipeset.retire(connecter.current_pipe, connecter.close)

    # --- sending -----------------------------------------------------------

    def send_multipart_nowait(self, frames: Iterable[Frame]) -> None:
        """Queue a multipart message, or raise ``trio.WouldBlock`` and change nothing.

        Not a checkpoint.
        """
        self._check_can_send()
        self._send_message(as_message(frames))

    def send_nowait(self, data: Frame) -> None:
        """Queue a single-frame message, or raise ``trio.WouldBlock``. Not a checkpoint."""
        self._check_can_send()
        self._send_message([data if type(data) is bytes else as_frame(data)])

    def _send_message(self, msg: Message) -> None:
        # Every attempt checks the state: the socket may have been closed
        # while the sender was parked.
        if not self._sending:
            self._check_can_send()
        if not self._pattern.send(msg):
            raise trio.WouldBlock
        if self._pipeset._drained:
            self._pipeset.detach_drained()  # REQ drops old replies when it sends
        counters = self._counters
        counters.messages_sent += 1
        counters.bytes_sent += len(msg[0]) if len(msg) == 1 else sum(map(len, msg))

    async def send_multipart(self, frames: Iterable[Frame]) -> None:
        """Send a multipart message, waiting while no peer can take it.

        A checkpoint. If cancelled, the message was not sent (DESIGN 3.4).
        Raises :class:`OperationNotSupported` on a socket type that cannot
        send, ``trio.ClosedResourceError`` if the socket is (or gets) closed.
        """
        await checkpoint_if_cancelled()
        self._check_can_send()
        msg = as_message(frames)
        await self._blocking(lambda: self._send_message(msg), self._pipeset.send_lot.park)

    async def send(self, data: Frame) -> None:
        """Send a single-frame message; see :meth:`send_multipart`. A checkpoint."""
        await checkpoint_if_cancelled()
        msg = [data if type(data) is bytes else as_frame(data)]
        # The blocking recipe with its first attempt inlined: on the
        # per-message path that saves a coroutine and a closure per call.
        try:
            self._send_message(msg)
        except trio.WouldBlock:
            await self._retry(lambda: self._send_message(msg), self._pipeset.send_lot.park)
            return
        await cancel_shielded_checkpoint()

    async def send_string(self, text: str, encoding: str = "utf-8") -> None:
        """Send ``text`` encoded (UTF-8 by default). A checkpoint, as :meth:`send`."""
        await self.send(text.encode(encoding))

    async def send_json(self, obj: Any, **dumps_kwargs: Any) -> None:
        """Send ``obj`` as UTF-8 JSON. A checkpoint, as :meth:`send`."""
        await self.send(json.dumps(obj, **dumps_kwargs).encode("utf-8"))

    # --- receiving ---------------------------------------------------------

    def recv_multipart_nowait(self) -> list[bytes]:
        """Take the next message, or raise ``trio.WouldBlock``. Not a checkpoint."""
        msg = self._take_message()
        if msg is None and (not self._pipeset.pull() or (msg := self._take_message()) is None):
            raise trio.WouldBlock
        return msg

    def recv_nowait(self) -> bytes:
        """Take the next message, which must have one frame, or raise ``trio.WouldBlock``.

        Not a checkpoint. A multipart message raises
        :class:`MultipartMessageError` and stays in place for ``recv_multipart``.
        """
        frame = self._take_single()
        if frame is None and (not self._pipeset.pull() or (frame := self._take_single()) is None):
            raise trio.WouldBlock
        return frame

    # The attempts of the receiving calls return None where ``*_nowait``
    # raises WouldBlock: a receiver finds nothing about every other message,
    # and an exception costs more than the rest of the attempt. They do not
    # read a resting socket (PipeSet.pull): ``recv`` waits on it instead.

    def _take_message(self) -> list[bytes] | None:
        if not self._receiving:
            self._check_can_recv()
        msg = self._pattern.recv()
        if self._pipeset._drained:
            self._pipeset.detach_drained()
        if msg is None:
            return None
        counters = self._counters
        counters.messages_received += 1
        counters.bytes_received += len(msg[0]) if len(msg) == 1 else sum(map(len, msg))
        return msg

    def _take_single(self) -> bytes | None:
        if not self._receiving:
            self._check_can_recv()
        msg = self._pattern.recv_single()
        if self._pipeset._drained:
            self._pipeset.detach_drained()
        if msg is None:
            return None
        try:
            (frame,) = msg
        except ValueError:
            raise MultipartMessageError(
                f"the next message has {len(msg)} frames; use recv_multipart()"
            ) from None
        counters = self._counters
        counters.messages_received += 1
        counters.bytes_received += len(frame)
        return frame

    async def recv_multipart(self) -> list[bytes]:
        """Receive the next whole message, waiting for one.

        A checkpoint. If cancelled, no message was taken (DESIGN 3.3).
        """
        await checkpoint_if_cancelled()
        msg = self._take_message()
        if msg is None:
            return await self._wait_for_message(self._take_message)
        await cancel_shielded_checkpoint()
        return msg

    async def recv(self) -> bytes:
        """Receive the next message, which must have one frame.

        A checkpoint; if cancelled, no message was taken. A multipart
        message raises :class:`MultipartMessageError` without being taken.
        """
        await checkpoint_if_cancelled()
        frame = self._take_single()
        if frame is None:
            return await self._wait_for_message(self._take_single)
        await cancel_shielded_checkpoint()
        return frame

    async def _wait_for_message(self, attempt: Callable[[], T | None]) -> T:
        """The receiving calls' blocking recipe, after a first attempt found nothing.

        Park (cancellable, changing nothing: DESIGN 3.3), try again, until an
        attempt returns a message; no further checkpoint then, as the task
        has already blocked.
        """
        wait = self._pipeset.wait_for_message
        while True:
            await wait()
            result = attempt()
            if result is not None:
                return result

    async def recv_string(self, encoding: str = "utf-8") -> str:
        """Receive a single-frame message and decode it. A checkpoint, as :meth:`recv`."""
        return (await self.recv()).decode(encoding)

    async def recv_json(self, **loads_kwargs: Any) -> Any:
        """Receive a single-frame JSON message. A checkpoint, as :meth:`recv`."""
        return json.loads(await self.recv(), **loads_kwargs)

    def __aiter__(self) -> AsyncIterator[list[bytes]]:
        return self

    async def __anext__(self) -> list[bytes]:
        """``async for message in sock`` yields whole messages (a checkpoint each)."""
        return await self.recv_multipart()

    async def _blocking(self, attempt: Callable[[], T], park: Callable[[], Awaitable[None]]) -> T:
        """The blocking recipe (DESIGN 3.2), after ``checkpoint_if_cancelled()``.

        Try the synchronous step; on success take a cancel-shielded
        checkpoint, else ``park`` (cancellable, changing nothing) and try again.
        """
        try:
            result = attempt()
        except trio.WouldBlock:
            return await self._retry(attempt, park)
        await cancel_shielded_checkpoint()
        return result

    @staticmethod
    async def _retry(attempt: Callable[[], T], park: Callable[[], Awaitable[None]]) -> T:
        """The blocking recipe after a first attempt would have blocked.

        Park (cancellable, changing nothing), try again, until an attempt
        succeeds; no further checkpoint then, as the task has already blocked.
        """
        while True:
            await park()
            try:
                return attempt()
            except trio.WouldBlock:
                pass

    # --- subscriptions -----------------------------------------------------

    def subscribe(self, topic: bytes | str) -> None:
        """Subscribe to messages whose first frame starts with ``topic`` (SUB, XSUB).

        ``b""`` subscribes to everything; a ``str`` is UTF-8 encoded.
        Subscriptions are counted: two subscribes need two unsubscribes.
        On an XPUB with ``xpub_manual``, subscribes the peer whose
        subscription was received last. Not a checkpoint; never blocks.
        """
        self._check_open()
        self._pattern.subscribe(as_topic(topic))

    def unsubscribe(self, topic: bytes | str) -> None:
        """Undo one :meth:`subscribe` of ``topic``. Not a checkpoint; never blocks."""
        self._check_open()
        self._pattern.unsubscribe(as_topic(topic))

    # --- state checks --------------------------------------------------------

    def _check_open(self) -> None:
        if self._state is not _State.OPEN:
            raise trio.ClosedResourceError("the socket is closed")

    def _check_can_send(self) -> None:
        self._check_open()
        if not self._pattern.can_send:
            raise OperationNotSupported(f"a {self.socket_type.name} socket cannot send")

    def _check_can_recv(self) -> None:
        self._check_open()
        if not self._pattern.can_recv:
            raise OperationNotSupported(f"a {self.socket_type.name} socket cannot receive")

    # --- options -----------------------------------------------------------

    def _set_option(self, name: str, value: object) -> None:
        self._check_open()
        if name in TYPE_OPTIONS and name not in self._pattern.type_options:
            raise TypeError(f"a {self.socket_type.name} socket has no option {name!r}")
        setattr(self._options, name, value)  # validates, or raises naming the option
        if name in ("sndhwm", "rcvhwm"):
            self._pipeset.set_hwms(self._options.sndhwm, self._options.rcvhwm)

    # --- statistics --------------------------------------------------------

    def statistics(self) -> SocketStatistics:
        """A snapshot of the socket's peers, queues and counters. Not a checkpoint."""
        c = self._counters
        return SocketStatistics(
            socket_type=self.socket_type,
            peers=c.peers,
            bound_endpoints=len(self._bound),
            connected_endpoints=len(self._connecters),
            queued_outbound=self._pipeset.queued_outbound(),
            queued_inbound=self._pipeset.queued_inbound(),
            messages_sent=c.messages_sent,
            bytes_sent=c.bytes_sent,
            messages_received=c.messages_received,
            bytes_received=c.bytes_received,
            messages_dropped=c.messages_dropped + self._pattern.dropped,
            handshakes=c.handshakes,
            disconnections=c.disconnections,
            protocol_errors=c.protocol_errors,
            handshake_timeouts=c.handshake_timeouts,
            heartbeat_timeouts=c.heartbeat_timeouts,
            peer_details=self._pipeset.details(),
        )

    # --- closing -----------------------------------------------------------

    def close(self) -> None:
        """Close now, dropping queued messages (like ``linger=0``). Not a checkpoint.

        Tasks blocked in this socket get ``trio.ClosedResourceError``.
        Idempotent.
        """
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        self._sending = self._receiving = False
        self._closed_event.set()
        self._nursery.cancel_scope.cancel()
        self._stop_listening()
        for connecters in self._connecters.values():
            for connecter in connecters:
                connecter.close()
        self._connecters.clear()
        self._pipeset.kill_all()  # counts what is dropped, wakes every waiter

    def _stop_listening(self) -> None:
        # The connections accepted go on until the nursery is cancelled.
        for bound in self._bound.values():
            bound.stop_listening()
        self._bound.clear()
        self._bind_aliases.clear()

    async def aclose(self) -> None:
        """Close, first waiting up to ``linger`` for queued messages to be written.

        A checkpoint. The socket stops taking ``send``/``recv`` at once. If
        cancelled while lingering, it closes at once, dropping what is left.
        """
        if self._state is not _State.OPEN:
            await trio.lowlevel.checkpoint()
            return
        self._state = _State.CLOSING
        self._sending = self._receiving = False
        self._closed_event.set()
        # As libzmq: stop listening now; the accepted connections linger.
        self._stop_listening()
        self._pipeset.send_lot.unpark_all()
        self._pipeset.wake_receivers()
        self._pipeset.flush_all_now()
        try:
            linger = self._options.linger
            queued = self._pipeset.queued_outbound()
            if queued and linger != 0:
                log.info(
                    "%r: closing: waiting up to linger=%s s for %d queued messages "
                    "(cancel the close to drop them)",
                    self,
                    linger,
                    queued,
                )
            with trio.move_on_after(math.inf if linger is None else linger):
                while self._state is _State.CLOSING and not self._pipeset.all_flushed():
                    await self._pipeset.flush_lot.park()
            await trio.lowlevel.checkpoint()
        finally:
            self.close()
