"""Fair queuing over the pipes that have messages: PULL, DEALER, ROUTER, SUB receiving.

As libzmq's fq_t: one whole message from each pipe in turn. A pipe found
empty is deactivated until it reports a message again (``activate``), so a
receive costs O(1) however many peers are idle; the last active pipe stays
active when found empty (there is nothing to skip past, and with one peer
that saves a deactivate and an activate per message).
"""

from __future__ import annotations

from ._active_set import ActiveSet
from ._types import Message, P


class FairQueue(ActiveSet[P]):
    """Takes whole messages from its pipes in round-robin order.

    The active pipes are those that have messages (as far as it knows):
    ``activate`` a pipe when it reports one again.
    """

    __slots__ = ()

    def peek(self) -> tuple[P, Message] | None:
        """The pipe and message the next ``recv`` would return, without taking it."""
        while self.active:
            pipe = self.pipes[self.current]
            msg = pipe.peek()
            if msg is not None:
                return pipe, msg
            if self.active == 1:
                return None  # see take_single
            self.deactivate_at(self.current)
        return None

    def take_single(self) -> Message | None:
        """The next message, taken only if it has one frame (check ``len``), in one walk.

        For the patterns whose single-frame receive is one fair-queue step
        (PULL, DEALER, XSUB); the others ``peek`` and then ``recv``.
        """
        while self.active:
            pipe = self.pipes[self.current]
            msg = pipe.take_single()
            if msg is not None:
                if self.active > 1 and len(msg) == 1:  # (taken; the pipe is still active)
                    self.current = (self.current + 1) % self.active
                return msg
            if self.active == 1:
                # The only active pipe stays active: there is nothing to skip
                # past, and with one peer (the common case) deactivating it
                # now and activating it at its next message is pure overhead.
                return None
            self.deactivate_at(self.current)
        return None

    def recv(self) -> tuple[P, Message] | None:
        """Take the next message in fair order, with the pipe it came from."""
        while self.active:
            pipe = self.pipes[self.current]
            msg = pipe.read()
            if msg is not None:
                if self.active > 1:
                    self.current = (self.current + 1) % self.active
                return pipe, msg
            if self.active == 1:
                return None  # see take_single
            self.deactivate_at(self.current)
        return None
