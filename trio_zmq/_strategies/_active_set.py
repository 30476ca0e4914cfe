"""An ordered set of pipes split into an active and an inactive part.

The load balancer and the fair queue are active sets (as libzmq's lb_t and
fq_t keep their pipes): pipes ``[0, active)`` are believed ready, the
rest are not. Activating, deactivating, attaching and detaching are all
O(1), by swapping positions; the cursor walks the active part round-robin.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic

from ._types import P


class ActiveSet(Generic[P]):
    __slots__ = ("_index", "active", "current", "pipes")

    def __init__(self) -> None:
        #: Every pipe: the active ones first. Read-only outside this class.
        self.pipes: list[P] = []
        self._index: dict[P, int] = {}
        self.active = 0
        self.current = 0

    def __len__(self) -> int:
        return len(self.pipes)

    def __contains__(self, pipe: object) -> bool:
        return pipe in self._index

    def __iter__(self) -> Iterator[P]:
        return iter(list(self.pipes))

    def pipe_at(self, i: int) -> P:
        return self.pipes[i]

    def is_active(self, pipe: P) -> bool:
        i = self._index.get(pipe)
        return i is not None and i < self.active

    def _swap(self, i: int, j: int) -> None:
        if i != j:
            pipes = self.pipes
            pipes[i], pipes[j] = pipes[j], pipes[i]
            self._index[pipes[i]] = i
            self._index[pipes[j]] = j

    def attach(self, pipe: P, *, active: bool = True) -> None:
        if pipe in self._index:
            return
        self._index[pipe] = len(self.pipes)
        self.pipes.append(pipe)
        if active:
            self.activate(pipe)

    def activate(self, pipe: P) -> None:
        i = self._index.get(pipe)
        if i is not None and i >= self.active:
            self._swap(i, self.active)
            self.active += 1

    def deactivate_at(self, i: int) -> None:
        """Move the pipe at active position ``i`` out of the active part."""
        self.active -= 1
        self._swap(i, self.active)
        if self.current >= self.active:
            self.current = 0

    def detach(self, pipe: P) -> None:
        i = self._index.get(pipe)
        if i is None:
            return
        if i < self.active:
            self.deactivate_at(i)
            i = self._index[pipe]
        self._swap(i, len(self.pipes) - 1)
        self.pipes.pop()
        del self._index[pipe]

    def advance(self) -> None:
        """Move the cursor to the next active pipe (after a whole message).

        The strategies' per-message walks inline it.
        """
        if self.active:
            self.current = (self.current + 1) % self.active
