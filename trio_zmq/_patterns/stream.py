"""STREAM (libzmq's stream.cpp): raw TCP or ipc connections, addressed by routing id.

A STREAM socket speaks no ZMTP: its connections (``_raw_peer``) carry the
application's bytes as they are, to and from plain TCP clients and servers.
It is compatible with no ZMTP socket type (a ZMTP peer just sees bytes).

* Each connection's pipe gets a routing id when it is attached, as libzmq's
  ``identify_peer`` does: 5 bytes, ``00`` then a ``uint32`` counter
  (big-endian) that starts at a random value. A connected endpoint's pipe
  is made at ``connect`` time, so its id is known at once and stays the
  same across reconnections; an accepted connection gets its id when it is
  accepted. As in libzmq, the socket's ``routing_id`` option is set to the
  id of the last pipe attached, which is how to learn a connected peer's
  id before it connects (libzmq's ``ZMQ_ROUTING_ID`` after ``zmq_connect``).
* ``recv`` returns ``[routing id, data]``, fair-queued over the connections.
  ``data`` is one chunk of the byte stream; an empty ``data`` is a
  notification: the connection was made (or remade), or the peer closed it.
* ``send`` takes ``[routing id, data]``: ``data`` goes to that connection as
  it is. An unknown id, or one whose peer is gone, raises
  ``HostUnreachable`` (libzmq's EHOSTUNREACH, with no option needed); a full
  peer blocks (``send_nowait``: ``trio.WouldBlock``). Any other shape of
  message raises ``ValueError`` (libzmq would misread every later frame).
* ``send([routing id, b""])`` closes that connection, as in libzmq: what is
  queued for it is written first, then it is closed and not remade; the id
  is forgotten at once, and bytes received from it and not read yet are
  dropped (counted). No notification follows a close the application asked
  for.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from .._errors import HostUnreachable
from .._options import Options
from .._strategies import FairQueue, Message, PipeLike
from .._zmtp import Event, SocketType
from ._base import Pattern

#: The empty message that tells a raw connection to close after what is queued.
CLOSE = b""


class Stream(Pattern):
    socket_type = SocketType.STREAM
    can_send = True
    can_recv = True
    raw = True
    type_options = frozenset({"stream_notify", "connect_routing_id"})

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._fq: FairQueue[PipeLike] = FairQueue()
        self._by_id: dict[bytes, PipeLike] = {}
        self._ids: dict[PipeLike, bytes] = {}
        self._next_id = random.getrandbits(32)

    def _new_id(self) -> bytes:
        while True:  # after 2**32 ids, skip any still in use
            routing_id = b"\x00" + self._next_id.to_bytes(4, "big")
            self._next_id = (self._next_id + 1) & 0xFFFFFFFF
            if routing_id not in self._by_id:
                return routing_id

    def attach(self, pipe: PipeLike) -> bool:
        routing_id = self._new_id()
        self._by_id[routing_id] = pipe
        self._ids[pipe] = routing_id
        self._fq.attach(pipe)
        self.options.routing_id = routing_id  # as libzmq: the last peer's id
        return True

    def routing_id_in_use(self, routing_id: bytes) -> bool:
        return routing_id in self._by_id

    def preset_routing_id(self, pipe: PipeLike, routing_id: bytes) -> None:
        # Replaces the id attach() generated (connect_routing_id).
        del self._by_id[self._ids[pipe]]
        self._by_id[routing_id] = pipe
        self._ids[pipe] = routing_id
        self.options.routing_id = routing_id

    def detach(self, pipe: PipeLike) -> None:
        self._forget(pipe)

    def _forget(self, pipe: PipeLike) -> None:
        routing_id = self._ids.pop(pipe, None)
        if routing_id is not None:
            del self._by_id[routing_id]
        self._fq.detach(pipe)

    def pipe_readable(self, pipe: PipeLike) -> None:
        if pipe in self._ids:
            self._fq.activate(pipe)

    def process_inbound(self, pipe: PipeLike, events: Sequence[Event], only_messages: bool) -> int:
        if pipe not in self._ids:  # closed by the application: drop what still comes
            return sum(1 for e in events if type(e) is list and e[0])
        return super().process_inbound(pipe, events, only_messages)

    def send(self, msg: Message) -> bool:
        if len(msg) != 2:
            raise ValueError(
                f"a STREAM message is [routing_id, data], not a message of {len(msg)} frames"
            )
        routing_id, data = msg
        pipe = self._by_id.get(routing_id)
        if pipe is None or pipe.dead:  # gone, even if its last messages are still unread
            raise HostUnreachable(f"no connection has the routing id {routing_id!r}")
        if data == CLOSE:
            self._close(pipe)
            return True
        if not pipe.can_write():
            return False  # the caller blocks, or gets trio.WouldBlock
        pipe.write([data])
        return True

    def _close(self, pipe: PipeLike) -> None:
        """Forget the connection now; its raw peer closes it after what is queued."""
        self._forget(pipe)
        while (unread := pipe.read()) is not None:  # dropped, as in libzmq
            if unread[0]:  # a notification is not counted as a message dropped
                self.dropped += 1
        pipe.write([CLOSE])  # even at SNDHWM: a close is never refused

    def peek(self) -> Message | None:
        found = self._fq.peek()
        return None if found is None else [self._ids[found[0]], *found[1]]

    def recv(self) -> Message | None:
        found = self._fq.recv()
        return None if found is None else [self._ids[found[0]], *found[1]]
