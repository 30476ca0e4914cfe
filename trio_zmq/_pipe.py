"""Pipes: the seam between one peer and the socket's pattern.

A pipe holds two bounded queues of whole messages: outbound (socket -> peer,
bounded by SNDHWM) and inbound (peer -> socket, bounded by RCVHWM). The
socket and its pattern use the synchronous methods (``can_write``,
``write``, ``peek``, ``read``); the peer's connection task uses the rest.

Why not a pair of ``trio`` memory channels: the patterns must look at a
queue without taking from it (``peek``, ``can_write``), be told when a queue
goes from empty to non-empty or from full to not full (so the strategies
keep their active sets in O(1)), and move a whole batch of messages in one
step. A deque with the same semantics and a ``Waiters`` lot per side does all
of that with none of the per-message checkpoints a channel hop costs
(DESIGN section 4).

Flow control: the writer takes a batch of queued messages (up to
``BATCH_BYTES``, at least one message) and writes it in one go; the batch
still counts against SNDHWM until it is written. The reader delivers no
more than RCVHWM messages, then stops reading from the network (TCP pushes
back on the sender) until the application has read the queue down to half.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import Protocol

from trio import CancelScope

from ._strategies import Message
from ._waiters import Waiters
from ._zmtp import QueuedSubscription

#: The most the writer takes for one write (always at least one message).
BATCH_BYTES = 256 * 1024
#: A message sent this long (seconds) after the last direct write goes
#: direct too, armed or not: the sender is not streaming (see ``Pipe.write``).
DIRECT_REARM = 0.0005


class PipeOwner(Protocol):
    """What a pipe tells its socket."""

    def _pipe_readable(self, pipe: Pipe) -> None:
        """The inbound queue went from empty to non-empty."""

    def _pipe_writable(self, pipe: Pipe) -> None:
        """The outbound queue went from full to having room."""

    def _pipe_flushed(self, pipe: Pipe) -> None:
        """A write finished (linger waits on this)."""

    def _pipe_drained(self, pipe: Pipe) -> None:
        """A dead pipe's last inbound message was read."""

    def _pipe_lost(self, pipe: Pipe, count: int) -> None:
        """A failed write lost ``count`` messages with its connection."""


class Lender(Protocol):
    """A connection that can lend its socket to a receiver (``_peer.PeerConnection``)."""

    #: Ends the borrower's wait; the connection calls it when it ends.
    kick_borrower: Callable[[], None] | None

    def lend(self) -> int | None:
        """Lend the socket: return its fd, or None if the reader cannot lend it now."""

    def read_lent(self) -> bool:
        """Read what the socket has and deliver it, as the reader would.

        False if only part of a message came: the borrower waits on.
        """

    def give_back(self, *, rest: bool) -> None:
        """The borrower is done; ``rest``: the socket may rest unwatched a while."""

    def pull(self) -> bool:
        """Read a resting socket now (sync); whether it was resting."""

    def stop_resting(self) -> None:
        """A resting socket is taken back by its reader now."""


