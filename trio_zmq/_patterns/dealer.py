"""DEALER (RFC 28): round-robin out, fair-queue in, no envelope handling."""

from __future__ import annotations

from .._options import Options
from .._strategies import FairQueue, LoadBalancer, Message, PipeLike
from .._zmtp import SocketType
from ._base import Pattern


class Dealer(Pattern):
    socket_type = SocketType.DEALER
    can_send = True
    can_recv = True
    type_options = frozenset({"probe_router"})

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._lb: LoadBalancer[PipeLike] = LoadBalancer()
        self._fq: FairQueue[PipeLike] = FairQueue()

    def attach(self, pipe: PipeLike) -> bool:
        self._lb.attach(pipe)
        self._fq.attach(pipe)
        if self.options.probe_router:
            pipe.write([b""])  # libzmq: an empty message to every new pipe
        return True

    def detach(self, pipe: PipeLike) -> None:
        self._lb.detach(pipe)
        self._fq.detach(pipe)

    def pipe_readable(self, pipe: PipeLike) -> None:
        self._fq.activate(pipe)

    def pipe_writable(self, pipe: PipeLike) -> None:
        self._lb.activate(pipe)

    def send(self, msg: Message) -> bool:
        return self._lb.send(msg) is not None

    def peek(self) -> Message | None:
        found = self._fq.peek()
        return None if found is None else found[1]

    def recv(self) -> Message | None:
        found = self._fq.recv()
        return None if found is None else found[1]

    def recv_single(self) -> Message | None:
        return self._fq.take_single()  # one walk, where the base class would peek and recv
