"""One pipe only: PAIR (RFC 31).

As libzmq's pair_t, the first pipe attached wins; later ones are refused
while it lives (libzmq keeps their TCP connection open and passes nothing
through it). Sending with no pipe, or a full one, would block.
"""

from __future__ import annotations

from typing import Generic

from ._types import Message, P


class Exclusive(Generic[P]):
    """Holds at most one pipe and sends and receives through it."""

    __slots__ = ("pipe",)

    def __init__(self) -> None:
        self.pipe: P | None = None

    def attach(self, pipe: P) -> bool:
        """Take ``pipe`` if there is none yet; False if it is refused."""
        if self.pipe is None:
            self.pipe = pipe
            return True
        return self.pipe is pipe

    def detach(self, pipe: P) -> None:
        if self.pipe is pipe:
            self.pipe = None

    def send(self, msg: Message) -> P | None:
        pipe = self.pipe
        if pipe is not None and pipe.can_write():
            pipe.write(msg)
            return pipe
        return None

    def peek(self) -> Message | None:
        return None if self.pipe is None else self.pipe.peek()

    def recv(self) -> Message | None:
        return None if self.pipe is None else self.pipe.read()

    def take_single(self) -> Message | None:
        """The next message, taken only if it has one frame (check ``len``)."""
        return None if self.pipe is None else self.pipe.take_single()
