"""REP (RFC 28; libzmq's rep.cpp): fair-queued requests, each answered on its own path.

Like libzmq's REP, which is built on its ROUTER, a peer that announces a
routing id another peer already uses is left unserved (connected, but its
requests never arrive).

``recv`` takes a request, keeps its envelope (every frame up to and
including the first empty one, which must not be the last) and the pipe it
came from, and returns the body; a request without an envelope is dropped
and counted. ``send`` puts the envelope back in front of the reply and
writes it to that pipe; it never blocks: if the peer is gone or full, the
reply is dropped and counted (libzmq's router semantics). The two must
alternate (``SocketStateError``).
"""

from __future__ import annotations

from .._errors import SocketStateError
from .._options import Options
from .._strategies import FairQueue, Message, PipeLike
from .._zmtp import HandshakeComplete, SocketType
from ._base import Pattern


def _delimiter(msg: Message) -> int:
    """Index of the first empty frame, if a body follows it; else -1."""
    for i in range(len(msg) - 1):
        if not msg[i]:
            return i
    return -1


class Rep(Pattern):
    socket_type = SocketType.REP
    alternates = True
    can_send = True
    can_recv = True

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._fq: FairQueue[PipeLike] = FairQueue()
        self._routing_ids: dict[bytes, PipeLike] = {}  # the ids peers announced
        self._replying = False
        self._reply_pipe: PipeLike | None = None
        self._envelope: Message = []

    def attach(self, pipe: PipeLike) -> bool:
        self._fq.attach(pipe)
        return True

    def peer_ready(self, pipe: PipeLike, handshake: HandshakeComplete) -> bool:
        routing_id = handshake.peer_routing_id
        if routing_id:
            holder = self._routing_ids.setdefault(routing_id, pipe)
            if holder is not pipe:
                self._fq.detach(pipe)  # a duplicate: left unserved, as libzmq does
                return False
        return True

    def detach(self, pipe: PipeLike) -> None:
        self._fq.detach(pipe)
        for routing_id, holder in list(self._routing_ids.items()):
            if holder is pipe:
                del self._routing_ids[routing_id]
        if pipe is self._reply_pipe:
            self._reply_pipe = None  # the reply will be dropped

    def pipe_readable(self, pipe: PipeLike) -> None:
        self._fq.activate(pipe)

    def peek(self) -> Message | None:
        return self._next(consume=False)

    def recv(self) -> Message | None:
        return self._next(consume=True)

    def recv_single(self) -> Message | None:
        # One walk, where the base class would peek and then recv.
        return self._next(consume=True, only_single=True)

    def _next(self, *, consume: bool, only_single: bool = False) -> Message | None:
        if self._replying:
            raise SocketStateError("a REP socket must send its reply before receiving again")
        while True:
            found = self._fq.peek()
            if found is None:
                return None
            pipe, msg = found
            split = _delimiter(msg)
            if split < 0:
                self._fq.recv()  # no envelope: dropped, as libzmq does
                self.dropped += 1
                continue
            if consume and (not only_single or split + 2 == len(msg)):
                self._fq.recv()
                self._replying = True
                self._reply_pipe = pipe
                self._envelope = msg[: split + 1]
            return msg[split + 1 :]

    def send(self, msg: Message) -> bool:
        if not self._replying:
            raise SocketStateError("a REP socket must receive a request before replying")
        pipe = self._reply_pipe
        if pipe is not None and pipe.can_write():
            pipe.write(self._envelope + msg)
        else:
            self.dropped += 1
        self._replying = False
        self._reply_pipe = None
        self._envelope = []
        return True
