"""Round-robin over the pipes that have room: PUSH, DEALER and REQ sending.

As libzmq's lb_t: a pipe found full is deactivated and skipped until it
reports room again (``activate``); with no pipe that has room, ``send``
returns None and the socket blocks (or raises ``trio.WouldBlock``).
"""

from __future__ import annotations

from ._active_set import ActiveSet
from ._types import Message, P


class LoadBalancer(ActiveSet[P]):
    """Sends each message to the next pipe, in turn, that can take it.

    The active pipes are those with room (as far as it knows): ``activate``
    a pipe when it reports room again.
    """

    __slots__ = ()

    def select(self) -> P | None:
        """The pipe the next message would go to, or None if every pipe is full."""
        while self.active:
            pipe = self.pipes[self.current]
            if pipe.can_write():
                return pipe
            self.deactivate_at(self.current)
        return None

    def send(self, msg: Message) -> P | None:
        """Queue ``msg`` on the next pipe with room; None if there is none."""
        while self.active:
            pipe = self.pipes[self.current]
            if pipe.offer(msg):
                if self.active > 1:  # (still active: it took the message)
                    self.current = (self.current + 1) % self.active
                return pipe
            self.deactivate_at(self.current)
        return None
