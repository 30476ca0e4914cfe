"""Fair queuing over the pipes that have messages: PULL, DEALER, ROUTER, SUB receiving.

As libzmq's fq_t: one whole message from each pipe in turn. A pipe found
empty is deactivated until it reports a message again (``activate``), so a
receive costs O(1) however many peers are idle; the last active pipe stays
active when found empty (there is nothing to skip past, and with one peer
that saves a deactivate and an activate per message).
"""

from __future__ import annotations

from typing import Generic

from ._active_set import ActiveSet
from ._types import Message, P


class FairQueue(Generic[P]):
    """Takes whole messages from its pipes in round-robin order."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set: ActiveSet[P] = ActiveSet()

    def attach(self, pipe: P) -> None:
        self._set.attach(pipe)

    def detach(self, pipe: P) -> None:
        self._set.detach(pipe)

    def activate(self, pipe: P) -> None:
        """``pipe`` has a message again."""
        self._set.activate(pipe)

    def __len__(self) -> int:
        return len(self._set)

    def peek(self) -> tuple[P, Message] | None:
        """The pipe and message the next ``recv`` would return, without taking it."""
        s = self._set
        while s.active:
            pipe = s.pipe_at(s.current)
            msg = pipe.peek()
            if msg is not None:
                return pipe, msg
            if s.active == 1:
                return None  # see recv_single
            s.deactivate_at(s.current)
        return None

    def recv_single(self) -> tuple[P, Message] | None:
        """The next message, taken only if it has one frame (check ``len``), in one walk."""
        s = self._set
        pipes = s.pipes  # pipe_at() and advance() inlined: this is the per-message path
        while s.active:
            pipe = pipes[s.current]
            msg = pipe.peek()
            if msg is not None:
                if len(msg) == 1:
                    pipe.read()
                    s.current = (s.current + 1) % s.active  # the pipe is still active
                return pipe, msg
            if s.active == 1:
                # The only active pipe stays active: there is nothing to skip
                # past, and with one peer (the common case) deactivating it
                # now and activating it at its next message is pure overhead.
                return None
            s.deactivate_at(s.current)
        return None

    def recv(self) -> tuple[P, Message] | None:
        """Take the next message in fair order, with the pipe it came from."""
        s = self._set
        while s.active:
            pipe = s.pipe_at(s.current)
            msg = pipe.read()
            if msg is not None:
                s.advance()
                return pipe, msg
            if s.active == 1:
                return None  # see recv_single
            s.deactivate_at(s.current)
        return None
