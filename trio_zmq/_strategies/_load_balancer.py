"""Round-robin over the pipes that have room: PUSH, DEALER and REQ sending.

As libzmq's lb_t: a pipe found full is deactivated and skipped until it
reports room again (``activate``); with no pipe that has room, ``send``
returns None and the socket blocks (or raises ``trio.WouldBlock``).
"""

from __future__ import annotations

from typing import Generic

from ._active_set import ActiveSet
from ._types import Message, P


class LoadBalancer(Generic[P]):
    """Sends each message to the next pipe, in turn, that can take it."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set: ActiveSet[P] = ActiveSet()

    def attach(self, pipe: P) -> None:
        self._set.attach(pipe)

    def detach(self, pipe: P) -> None:
        self._set.detach(pipe)

    def activate(self, pipe: P) -> None:
        """``pipe`` has room again."""
        self._set.activate(pipe)

    def __len__(self) -> int:
        return len(self._set)

    def select(self) -> P | None:
        """The pipe the next message would go to, or None if every pipe is full."""
        s = self._set
        while s.active:
            pipe = s.pipe_at(s.current)
            if pipe.can_write():
                return pipe
            s.deactivate_at(s.current)
        return None

    def send(self, msg: Message) -> P | None:
        """Queue ``msg`` on the next pipe with room; None if there is none."""
        s = self._set
        pipes = s.pipes  # select() and advance() inlined: this is the per-message path
        while s.active:
            pipe = pipes[s.current]
            if pipe.can_write():
                pipe.write(msg)
                s.current = (s.current + 1) % s.active  # still active: it took the message
                return pipe
            s.deactivate_at(s.current)
        return None
