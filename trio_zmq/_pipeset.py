"""A socket's pipes: their life from attach to detach, and who is woken when.

``PipeSet`` is the owner every ``Pipe`` reports to (``_pipe.PipeOwner``). It
keeps the socket's pattern in step with the pipes (attach, detach, the
"readable" and "writable" transitions the strategies need) and holds the
three parking lots the socket's blocking calls wait on: receivers, senders,
and closers waiting for queued messages to be written (linger).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import trio

from ._inproc import InprocHost, InprocPipe
from ._options import Options
from ._patterns import Pattern
from ._pipe import Lender, Pipe
from ._stats import Counters, PeerStatistics
from ._waiters import Waiters


class PipeSet:
    """The pipes of one socket, and the pattern they feed."""

    def __init__(
        self, pattern: Pattern, options: Options, counters: Counters, nursery: trio.Nursery
    ) -> None:
        self._pattern = pattern
        self._options = options
        self._counters = counters
        self._nursery = nursery
        self.pipes: set[Pipe] = set()
        self._drained: list[Pipe] = []
        #: Tasks in ``recv`` wait here for a message.
        self.recv_lot = Waiters()
        #: Tasks in ``send`` wait here for room.
        self.send_lot = Waiters()
        #: ``aclose`` and retiring connections wait here for writes to finish.
        self.flush_lot = Waiters()
        #: The pipe whose socket a receiver reads itself, and that socket's fd.
        self._borrowed: Pipe | None = None
        self._borrowed_fd = -1
        #: Set to end the borrower's wait (see ``_kick_borrower``).
        self._kicked = False

    # --- what the socket asks -------------------------------------------------

    def new_pipe(self, endpoint: str) -> Pipe:
        """A pipe for a new peer, attached to the pattern if it takes it."""
        opts = self._options
        pipe = Pipe(self, sndhwm=opts.sndhwm, rcvhwm=opts.rcvhwm, endpoint=endpoint)
        self._add(pipe)
        self.attach(pipe)
        return pipe

    def new_inproc_pipe(self, endpoint: str, host: InprocHost, *, attach: bool) -> InprocPipe:
        """A pipe to link to another socket's; attached now if ``attach``."""
        opts = self._options
        pipe = InprocPipe(self, host, sndhwm=opts.sndhwm, rcvhwm=opts.rcvhwm, endpoint=endpoint)
        self._add(pipe)
        if attach:
            self.attach(pipe)
        return pipe

    def _add(self, pipe: Pipe) -> None:
        self.pipes.add(pipe)
        if len(self.pipes) == 2:
            # No more borrowing: a socket resting unwatched is read by its reader again.
            for other in self.pipes:
                if other.lender is not None:
                    other.lender.stop_resting()

    def attach(self, pipe: Pipe) -> None:
        """Offer the pipe to the pattern (PAIR may refuse it)."""
        pipe.attached = self._pattern.attach(pipe)
        if pipe.attached and self.send_lot:
            self.send_lot.unpark_all()

    def kill(self, pipe: Pipe, *, discard_inbound: bool = False) -> None:
        """The peer is gone for good: count what is dropped; detach once drained."""
        if pipe.dead:
            if discard_inbound:
                self._counters.messages_dropped += pipe.kill(discard_inbound=True)
                self._detach(pipe)
            return
        self._counters.messages_dropped += pipe.kill(discard_inbound=discard_inbound)
        if not pipe.queued_inbound:
            self._detach(pipe)
        if self.flush_lot:
            self.flush_lot.unpark_all()

    def kill_all(self) -> None:
        """The socket closes: drop (and count) everything, wake every waiter."""
        for pipe in list(self.pipes):
            self.kill(pipe, discard_inbound=True)
        self.wake_receivers()
        for lot in (self.send_lot, self.flush_lot):
            lot.unpark_all()

    def wait_for_message(self) -> Awaitable[None]:
        """Park a receiver until a message may have come; it then tries again.

        Returns the wait to await: a checkpoint; if cancelled, nothing was
        taken. With a single peer whose connection can lend its socket (tcp,
        ipc), the receiver reads the socket itself instead of waiting for the
        connection's reader to read and wake it: one scheduler pass less per
        reply (see ``PeerConnection.lend``). (Not itself a coroutine: that
        would cost a second coroutine per wait on the per-message path.)
        """
        pipe = self._lending_pipe()
        if pipe is not None:
            assert pipe.lender is not None
            fd = pipe.lender.lend()
            if fd is not None:
                return self._borrow(pipe, pipe.lender, fd)
        return self.recv_lot.park()

    def pull(self) -> bool:
        """Read the single peer's socket now if it rests unwatched (sync).

        For ``recv_nowait`` finding nothing queued: whatever has come since
        a receiver last read the socket itself. Returns whether it was read.
        """
        pipe = self._lending_pipe()
        return pipe is not None and pipe.lender is not None and pipe.lender.pull()

    def _lending_pipe(self) -> Pipe | None:
        """The socket's only pipe, if nobody borrows it and its connection lends."""
        if len(self.pipes) == 1 and self._borrowed is None:
            for pipe in self.pipes:
                if pipe.lender is not None and pipe.attached and not pipe.dead:
                    return pipe
        return None

    async def _borrow(self, pipe: Pipe, lender: Lender, fd: int) -> None:
        self._borrowed = pipe
        self._borrowed_fd = fd
        self._kicked = False
        lender.kick_borrower = self._kick_borrower
        try:
            await trio.lowlevel.wait_readable(fd)
            while not lender.read_lent() and not self._kicked:
                await trio.lowlevel.wait_readable(fd)  # the rest of a large message
        except (trio.ClosedResourceError, OSError):
            pass  # kicked (see _kick_borrower), or the socket was closed: its reader acts on it
        finally:
            self._borrowed = lender.kick_borrower = None
            lender.give_back(rest=len(self.pipes) == 1 and pipe in self.pipes)
            if self.recv_lot:
                # Other receivers waited while this one borrowed; if it leaves
                # without a message (cancelled, kicked), one of them borrows next.
                self.recv_lot.unpark_all()

    def _kick_borrower(self) -> None:
        """End the borrower's wait for the lent socket now, if there is one (sync).

        Trio wakes a task waiting for an fd in two ways: cancelling it, or
        ``notify_closing``. A cancel scope per borrow costs about 10 µs here
        (trio 0.35 runs some 50 Python calls to enter and leave one), and a
        request/reply peer borrows once per message; so the borrower waits
        unscoped and is woken with ``notify_closing``, which raises
        ``ClosedResourceError`` in the tasks waiting for the fd without
        closing it. Those are the borrower and, if it waits for room to
        write, the connection's writer, which waits again when the socket is
        still open (``_peer_writer``). ``_kicked`` stops a borrower that was
        between two waits. Kicks are rare: another pipe's message, the
        socket closing, the connection ending, and on XPUB each
        subscription (``wake_receivers``), even one the borrower read itself.
        """
        if self._borrowed is not None and not self._kicked:
            # Once: a kicked borrower never waits again, and by a second kick
            # its socket may be closed and the fd number reused by another.
            self._kicked = True
            trio.lowlevel.notify_closing(self._borrowed_fd)

    def retire(self, pipe: Pipe | None, stop: Callable[[], None]) -> None:
        """End a connection as libzmq ends a session (disconnect, unbind).

        The pattern lets go of the pipe at once (nothing more in or out) and
        unread messages are dropped; what is queued for the peer gets up to
        ``linger`` to be written, then ``stop`` closes the connection.
        """
        if pipe is None:  # no handshake yet: nothing queued either way
            stop()
            return
        self._detach_from_pattern(pipe)
        self._counters.messages_dropped += pipe.discard_inbound()
        pipe.flush_now()
        linger = self._options.linger
        if pipe.flushed() or pipe.dead or linger == 0:
            stop()
            self.kill(pipe)
        else:
            self._nursery.start_soon(self._linger_then_stop, pipe, stop, linger)

    async def _linger_then_stop(
        self, pipe: Pipe, stop: Callable[[], None], linger: float | None
    ) -> None:
        with trio.move_on_after(math.inf if linger is None else linger):
            while not pipe.flushed() and not pipe.dead:
                await self.flush_lot.park()
        stop()
        self.kill(pipe)

    def detach_drained(self) -> None:
        """Detach the dead pipes whose last message was just read."""
        if self._drained:
            drained, self._drained = self._drained, []
            for pipe in drained:
                self._detach(pipe)

    def flush_all_now(self) -> None:
        """The socket is closing: every writer writes what is queued, without gathering."""
        for pipe in self.pipes:
            pipe.flush_now()

    def all_flushed(self) -> bool:
        """Nothing is queued for any peer, nor being written."""
        return all(p.flushed() for p in self.pipes)

    def queued_outbound(self) -> int:
        return sum(p.queued_outbound for p in self.pipes)

    def queued_inbound(self) -> int:
        return sum(p.queued_inbound for p in self.pipes)

    def details(self) -> tuple[PeerStatistics, ...]:
        """One entry per pipe, for ``statistics().peer_details``."""
        return tuple(
            PeerStatistics(
                endpoint=p.endpoint,
                connected=p.connected,
                queued_outbound=p.queued_outbound,
                queued_inbound=p.queued_inbound,
                messages_dropped=p.dropped,
            )
            for p in self.pipes
        )

    def wake_receivers(self) -> None:
        """Wake every receiver to try again (including one reading a lent socket)."""
        if self.recv_lot:
            self.recv_lot.unpark_all()
        self._kick_borrower()

    def set_hwms(self, sndhwm: int, rcvhwm: int) -> None:
        """Apply changed high-water marks to every pipe (as libzmq does)."""
        for pipe in self.pipes:
            pipe.sndhwm = sndhwm
            pipe.rcvhwm = rcvhwm
            pipe.hwm_changed()

    def _detach(self, pipe: Pipe) -> None:
        self.pipes.discard(pipe)
        self._detach_from_pattern(pipe)

    def _detach_from_pattern(self, pipe: Pipe) -> None:
        if pipe.attached:
            pipe.attached = False
            self._pattern.detach(pipe)

    # --- what the pipes tell (_pipe.PipeOwner) ------------------------------------

    def _pipe_readable(self, pipe: Pipe) -> None:
        self._pattern.pipe_readable(pipe)
        if self.recv_lot:
            self.recv_lot.unpark_all()
        if self._borrowed is not None and pipe is not self._borrowed:
            self._kick_borrower()  # a message came another way

    def _pipe_writable(self, pipe: Pipe) -> None:
        self._pattern.pipe_writable(pipe)
        if self.send_lot:
            self.send_lot.unpark_all()

    def _pipe_flushed(self, pipe: Pipe) -> None:
        if self.flush_lot:
            self.flush_lot.unpark_all()

    def _pipe_drained(self, pipe: Pipe) -> None:
        self._drained.append(pipe)  # detached after the pattern's recv returns

    def _pipe_lost(self, pipe: Pipe, count: int) -> None:
        self._counters.messages_dropped += count
