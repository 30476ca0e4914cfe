"""Lending a connection's socket to a receiver, and letting it rest between borrows.

``PeerLender`` is mixed into ``_peer.PeerConnection``: a task in ``recv`` on a
socket whose single peer is served by this connection borrows the socket
(``lend``), reads it itself (``read_lent``: the reader's own steps) and gives
it back (``give_back``), where the reader would read and then wake it one
scheduler pass later. After a give-back the socket may *rest* unwatched for
up to ``REST_TIME``: the next receiver borrows it again with no step of the
reader's in between. ``PipeSet`` (``wait_for_message``, ``pull``,
``_kick_borrower``) is the other half.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from . import _zmtp
from ._heartbeat import Heartbeat
from ._pipe import Pipe
from ._waiters import Waiters

#: How long a socket that a receiver has read and left stays unwatched
#: before the reader takes it back (see ``give_back``).
REST_TIME = 0.01


class PeerLender:
    """The lending half of a connection (mixed into ``PeerConnection``)."""

    pipe: Pipe | None
    _socket: trio.socket.SocketType | None
    _heartbeat: Heartbeat
    #: The connection is ending (``PeerConnection.close``).
    _closing: bool
    #: Decoded events not delivered yet (RCVHWM), and whether all are messages.
    _backlog: list[_zmtp.Event]
    _only_messages: bool
    #: The reader's wait for the socket, which ``lend`` ends.
    _waiting: bool
    _reader_scope: trio.CancelScope | None
    #: The socket is lent to a receiver; the reader waits in ``_lent_lot``.
    _lent: bool
    _lent_lot: Waiters
    #: A receiver gave the socket back and nobody watches it until the
    #: reader's ``REST_TIME`` ends, or another receiver borrows or pulls it.
    _resting: bool
    #: The reader waits in ``_lent_lot`` with its ``REST_TIME`` running.
    _timed_park: bool
    #: Whether the socket may rest at all (not XPUB's).
    _may_rest: bool
    #: A read (the reader's or a borrower's) met the end of the stream (EOFError) or an error.
    _borrowed_end: BaseException | None
    #: Ends the borrower's wait (``PipeSet._kick_borrower``), called when the connection ends.
    kick_borrower: Callable[[], None] | None

    # The reader's steps the borrower takes too (``PeerConnection``'s).

    def _read_now(self) -> int:
        raise NotImplementedError

    def _read_rest_of_body(self) -> None:
        raise NotImplementedError

    def _deliver(
        self, pipe: Pipe, events: list[_zmtp.Event], only_messages: bool, room: int | None
    ) -> list[_zmtp.Event]:
        raise NotImplementedError

    async def _wait_while_lent(self) -> None:
        """Wait while a receiver has the socket, and while it rests after one.

        In a request/reply loop the receiver is back within a round trip, so
        the reader does not take the socket back at each ``give_back`` (a
        scheduler step per message) but when ``REST_TIME`` has passed with
        the socket resting; after a longer borrow it waits for the
        ``give_back`` itself.
        """
        self._timed_park = True
        try:
            with trio.move_on_after(REST_TIME):
                await self._lent_lot.park()
        finally:
            self._timed_park = False
        if self._lent:
            await self._lent_lot.park()  # a long wait: give_back wakes us
        self._resting = False

    def lend(self) -> int | None:
        """Let a task in ``recv`` read the socket itself; return its fd (else None).

        The latency path for replies: a receiver waiting on an empty pipe
        would otherwise be woken by the reader one scheduler pass after the
        reader itself woke. While lent, the reader waits (its own wait for
        the socket is cancelled, as trio lets one task wait per fd); the
        borrower waits for readability, calls ``read_lent`` and ``give_back``.
        Refused while the reader has undelivered messages or the connection
        is ending.
        """
        if self._resting and not self._closing:
            self._resting = False  # nobody watches it: no wait to end
            self._lent = True
            assert self._socket is not None
            return self._socket.fileno()
        if (
            self._lent
            or self._backlog
            or self._borrowed_end is not None
            or self._closing
            or self._socket is None
        ):
            return None
        self._lent = True
        if self._waiting and self._reader_scope is not None:
            self._waiting = False
            self._reader_scope.cancel()  # ends the wait now, so the fd is free
        return self._socket.fileno()

    def read_lent(self) -> bool:
        """Read what the lent socket has and deliver it as the reader would (sync).

        The end of the stream and errors are left for the reader to act on
        once the socket is given back. Returns False if all that came was
        part of a message (a large body arrives in many reads): the borrower
        then waits on, in the same borrow.
        """
        assert self._lent
        return self._read_and_deliver()

    def _read_and_deliver(self) -> bool:
        """``read_lent``'s work: whether anything was decoded whole (or the stream ended)."""
        pipe = self.pipe
        assert pipe is not None
        if not self._read_now():
            return self._borrowed_end is not None
        self._read_rest_of_body()
        if not self._backlog:
            return self._borrowed_end is not None
        room = pipe.inbound_room()
        if room != 0:
            try:
                self._backlog = self._deliver(pipe, self._backlog, self._only_messages, room)
            except _zmtp.ProtocolError as exc:  # e.g. a REQ reply with no envelope
                # What came before it was delivered; nothing after it counts.
                self._backlog = []
                self._borrowed_end = exc
        return True

    def give_back(self, *, rest: bool) -> None:
        """The borrower is done: the socket rests, or the reader takes it back now.

        It rests if ``rest`` (the socket's only peer: no other pipe's messages
        wait behind this one's) and nothing needs the reader: no undelivered
        messages, no end of stream, no heartbeats (a PING must be answered
        and a PONG seen in time). A resting socket is read by the next
        receiver (``lend``, ``pull``) or, after ``REST_TIME``, by the reader.
        """
        self._lent = False
        if (
            rest
            and self._timed_park
            and not self._closing
            and self._may_rest
            and not self._backlog
            and self._borrowed_end is None
            and self._heartbeat.quiet
        ):
            self._resting = True
        else:
            self._lent_lot.unpark_all()

    def pull(self) -> bool:
        """Read a resting socket now, for a receiver that found nothing (sync).

        Returns whether the socket was resting (and so was read).
        """
        if not self._resting:
            return False
        self._read_and_deliver()
        if self._backlog or self._borrowed_end is not None:
            self.stop_resting()  # the reader acts on them
        return True

    def stop_resting(self) -> None:
        """The reader takes a resting socket back now (another pipe came)."""
        if self._resting:
            self._resting = False
            self._lent_lot.unpark_all()
