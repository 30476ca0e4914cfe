"""The inproc transport: two sockets of one Context, linked pipe to pipe.

There is no byte stream and no ZMTP codec: a message written to one
socket's pipe is handed to the other socket's pattern at once, in the same
synchronous step, as the list of frames it is (the frames are never
copied). Each side keeps its own :class:`InprocPipe`; the two are linked.

As libzmq 4 does it:

* bind and connect may come in either order: a connect to a name nobody
  has bound yet waits in the context, its pipe queuing up to SNDHWM, and
  is linked when the name is bound;
* the high-water marks combine: a sender may get ``sndhwm`` of its own
  plus ``rcvhwm`` of the receiver ahead of the receiver's reads (no limit
  if either is 0);
* when either socket closes, or the connecting one disconnects, both
  pipes end; messages already handed over stay readable. An inproc link
  never reconnects. ``unbind`` only frees the name: links made through it
  go on.
"""

from __future__ import annotations

import errno
import logging
from typing import TYPE_CHECKING, Protocol

from . import _zmtp
from ._pipe import Pipe, PipeOwner
from ._strategies import Message
from ._zmtp import QueuedSubscription

if TYPE_CHECKING:
    from ._socket import Socket

log = logging.getLogger("trio_zmq")


class InprocHost(Protocol):
    """What a linked pipe needs of the socket on the other side."""

    def _peer_inbound(self, pipe: Pipe, events: list[_zmtp.Event], only_messages: bool) -> None:
        """Hand what arrived on ``pipe`` to the socket's pattern."""
        ...

    def _inproc_ended(self, pipe: InprocPipe) -> None:
        """The other side of ``pipe`` is gone: end ``pipe`` too."""
        ...

    def _inproc_unlinked(self) -> None:
        """One of the socket's links ended (for its statistics)."""
        ...

    def _inproc_protocol_error(self) -> None:
        """What arrived broke the socket's rules (REQ): the link ends, counted."""
        ...


class InprocPipe(Pipe):
    """A pipe whose writes go straight to a linked pipe of another socket."""

    __slots__ = ("_host", "_peer_host", "_plain_delivery", "peer")

    def __init__(
        self, owner: PipeOwner, host: InprocHost, *, sndhwm: int, rcvhwm: int, endpoint: str
    ) -> None:
        super().__init__(owner, sndhwm=sndhwm, rcvhwm=rcvhwm, endpoint=endpoint)
        self._host = host
        #: The linked pipe of the other socket (None until linked, or once ended).
        self.peer: InprocPipe | None = None
        self._peer_host: InprocHost | None = None
        self._plain_delivery = False

    def can_write(self) -> bool:
        if self.dead:
            return False
        peer = self.peer
        if peer is None:
            return not self.sndhwm or len(self._out) < self.sndhwm
        if not self.sndhwm or not peer.rcvhwm:
            return True
        return len(self._out) + len(peer._in) < self.sndhwm + peer.rcvhwm

    @property
    def queued_outbound(self) -> int:
        return len(self._out)

    def offer(self, msg: Message) -> bool:
        peer = self.peer
        if peer is None or not self._plain_delivery or not peer.attached or self.dead:
            if not self.can_write():
                return False
            self.write(msg)
            return True
        # can_write and write's plain delivery in one step (the per-message path).
        q = peer._in
        if self.sndhwm and peer.rcvhwm and len(q) + len(self._out) >= self.sndhwm + peer.rcvhwm:
            return False
        q.append(msg)  # no copy, unlike write: offer takes the list over (PipeLike.offer)
        if len(q) == 1:
            peer._owner._pipe_readable(peer)
        return True

    def write(self, msg: Message) -> None:
        peer = self.peer
        if peer is None:
            super().write(msg)
        elif self._plain_delivery and peer.attached:
            # The receiving pattern only queues messages (PULL, DEALER, PAIR
            # ...): queue it there directly. A copy of the frame list, not of
            # the frames: PUB hands one message to many pipes, and a receiver
            # may change its list. (Pipe.deliver of one message, inlined.)
            q = peer._in
            q.append(msg[:])
            if len(q) == 1:
                peer._owner._pipe_readable(peer)
        else:
            self._hand_over([msg[:]], only_messages=True)

    def queue_subscription(self, topic: bytes, subscribe: bool) -> None:
        if self.peer is None:
            super().queue_subscription(topic, subscribe)
        elif not self.dead:
            event = _zmtp.Subscribe(topic) if subscribe else _zmtp.Cancel(topic)
            self._hand_over([event], only_messages=False)

    def read(self) -> Message | None:
        q = self._in
        if not q:
            return None
        # Pipe.read inlined (this is the per-message path; no reader task
        # waits for room here), then: was the link full?
        msg = q.popleft()
        if not q and self.dead:
            self._owner._pipe_drained(self)
        peer = self.peer
        if (
            peer is not None
            and self.rcvhwm
            and peer.sndhwm
            and len(q) + 1 + len(peer._out) == peer.sndhwm + self.rcvhwm
            and not peer.dead
        ):
            peer._owner._pipe_writable(peer)  # it was full: its sender may wait for this room
        return msg

    def take_single(self) -> Message | None:
        q = self._in
        if not q:
            return None
        msg = q[0]
        if len(msg) != 1:
            return msg
        q.popleft()  # read's step, inlined (the per-message path): keep the two alike
        if not q and self.dead:
            self._owner._pipe_drained(self)
        peer = self.peer
        if (
            peer is not None
            and self.rcvhwm
            and peer.sndhwm
            and len(q) + 1 + len(peer._out) == peer.sndhwm + self.rcvhwm
            and not peer.dead
        ):
            peer._owner._pipe_writable(peer)  # it was full: its sender may wait for this room
        return msg

    def hwm_changed(self) -> None:
        # Our RCVHWM is half of the peer's limit: the peer's sender may have room now.
        super().hwm_changed()
        peer = self.peer
        if peer is not None and peer.can_write():
            peer._owner._pipe_writable(peer)

    def link(self, peer: InprocPipe, peer_host: InprocHost, *, plain_delivery: bool) -> None:
        """Link to ``peer``; ``plain_delivery``: its pattern just queues what arrives."""
        self.peer = peer
        self._peer_host = peer_host
        self._plain_delivery = plain_delivery

    def flush_queued(self) -> None:
        """Hand over what was queued before the link existed."""
        if not self._out or self.peer is None:
            return
        events: list[_zmtp.Event] = []
        only_messages = True
        for item in self._out:
            if isinstance(item, QueuedSubscription):
                only_messages = False
                topic = item[0]
                events.append(_zmtp.Subscribe(topic) if item.subscribe else _zmtp.Cancel(topic))
            else:
                events.append(item)
        self._out.clear()
        self._hand_over(events, only_messages=only_messages)
        if self.can_write():
            # Once per link, whatever the queue held: a sender may have been
            # set aside at this pipe's own SNDHWM, and linked the limit is
            # SNDHWM + RCVHWM, so "was it full" cannot be told from here.
            self._owner._pipe_writable(self)
        self._owner._pipe_flushed(self)

    def _hand_over(self, events: list[_zmtp.Event], *, only_messages: bool) -> None:
        peer, host = self.peer, self._peer_host
        assert peer is not None and host is not None
        try:
            host._peer_inbound(peer, events, only_messages)
        except _zmtp.ProtocolError as exc:  # e.g. a REQ given a reply with no delimiter
            log.warning("%s: %s; the link ends", self.endpoint, exc)
            host._inproc_protocol_error()
            self._host._inproc_ended(self)

    def kill(self, *, discard_inbound: bool = False) -> int:
        dropped = super().kill(discard_inbound=discard_inbound)
        if self.connected:
            self.connected = False
            self._host._inproc_unlinked()
        peer, host = self.peer, self._peer_host
        self.peer = self._peer_host = None
        if peer is not None and host is not None:
            peer.peer = peer._peer_host = None
            host._inproc_ended(peer)
        return dropped


