"""The interface between ``Socket`` and the per-socket-type modules.

A pattern is a small synchronous object composed from ``_strategies``. The
socket calls it inside its ``*_nowait`` steps, so everything a pattern does
happens in one synchronous step (DESIGN section 3): ``send`` either queues
the whole message or changes nothing; ``recv`` takes a message and updates
the pattern's state together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from .._errors import OperationNotSupported
from .._options import Options
from .._strategies import Message, PipeLike
from .._zmtp import Event, HandshakeComplete, SocketType


def _ignore(pipe: PipeLike) -> None:
    pass


def _nothing() -> None:
    pass


class Pattern:
    """Base class: a socket type that can neither send nor receive.

    ``options`` is the socket's live options object (a pattern reads its
    own options, such as ``router_mandatory``, each time it needs them).
    """

    socket_type: ClassVar[SocketType]
    can_send: ClassVar[bool] = False
    can_recv: ClassVar[bool] = False
    #: libzmq's default linger for this type, in seconds (None: forever).
    default_linger: ClassVar[float | None] = None
    #: The type-specific options this type accepts (see ``_options.TYPE_OPTIONS``).
    type_options: ClassVar[frozenset[str]] = frozenset()

    @property
    def plain_delivery(self) -> bool:
        """Whether ``process_inbound`` only queues messages (an inproc peer may do it)."""
        return self.can_recv and type(self).process_inbound is Pattern.process_inbound

    #: Sends and receives alternate (REQ, REP): batches hold one message.
    alternates: ClassVar[bool] = False
    #: Its connections carry raw bytes, not ZMTP (STREAM: ``_raw_peer``).
    raw: ClassVar[bool] = False

    def __init__(self, options: Options) -> None:
        self.options = options
        #: Messages this pattern dropped on purpose (ROUTER to an unknown
        #: peer, REP to a peer that is gone, stale REQ replies ...).
        self.dropped = 0
        #: Set by the socket: end ``pipe`` (drop what it holds; its connection,
        #: if any, stays open with nothing passing, as libzmq does).
        self.terminate: Callable[[PipeLike], None] = _ignore
        #: Set by the socket: a message became available outside any pipe
        #: (XPUB's subscriptions); wake the tasks waiting in ``recv``.
        self.wake_receivers: Callable[[], None] = _nothing

    def attach(self, pipe: PipeLike) -> bool:
        """A pipe for a peer exists; return False to refuse it (PAIR).

        Bound peers' pipes are attached once their handshake is done,
        connected peers' pipes at ``connect`` time, before any handshake.
        """
        raise NotImplementedError

    def peer_ready(self, pipe: PipeLike, handshake: HandshakeComplete) -> bool:
        """A handshake completed on ``pipe`` (again, after a reconnection).

        Return False to stop serving the pipe (ROUTER: a duplicate routing id).
        """
        return True

    def detach(self, pipe: PipeLike) -> None:
        """``pipe`` is gone (and holds no more unread messages)."""
        raise NotImplementedError

    def pipe_readable(self, pipe: PipeLike) -> None:
        """``pipe``'s inbound queue went from empty to non-empty."""

    def pipe_writable(self, pipe: PipeLike) -> None:
        """``pipe``'s outbound queue went from full to having room."""

    def send(self, msg: Message) -> object:
        """Queue ``msg`` whole and return a true value, or change nothing and return a false one.

        (Not necessarily a bool: PUSH returns what its load balancer does,
        the pipe that took the message or None.)
        """
        raise NotImplementedError

    def peek(self) -> Message | None:
        """The message ``recv`` would return, without taking it."""
        raise NotImplementedError

    def recv(self) -> Message | None:
        """Take the next message, or return None if there is none."""
        raise NotImplementedError

    def recv_single(self) -> Message | None:
        """``recv_nowait``'s step: the next message, taken only if it has one frame.

        A multipart message is returned without being taken (the caller
        checks ``len``). Types whose ``recv`` is one fair-queue step override
        this with a single walk (PULL).
        """
        msg = self.peek()
        if msg is None or len(msg) != 1:
            return msg
        return self.recv()

    def routing_id_in_use(self, routing_id: bytes) -> bool:
        """ROUTER, STREAM: whether a peer has ``routing_id`` (``connect_routing_id``)."""
        return False

    def preset_routing_id(self, pipe: PipeLike, routing_id: bytes) -> None:
        """ROUTER, STREAM: ``connect_routing_id``: the new pipe's peer is ``routing_id``.

        Routable at once, before any connection: messages for it queue.
        """
        raise OperationNotSupported(f"a {self.socket_type.name} socket has no routing ids")

    def subscribe(self, topic: bytes) -> None:
        """``Socket.subscribe``: only the publish-subscribe types have it."""
        raise OperationNotSupported(f"a {self.socket_type.name} socket cannot subscribe")

    def unsubscribe(self, topic: bytes) -> None:
        """``Socket.unsubscribe``: only the publish-subscribe types have it."""
        raise OperationNotSupported(f"a {self.socket_type.name} socket cannot unsubscribe")

    def process_inbound(self, pipe: PipeLike, events: Sequence[Event], only_messages: bool) -> int:
        """Handle what a peer's reader decoded; return how many messages were dropped.

        By default: queue the messages for ``recv``, or drop them (and say so)
        if this type cannot receive. ``only_messages`` says ``events`` holds
        nothing but messages (the common case, handed over without looking
        at each item).
        """
        if not self.can_recv:
            return len(events) if only_messages else sum(type(e) is list for e in events)
        if only_messages:
            pipe.deliver(events)  # type: ignore[arg-type]
        else:
            pipe.deliver([e for e in events if type(e) is list])
        return 0
