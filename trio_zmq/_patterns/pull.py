"""PULL (RFC 30): fair-queues messages from its peers; never sends."""

from __future__ import annotations

from .._options import Options
from .._strategies import FairQueue, Message, PipeLike
from .._zmtp import SocketType
from ._base import Pattern


class Pull(Pattern):
    socket_type = SocketType.PULL
    can_recv = True

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._fq: FairQueue[PipeLike] = FairQueue()
        # The per-message calls go straight to the strategy: a Python frame
        # less on each (the methods below say what they do).
        self.recv_single = self._fq.take_single  # type: ignore[method-assign]
        self.pipe_readable = self._fq.activate  # type: ignore[method-assign]

    def attach(self, pipe: PipeLike) -> bool:
        self._fq.attach(pipe)
        return True

    def detach(self, pipe: PipeLike) -> None:
        self._fq.detach(pipe)

    def pipe_readable(self, pipe: PipeLike) -> None:
        self._fq.activate(pipe)

    def peek(self) -> Message | None:
        found = self._fq.peek()
        return None if found is None else found[1]

    def recv(self) -> Message | None:
        found = self._fq.recv()
        return None if found is None else found[1]

    def recv_single(self) -> Message | None:
        return self._fq.take_single()