class InprocRegistry:
    """A context's inproc names: who is bound, and who waits to connect."""

    def __init__(self) -> None:
        self.bound: dict[str, Socket] = {}
        self.pending: dict[str, list[InprocConnecter]] = {}

    def bind(self, name: str, sock: Socket) -> None:
        """Register ``name`` and link the connects waiting for it (sync)."""
        if name in self.bound:
            raise OSError(errno.EADDRINUSE, f"inproc://{name} is already bound")
        self.bound[name] = sock
        for connecter in self.pending.pop(name, []):
            connecter.pending = False
            _link(connecter, sock)

    def unbind(self, name: str, sock: Socket) -> None:
        if self.bound.get(name) is sock:
            del self.bound[name]

    def connect(self, connecter: InprocConnecter) -> None:
        """Link to the bound socket now, or wait for it (sync)."""
        sock = self.bound.get(connecter.name)
        if sock is None:
            connecter.pending = True
            self.pending.setdefault(connecter.name, []).append(connecter)
        else:
            _link(connecter, sock)

    def forget(self, connecter: InprocConnecter) -> None:
        waiting = self.pending.get(connecter.name)
        if waiting and connecter in waiting:
            waiting.remove(connecter)
            if not waiting:
                del self.pending[connecter.name]
        connecter.pending = False


class InprocConnecter:
    """One ``connect("inproc://name")``: its pipe, linked or waiting."""

    def __init__(self, sock: Socket, registry: InprocRegistry, name: str, pipe: InprocPipe):
        self.sock = sock
        self.registry = registry
        self.name = name
        self.endpoint = f"inproc://{name}"
        self.pipe: InprocPipe | None = pipe
        self.pending = False

    @property
    def current_pipe(self) -> Pipe | None:
        return self.pipe

    def close(self) -> None:
        """Stop waiting for a bind (sync); a linked pipe is ended by its owner."""
        self.registry.forget(self)


def _link(connecter: InprocConnecter, bound: Socket) -> None:
    sock = connecter.sock
    pipe = connecter.pipe
    if pipe is None or pipe.dead:  # a closing socket lingers: it still links
        return
    if bound.socket_type not in _zmtp.COMPATIBLE[sock.socket_type]:
        log.warning(
            "%s: a %s socket cannot talk to a %s socket",
            connecter.endpoint,
            sock.socket_type.name,
            bound.socket_type.name,
        )
        sock._inproc_refused(pipe)
        return
    bound._inproc_accept(pipe, sock, connecter.endpoint)


class InprocBinding:
    """One ``bind("inproc://name")``: the name, held in the context's registry."""

    def __init__(self, sock: Socket, registry: InprocRegistry, name: str) -> None:
        self.sock = sock
        self.registry = registry
        self.name = name
        self.endpoint = f"inproc://{name}"

    def stop_listening(self) -> None:
        """Free the name (sync): connects from now on wait for a new bind."""
        self.registry.unbind(self.name, self.sock)

    def close(self) -> None:
        """``unbind``: free the name; links made through it go on (libzmq)."""
        self.stop_listening()
