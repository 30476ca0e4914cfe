"""PAIR (RFC 31): one peer at a time, both directions."""

from __future__ import annotations

from .._options import Options
from .._strategies import Exclusive, Message, PipeLike
from .._zmtp import SocketType
from ._base import Pattern


class Pair(Pattern):
    socket_type = SocketType.PAIR
    can_send = True
    can_recv = True

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._one: Exclusive[PipeLike] = Exclusive()

    def attach(self, pipe: PipeLike) -> bool:
        return self._one.attach(pipe)

    def detach(self, pipe: PipeLike) -> None:
        self._one.detach(pipe)

    def send(self, msg: Message) -> bool:
        return self._one.send(msg) is not None

    def peek(self) -> Message | None:
        return self._one.peek()

    def recv(self) -> Message | None:
        return self._one.recv()

    def recv_single(self) -> Message | None:
        return self._one.take_single()  # one step, where the base class would peek and recv