class Pipe:
    """Two bounded message queues between a socket and one peer."""

    __slots__ = (
        "_in",
        "_in_flight",
        "_out",
        "_owner",
        "_reader_lot",
        "_writer_lot",
        "attached",
        "connected",
        "dead",
        "direct",
        "direct_armed",
        "direct_at",
        "dropped",
        "endpoint",
        "flushing",
        "gather",
        "gather_at",
        "gather_grew",
        "lender",
        "rcvhwm",
        "sndhwm",
    )

    def __init__(self, owner: PipeOwner, *, sndhwm: int, rcvhwm: int, endpoint: str) -> None:
        self._owner = owner
        self._out: deque[Message] = deque()
        self._in_flight = 0  # messages the writer has taken and not written yet
        self._in: deque[Message] = deque()
        self._writer_lot = Waiters()  # the peer's writer waits here for messages
        self._reader_lot = Waiters()  # the peer's reader waits here for room
        self.sndhwm = sndhwm
        self.rcvhwm = rcvhwm
        self.endpoint = endpoint
        #: The pattern accepted this pipe (PAIR refuses all but one).
        self.attached = False
        #: A connection with a completed handshake is serving this pipe.
        self.connected = False
        #: The peer is gone for good; nothing more can be written.
        self.dead = False
        #: Messages dropped on this pipe's way (PUB to a full subscriber ...).
        self.dropped = 0
        #: Set by the peer's writer while it waits with nothing to write: writes
        #: a message to the network at once, in the caller's step (see ``write``).
        self.direct: Callable[[Message], bool] | None = None
        #: A direct write is allowed: re-armed when the writer goes idle after
        #: writing and when a message comes from the peer, cleared by one.
        self.direct_armed = True
        #: When the last direct write (or attempt) ended: one more may go, armed
        #: or not, once ``DIRECT_REARM`` has passed since. ``time.monotonic``,
        #: not trio's clock (cheaper per message); so a virtual clock's jumps
        #: never re-arm it.
        self.direct_at = 0.0
        #: The connection's reader, while it can lend its socket to a receiver.
        self.lender: Lender | None = None
        #: The writer's wait while a streaming batch gathers (see
        #: ``PeerWriter._gather``), cancelled once ``gather_at`` are queued.
        self.gather: CancelScope | None = None
        self.gather_at = 0
        #: Called instead of ``end_gather`` at ``gather_at`` once the writer
        #: follows a stream by deadline (``PeerWriter._gather``, second phase).
        self.gather_grew: Callable[[], None] | None = None
        #: Closing or retiring: write what is queued without gathering.
        self.flushing = False

    def __repr__(self) -> str:
        return f"<Pipe {self.endpoint} out={len(self._out)} in={len(self._in)}>"

    # --- the socket's side -------------------------------------------------

    def can_write(self) -> bool:
        """Whether a message can be queued now (alive and below SNDHWM)."""
        return not self.dead and (not self.sndhwm or len(self._out) + self._in_flight < self.sndhwm)

    def offer(self, msg: Message) -> bool:
        """``write`` if ``can_write``; whether it was written (the load balancer's step)."""
        if self.dead or (self.sndhwm and len(self._out) + self._in_flight >= self.sndhwm):
            return False
        self.write(msg)
        return True

    def write(self, msg: Message) -> None:
        """Queue a whole message for the peer (the caller checked ``can_write``).

        When the writer is idle and nothing is queued or being written, the
        first message goes to the network at once, in the caller's step (the
        latency path: no task switch to the writer). Once: the next messages
        queue for the writer, which batches them, until the pipe is idle
        again after a write, a message comes from the peer (a reply), or
        ``DIRECT_REARM`` has passed since the direct write (a sender that
        sends now and then, not a stream, writes every message itself).
        """
        direct = self.direct
        if (
            direct is not None
            and not self._out
            and not self._in_flight
            and (self.direct_armed or monotonic() - self.direct_at >= DIRECT_REARM)
        ):
            self.direct_armed = False
            written = direct(msg)
            self.direct_at = monotonic()  # after the attempt: a slow write is no pause
            if written:
                return  # written, or handed to the writer as in flight
        out = self._out
        out.append(msg)
        if self._writer_lot:
            self._writer_lot.unpark_all()
        elif self.gather is not None and len(out) >= self.gather_at:
            self._gather_reached()

    def _gather_reached(self) -> None:
        """``gather_at`` messages are queued: the batch goes now, or grows on."""
        if self.gather_grew is None:
            self.end_gather()
        else:
            self.gather_grew()

    def end_gather(self) -> None:
        """The batch being gathered is big enough (or must go now): wake the writer."""
        if self.gather is not None:
            self.gather.cancel()
            self.gather = None
            self.gather_grew = None

    def flush_now(self) -> None:
        """The socket closes or lets go of this peer: write what is queued now.

        Ends a gather in progress and keeps the writer from starting another,
        so the queue goes out within ``linger`` in a program that is never idle.
        """
        self.flushing = True
        self.end_gather()

    def start_direct(self) -> None:
        """A direct write could not finish: the writer finishes it (one message in flight)."""
        self._in_flight += 1
        if self._writer_lot:
            self._writer_lot.unpark_all()

    def peek(self) -> Message | None:
        """The next inbound message, left in place."""
        return self._in[0] if self._in else None

    def read(self) -> Message | None:
        """Take the next inbound message, or None."""
        q = self._in
        if not q:
            return None
        msg = q.popleft()
        if self._reader_lot and (not self.rcvhwm or len(q) <= self.rcvhwm // 2):
            self._reader_lot.unpark_all()
        if not q and self.dead:
            self._owner._pipe_drained(self)
        return msg

    def take_single(self) -> Message | None:
        """The next inbound message, taken only if it has one frame (PipeLike)."""
        q = self._in
        if not q:
            return None
        msg = q[0]
        if len(msg) != 1:
            return msg
        # read's step, inlined (the per-message receive path): keep the two alike.
        q.popleft()
        if self._reader_lot and (not self.rcvhwm or len(q) <= self.rcvhwm // 2):
            self._reader_lot.unpark_all()
        if not q and self.dead:
            self._owner._pipe_drained(self)
        return msg

    @property
    def queued_outbound(self) -> int:
        """Messages for the peer not written yet (queued or being written)."""
        return len(self._out) + self._in_flight

    @property
    def queued_inbound(self) -> int:
        return len(self._in)

    def flushed(self) -> bool:
        """Nothing is queued for the peer and nothing is being written."""
        return not self._out and not self._in_flight

    def kill(self, *, discard_inbound: bool = False) -> int:
        """The peer is gone for good: drop what was queued for it; return how many.

        Messages already received stay readable unless ``discard_inbound``.
        """
        self.dead = True
        dropped = len(self._out) + self._in_flight
        self._out.clear()
        self._in_flight = 0
        if discard_inbound:
            dropped += len(self._in)
            self._in.clear()
        self._writer_lot.unpark_all()
        self._reader_lot.unpark_all()
        self.end_gather()
        return dropped

    def discard_inbound(self) -> int:
        """Drop the messages received and not read; return how many."""
        dropped = len(self._in)
        self._in.clear()
        if self._reader_lot:
            self._reader_lot.unpark_all()
        return dropped

    def hwm_changed(self) -> None:
        """SNDHWM or RCVHWM changed: re-check who is waiting for room.

        Ends a gather in progress: its target was set for the old SNDHWM.
        """
        self.end_gather()
        if self._reader_lot and not self.inbound_full():
            self._reader_lot.unpark_all()
        if self.can_write():
            self._owner._pipe_writable(self)

    # --- the peer's side ---------------------------------------------------

    def take_outbound(self) -> list[Message]:
        """Take the writer's next batch: queued messages up to ``BATCH_BYTES``.

        The batch keeps counting against SNDHWM until ``write_done``.
        """
        out = self._out
        batch: list[Message] = []
        size = 0
        while out and size < BATCH_BYTES:
            msg = out.popleft()
            batch.append(msg)
            size += len(msg[0]) if len(msg) == 1 else sum(map(len, msg))
        self._in_flight += len(batch)
        return batch

    async def wait_outbound(self) -> None:
        """Park the writer until a message is queued or ``wake_writer`` is called."""
        await self._writer_lot.park()

    def queue_subscription(self, topic: bytes, subscribe: bool) -> None:
        """Queue a SUBSCRIBE (or CANCEL) for the peer (SUB, XSUB).

        It takes its place among the queued messages and is never refused
        at SNDHWM (it counts against it like a message once queued).
        """
        if not self.dead:
            out = self._out
            out.append(QueuedSubscription(topic, subscribe))
            if self._writer_lot:
                self._writer_lot.unpark_all()
            elif self.gather is not None and len(out) >= self.gather_at:
                # It takes room a gather counted on: at its target the pipe
                # is full, and a sender may be waiting for room.
                self._gather_reached()

    def discard_outbound(self) -> int:
        """Drop what is queued for the peer and not taken yet.

        Returns how many messages were dropped (queued subscriptions are
        not counted). SUB and XSUB do this when a publisher reconnects
        (libzmq's hiccup), then queue every topic again, once.
        """
        was_full = not self.can_write()
        dropped = sum(type(msg) is list for msg in self._out)
        self._out.clear()
        if was_full and self.can_write():
            self._owner._pipe_writable(self)
        return dropped

    def wake_writer(self) -> None:
        """Wake the writer (it has commands to send, e.g. a PONG)."""
        if self._writer_lot:
            self._writer_lot.unpark_all()
        self.end_gather()

    @property
    def has_outbound(self) -> bool:
        """Whether messages wait for the writer to take them."""
        return bool(self._out)

    @property
    def untaken_outbound(self) -> int:
        """How many messages wait for the writer to take them."""
        return len(self._out)

    def write_done(self, count: int, *, lost: bool = False) -> None:
        """The writer has written ``count`` messages, or ``lost`` them with its connection."""
        if self.dead:
            return  # kill() has already counted them
        was_full = not self.can_write()
        self._in_flight -= count
        if lost:
            self._owner._pipe_lost(self, count)
        if was_full and self.can_write():
            self._owner._pipe_writable(self)
        self._owner._pipe_flushed(self)

    def deliver(self, msgs: list[Message]) -> None:
        """Queue messages read from the peer."""
        q = self._in
        was_empty = not q
        q.extend(msgs)
        if was_empty and q:
            self._owner._pipe_readable(self)

    def inbound_full(self) -> bool:
        return bool(self.rcvhwm) and len(self._in) >= self.rcvhwm

    def inbound_room(self) -> int | None:
        """How many more messages fit below RCVHWM (None: no limit)."""
        return max(0, self.rcvhwm - len(self._in)) if self.rcvhwm else None

    async def wait_inbound_room(self) -> None:
        """Park the reader until the application has read the inbound queue down."""
        await self._reader_lot.park()
