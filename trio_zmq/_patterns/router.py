"""ROUTER (RFC 28; libzmq's router.cpp): messages addressed by the peer's routing id.

* Each peer gets a routing id when its handshake completes: the ``Identity``
  it sent in READY, or, if it sent none, 5 bytes ``00`` + a ``uint32``
  counter (big-endian) that starts at a random value, as libzmq does. A
  connection that reconnects keeps its id.
* A second peer with an id in use is left unidentified (connected, but
  nothing passes), unless ``router_handover``: then the new one takes the id
  over, and the old one is renamed with a fresh id and its pipe ended (its
  unread messages dropped); as in libzmq its connection stays open but
  nothing passes through it any more, so it does not reconnect and take the
  id back.
* ``recv`` returns ``[routing id, *frames]``, fair-queued over the peers.
* ``send`` takes ``[routing id, *frames]``; an unknown id or a full peer
  drops the message silently (counted), unless ``router_mandatory``: then an
  unknown id raises ``HostUnreachable`` and a full peer blocks (or raises
  ``trio.WouldBlock`` from ``send_nowait``). A message of one frame (an id
  with nothing after it) is dropped, as libzmq ignores it.
* ``probe_router`` sends an empty message to each new peer.
* ``connect_routing_id`` names the peer of the next ``connect`` (the option
  is then reset): that peer is routable at once, before it is connected,
  and keeps the name whatever ``Identity`` it sends, as in libzmq.
"""

from __future__ import annotations

import random

from .._errors import HostUnreachable
from .._options import Options
from .._strategies import FairQueue, Message, PipeLike
from .._zmtp import HandshakeComplete, SocketType
from ._base import Pattern


class Router(Pattern):
    socket_type = SocketType.ROUTER
    can_send = True
    can_recv = True
    type_options = frozenset(
        {"router_mandatory", "router_handover", "probe_router", "connect_routing_id"}
    )

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._fq: FairQueue[PipeLike] = FairQueue()
        self._by_id: dict[bytes, PipeLike] = {}
        self._ids: dict[PipeLike, bytes] = {}
        self._next_id = random.getrandbits(32)

    def _auto_id(self) -> bytes:
        routing_id = b"\x00" + self._next_id.to_bytes(4, "big")
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        return routing_id

    def attach(self, pipe: PipeLike) -> bool:
        # Identified, and so routable and read from, once its handshake completes.
        if self.options.probe_router:
            pipe.write([b""])
        return True

    def peer_ready(self, pipe: PipeLike, handshake: HandshakeComplete) -> bool:
        if pipe in self._ids:
            return True  # reconnected: libzmq assumes the peer kept its id
        routing_id = handshake.peer_routing_id or self._auto_id()
        old = self._by_id.get(routing_id)
        if old is not None:
            if not self.options.router_handover:
                return False  # libzmq leaves the newcomer unidentified
            fresh = self._auto_id()
            self._by_id[fresh] = old
            self._ids[old] = fresh
            self.terminate(old)
        self._by_id[routing_id] = pipe
        self._ids[pipe] = routing_id
        self._fq.attach(pipe)
        return True

    def routing_id_in_use(self, routing_id: bytes) -> bool:
        return routing_id in self._by_id

    def preset_routing_id(self, pipe: PipeLike, routing_id: bytes) -> None:
        # peer_ready then keeps it, whatever Identity the peer sends (libzmq).
        self._by_id[routing_id] = pipe
        self._ids[pipe] = routing_id
        self._fq.attach(pipe)

    def detach(self, pipe: PipeLike) -> None:
        routing_id = self._ids.pop(pipe, None)
        if routing_id is not None and self._by_id.get(routing_id) is pipe:
            del self._by_id[routing_id]
        self._fq.detach(pipe)

    def pipe_readable(self, pipe: PipeLike) -> None:
        self._fq.activate(pipe)

    def send(self, msg: Message) -> bool:
        if len(msg) < 2:
            self.dropped += 1  # a routing id with no message after it
            return True
        pipe = self._by_id.get(msg[0])
        if pipe is None or pipe.dead:  # gone, even if its last messages are still unread
            if self.options.router_mandatory:
                raise HostUnreachable(f"no peer has the routing id {msg[0]!r}")
            self.dropped += 1
            return True
        if not pipe.can_write():
            if self.options.router_mandatory:
                return False  # the caller blocks, or gets trio.WouldBlock
            self.dropped += 1
            return True
        pipe.write(msg[1:])
        return True

    def peek(self) -> Message | None:
        found = self._fq.peek()
        return None if found is None else [self._ids[found[0]], *found[1]]

    def recv(self) -> Message | None:
        found = self._fq.recv()
        return None if found is None else [self._ids[found[0]], *found[1]]
