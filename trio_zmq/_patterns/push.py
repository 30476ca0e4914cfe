"""PUSH (RFC 30): round-robin to the peers that have room; never receives."""

from __future__ import annotations

from .._options import Options
from .._strategies import LoadBalancer, Message, PipeLike
from .._zmtp import SocketType
from ._base import Pattern


class Push(Pattern):
    socket_type = SocketType.PUSH
    can_send = True

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._lb: LoadBalancer[PipeLike] = LoadBalancer()
        # The per-message call goes straight to the strategy (a Python frame
        # less): its result, the pipe or None, is what ``send`` promises.
        self.send = self._lb.send  # type: ignore[method-assign]

    def attach(self, pipe: PipeLike) -> bool:
        self._lb.attach(pipe)
        return True

    def detach(self, pipe: PipeLike) -> None:
        self._lb.detach(pipe)

    def pipe_writable(self, pipe: PipeLike) -> None:
        self._lb.activate(pipe)

    def send(self, msg: Message) -> object:
        return self._lb.send(msg)
