"""``send_many`` / ``recv_many``: many messages for one checkpoint (mixed into ``Socket``).

The same blocking recipe as every call (DESIGN 3.2): the synchronous step
moves as many whole messages as it can, the call waits only when not even
one can move, so a cancelled call has moved nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import trio
from trio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled

from ._frames import Frame, as_message
from ._patterns import Pattern
from ._pipeset import PipeSet
from ._stats import Counters
from ._strategies import Message

T = TypeVar("T")


class SocketBatches:
    """Mixed into ``Socket``: the batch calls."""

    _pattern: Pattern
    _pipeset: PipeSet
    _counters: Counters

    def _check_can_send(self) -> None:
        raise NotImplementedError  # Socket's

    def _check_can_recv(self) -> None:
        raise NotImplementedError  # Socket's

    async def _blocking(self, attempt: Callable[[], T], park: Callable[[], Awaitable[None]]) -> T:
        raise NotImplementedError  # Socket's

    async def _wait_for_message(self, attempt: Callable[[], T | None]) -> T:
        raise NotImplementedError  # Socket's

    def send_many_nowait(self, messages: Iterable[Iterable[Frame]]) -> int:
        """Queue as many of ``messages`` as fit now, in order; return how many.

        Not a checkpoint. Each message goes whole or not at all, and every
        message is validated before any is queued. Raises ``trio.WouldBlock``
        (having queued nothing) if not even the first fits. REQ and REP,
        which alternate sending and receiving, take at most one.
        """
        self._check_can_send()
        batch = [as_message(frames) for frames in messages]
        return self._send_batch(batch) if batch else 0

    async def send_many(self, messages: Iterable[Iterable[Frame]]) -> int:
        """Send as many of ``messages`` as fit, waiting only until the first fits.

        Returns how many were sent, in order, from the start of
        ``messages``; send the rest with another call. One checkpoint for
        the whole batch: this is the way past the one-checkpoint-per-message
        floor of :meth:`send`. If cancelled, none was sent (DESIGN 3.4).
        """
        await checkpoint_if_cancelled()
        self._check_can_send()
        batch = [as_message(frames) for frames in messages]
        if not batch:
            await cancel_shielded_checkpoint()
            return 0
        return await self._blocking(lambda: self._send_batch(batch), self._pipeset.send_lot.park)

    def _send_batch(self, batch: list[Message]) -> int:
        self._check_can_send()
        send = self._pattern.send
        if self._pattern.alternates:
            batch = batch[:1]
        count = size = 0
        for msg in batch:
            try:
                if not send(msg):
                    break
            except Exception:
                if not count:
                    raise
                # Say how many went; the next call meets the error on this one.
                break
            count += 1
            size += len(msg[0]) if len(msg) == 1 else sum(map(len, msg))
        if self._pipeset._drained:
            self._pipeset.detach_drained()
        if not count:
            raise trio.WouldBlock
        self._counters.messages_sent += count
        self._counters.bytes_sent += size
        return count

    def recv_many_nowait(self, max_messages: int | None = None) -> list[list[bytes]]:
        """Take every message there is now (up to ``max_messages``), or raise ``trio.WouldBlock``.

        Not a checkpoint. Returns a non-empty list of whole messages, in the
        order ``recv_multipart`` would have returned them. REQ and REP,
        which alternate sending and receiving, return at most one.
        """
        _check_max_messages(max_messages)
        batch = self._take_many(max_messages)
        if batch is None and (
            not self._pipeset.pull()  # a resting socket may have more (PipeSet.pull)
            or (batch := self._take_many(max_messages)) is None
        ):
            raise trio.WouldBlock
        return batch

    def _take_many(self, max_messages: int | None) -> list[list[bytes]] | None:
        # As Socket._take_message: None rather than WouldBlock.
        self._check_can_recv()
        limit = 1 if self._pattern.alternates else max_messages or sys.maxsize
        recv = self._pattern.recv
        batch: list[list[bytes]] = []
        size = 0
        while len(batch) < limit:
            msg = recv()
            if msg is None:
                break
            batch.append(msg)
            size += len(msg[0]) if len(msg) == 1 else sum(map(len, msg))
        if self._pipeset._drained:
            self._pipeset.detach_drained()
        if not batch:
            return None
        self._counters.messages_received += len(batch)
        self._counters.bytes_received += size
        return batch

    async def recv_many(self, max_messages: int | None = None) -> list[list[bytes]]:
        """Receive every message there is (up to ``max_messages``), waiting for at least one.

        Returns a non-empty list of whole messages. One checkpoint for the
        whole batch: the way past the one-checkpoint-per-message floor of
        :meth:`recv_multipart`. If cancelled, no message was taken (DESIGN 3.3).
        """
        _check_max_messages(max_messages)
        await checkpoint_if_cancelled()
        batch = self._take_many(max_messages)
        if batch is None:
            return await self._wait_for_message(lambda: self._take_many(max_messages))
        await cancel_shielded_checkpoint()
        return batch


def _check_max_messages(max_messages: int | None) -> None:
    if max_messages is not None and (type(max_messages) is not int or max_messages < 1):
        raise ValueError(f"max_messages must be a positive int or None, not {max_messages!r}")
