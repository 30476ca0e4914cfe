"""The per-peer connection task: handshake, then a reader and a writer.

One ``PeerConnection`` serves one byte stream. It runs the ZMTP handshake
with the sans-IO ``_zmtp.Connection``, asks its host (the socket) for the
pipe to serve, then runs two loops until either ends:

* the reader parses every complete message of each chunk it receives and
  hands them to the pattern in one call, with no checkpoint per message; it
  stops reading while the pipe's inbound queue is at RCVHWM;
* the writer (``_peer_writer.PeerWriter``) takes the queued messages at once
  and writes them with ``os.writev`` (large bodies as their own buffers,
  never joined).

A receiver may borrow the socket from the reader and read it in its own
step, and the socket may rest unwatched between two borrows
(``_peer_lender.PeerLender``).

Expected failures (the peer closes, the network breaks, the peer breaks the
protocol) end the connection quietly: they are logged, counted by the host
and turned into an :class:`Outcome`, never raised (DESIGN section 3.6).
"""

from __future__ import annotations

import enum
import logging
import math
import os
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import trio

from . import _zmtp
from ._heartbeat import Heartbeat
from ._options import Options
from ._peer_lender import PeerLender
from ._peer_writer import Buffer, PeerWriter
from ._pipe import Pipe
from ._waiters import Waiters

log = logging.getLogger("trio_zmq")
T = TypeVar("T")

#: The most a reader reads on inside a large body in one scheduler step.
READ_ON_BUDGET = 4 * 1024 * 1024

#: How long we try to send our READY to a peer we are rejecting.
FLUSH_ON_ERROR_TIMEOUT = 1.0

# Exceptions that mean "this connection is over" rather than "trio_zmq has a bug".
_NETWORK_ERRORS = (OSError, trio.BrokenResourceError, trio.ClosedResourceError)


class Outcome(enum.Enum):
    """How a connection ended, which decides whether to reconnect."""

    #: The peer closed it or the network failed: reconnect (libzmq does).
    CLOSED = "closed"
    #: The handshake took longer than ``handshake_ivl``: reconnect.
    HANDSHAKE_TIMEOUT = "handshake timeout"
    #: The peer broke ZMTP: do not reconnect (libzmq does not).
    PROTOCOL_ERROR = "protocol error"
    #: Nothing came from the peer in time after a PING, or within its TTL: reconnect.
    HEARTBEAT_TIMEOUT = "heartbeat timeout"
    #: The application closed it (STREAM: an empty message): do not reconnect (libzmq does not).
    CLOSED_LOCALLY = "closed locally"


class PeerHost(Protocol):
    """What a connection needs from its socket."""

    @property
    def socket_type(self) -> _zmtp.SocketType: ...

    @property
    def _options(self) -> Options: ...

    def _peer_ready(self, peer: PeerConnection, handshake: _zmtp.HandshakeComplete) -> Pipe:
        """The handshake is done: return the pipe to serve (``pipe.attached`` may be False)."""
        ...

    def _peer_inbound(self, pipe: Pipe, events: list[_zmtp.Event], only_messages: bool) -> None:
        """Hand what the reader decoded to the pattern."""
        ...

    def _peer_ended(self, peer: PeerConnection, outcome: Outcome) -> None:
        """The connection is over; ``peer.pipe`` is None if no handshake completed."""
        ...


class PeerConnection(PeerLender, PeerWriter):
    """One connection to one peer, from greeting to close."""

    def __init__(
        self, host: PeerHost, stream: trio.abc.Stream, *, endpoint: str, pipe: Pipe | None
    ) -> None:
        options = host._options
        self.host = host
        self.stream = stream
        self.endpoint = endpoint
        #: The pipe this connection serves: given for connect (it outlives
        #: connections); made by the host at handshake for bind.
        self.pipe = pipe
        self.owns_pipe = pipe is None
        self.conn = _zmtp.Connection(
            host.socket_type, routing_id=options.routing_id, maxmsgsize=options.maxmsgsize
        )
        self.outcome = Outcome.CLOSED
        self._scope = trio.CancelScope()
        #: ``close`` was called: ``_scope`` is cancelled (cheaper to test than it).
        self._closing = False
        self._heartbeat = Heartbeat(
            options.heartbeat_ivl, options.heartbeat_ttl, options.heartbeat_timeout
        )
        # With a real socket: os.writev of several buffers, and direct reads of the fd.
        self._socket: trio.socket.SocketType | None = (
            stream.socket if isinstance(stream, trio.SocketStream) else None
        )
        #: What a direct write left unwritten, for the writer to finish.
        self._unfinished: list[Buffer] | None = None
        #: The last read took everything the socket had.
        self._drained = False
        #: Decoded events not delivered yet (RCVHWM), and whether all are messages.
        self._backlog: list[_zmtp.Event] = []
        self._only_messages = False
        #: The reader waits for the socket to be readable, in ``_reader_scope``,
        #: which ``lend`` cancels to end that wait (trio lets one task wait per fd).
        self._waiting = False
        self._reader_scope: trio.CancelScope | None = None
        #: Take a scheduler pass before waiting for the socket (see ``_turn_to_read``).
        self._settle = False
        #: The socket is lent to a receiver; the reader waits in ``_lent_lot``.
        self._lent = False
        self._lent_lot = Waiters()
        #: A receiver gave the socket back and nobody watches it until the
        #: reader's ``REST_TIME`` ends, or another receiver borrows or pulls it.
        self._resting = False
        #: The reader waits in ``_lent_lot`` with its ``REST_TIME`` running.
        self._timed_park = False
        #: XPUB acts on what it receives (subscriptions) when it sends:
        #: its socket is always read as soon as data comes.
        self._may_rest = host.socket_type is not _zmtp.SocketType.XPUB
        #: A read (the reader's or a borrower's) met the end of the stream (EOFError) or an error.
        self._borrowed_end: BaseException | None = None
        #: Ends the borrower's wait (``PipeSet._kick_borrower``), called when the connection ends.
        self.kick_borrower: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"<PeerConnection {self.endpoint}>"

    async def run(self) -> Outcome:
        """Serve the connection until it ends; return how it ended.

        Cancellation (socket closed, unbind, disconnect) ends it at once; any
        message being written at that moment is lost with the connection.
        """
        try:
            with self._scope:
                events = await self._timed_handshake()
                if events is not None:
                    assert self.conn.handshake is not None
                    pipe = self.host._peer_ready(self, self.conn.handshake)
                    self.pipe = pipe
                    self._heartbeat.received(events)  # a PING may have come with READY
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(
                            self._guard,
                            self._write_loop,
                            pipe,
                            name=f"trio_zmq writer {self.endpoint}",
                        )
                        nursery.start_soon(self._heartbeat_loop, pipe)
                        await self._guard(self._read_loop, pipe, events)
        finally:
            self.conn.release_buffers()
            if self.kick_borrower is not None:
                self.kick_borrower()
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(self.stream)
            self.host._peer_ended(self, self.outcome)
        return self.outcome

    @property
    def handshake(self) -> _zmtp.HandshakeComplete | None:
        """What the peer said in its handshake, once complete."""
        return self.conn.handshake

    def close(self) -> None:
        """End the connection now (sync)."""
        self._closing = True
        self._resting = False  # no receiver may borrow it from here on
        self._scope.cancel()

    # --- handshake ---------------------------------------------------------

    async def _timed_handshake(self) -> list[_zmtp.Event] | None:
        ivl = self.host._options.handshake_ivl
        with trio.move_on_after(ivl if ivl else math.inf) as scope:
            return await self._guard(self._handshake)
        if scope.cancelled_caught:
            self._fail(Outcome.HANDSHAKE_TIMEOUT, None)
        return None

    async def _handshake(self) -> list[_zmtp.Event] | None:
        conn, stream = self.conn, self.stream
        # The whole greeting at once, never waiting for the peer's (digest 1.2).
        await stream.send_all(conn.data_to_send())
        while conn.handshake is None:
            data = await stream.receive_some(conn.read_size_hint)
            if not data:
                return None
            try:
                events = conn.receive_data(data)
            except _zmtp.ProtocolError:
                await self._flush_before_failing()
                raise
            if conn.has_data_to_send():
                await stream.send_all(conn.data_to_send())
        return [e for e in events if type(e) is not _zmtp.HandshakeComplete]

    async def _flush_before_failing(self) -> None:
        """Send what the handshake had queued (our READY) before closing.

        libzmq has always sent its READY by the time it rejects the peer's
        (e.g. an incompatible Socket-Type), and a libzmq peer only gives up
        for good when it sees a READY it rejects in turn; a bare close makes
        it reconnect forever.
        """
        if self.conn.has_data_to_send():
            with trio.move_on_after(FLUSH_ON_ERROR_TIMEOUT):
                try:
                    await self.stream.send_all(self.conn.data_to_send())
                except _NETWORK_ERRORS:
                    pass

    # --- traffic -----------------------------------------------------------

    async def _read_loop(self, pipe: Pipe, backlog: list[_zmtp.Event]) -> None:
        """Read, decode and deliver until the peer closes; ``backlog`` came with READY."""
        self._backlog = backlog
        if self._socket is not None:
            pipe.lender = self
        try:
            while True:
                # One cancel scope for as long as the reader is not lent from
                # its wait for the socket (see lend): not one per wait.
                self._reader_scope = scope = trio.CancelScope()
                with scope:
                    await self._read_events(pipe)
                    return
        finally:
            self._reader_scope = None
            self._resting = False
            if pipe.lender is self:
                pipe.lender = None

    async def _read_events(self, pipe: Pipe) -> None:
        socket = self._socket
        while True:
            if self._backlog:
                # Deliver no more than RCVHWM allows (as libzmq stops decoding
                # at a full pipe); the rest waits here, and so does the reader.
                room = pipe.inbound_room()
                if room == 0:
                    await pipe.wait_inbound_room()
                    continue
                self._backlog = self._deliver(pipe, self._backlog, self._only_messages, room)
                self._settle = True
                continue
            if self._lent or self._resting:
                await self._wait_while_lent()
                self._settle = True
                continue
            if self._borrowed_end is not None:
                end, self._borrowed_end = self._borrowed_end, None
                if type(end) is EOFError:
                    return  # a read (ours or a borrower's) met the end of the stream
                raise end
            if socket is not None:
                # The fd directly, as a borrower reads it (see _turn_to_read):
                # the end of the stream and errors come back as _borrowed_end.
                if await self._turn_to_read() and self._read_now():
                    self._read_rest_of_body()
                continue
            data = await self.stream.receive_some(self.conn.read_size_hint)
            if not data:
                return
            self._decode(data)

    def _read_rest_of_body(self) -> None:
        """Inside a large body, read on while the socket has more (sync).

        A 1 MiB body comes in several reads; each further piece read at once
        saves a wait for the socket and a scheduler pass. Stops at the end of
        the body, when the socket is drained, with messages to deliver, or
        after ``READ_ON_BUDGET`` bytes (a huge body still lets other tasks
        run). The end of the stream and errors are left in ``_borrowed_end``
        for the reader's loop, as a borrower leaves them.
        """
        conn = self.conn
        budget = READ_ON_BUDGET
        while conn.body_remaining and not self._backlog and budget > 0:
            got = self._read_now()
            if not got:
                return
            budget -= got

    def _read_now(self) -> int:
        """One read from the socket, decoded into the backlog (sync); bytes read.

        0 if nothing came: the socket is drained (``_drained``), or the stream
        ended or failed (left in ``_borrowed_end`` for the reader's loop).
        """
        assert self._socket is not None
        conn = self.conn
        try:
            if conn.body_remaining:
                # Inside a large body: into its buffer, no allocation per read.
                view = conn.body_buffer()
                if view is not None:
                    got = os.readv(self._socket.fileno(), (view,))
                    if not got:
                        self._borrowed_end = EOFError()
                        return 0
                    self._drained = got < len(view)
                    self._took(conn.body_received(got))
                    return got
            size = conn.read_size_hint
            data = os.read(self._socket.fileno(), size)
            if not data:
                self._borrowed_end = EOFError()
                return 0
            self._drained = len(data) < size
            self._decode(data)
        except BlockingIOError:
            self._drained = True
            return 0
        except (OSError, _zmtp.ProtocolError) as exc:
            self._borrowed_end = exc
            return 0
        return len(data)

    def _decode(self, data: bytes | bytearray) -> None:
        """Decode a chunk into the backlog; wake the writer if replies are due."""
        self._took(self.conn.receive_data(data))

    def _took(self, events: list[_zmtp.Event]) -> None:
        """What a read decoded becomes the backlog; wake the writer if replies are due."""
        conn = self.conn
        self._backlog = events
        self._only_messages = only_messages = conn.only_messages
        self._heartbeat.received(None if only_messages else self._backlog)
        if conn.has_data_to_send():
            assert self.pipe is not None
            self.pipe.wake_writer()

    async def _turn_to_read(self) -> bool:
        """Wait until the socket may have data; False if it was lent meanwhile. A checkpoint.

        The reader reads the file descriptor directly (``_read_now``): when
        the last read drained the socket, this waits for readability first
        instead of trying a read that would fail, and a read that succeeds
        costs no extra scheduler pass (``trio.SocketStream.receive_some``
        pays both: a speculative ``recv`` and a checkpoint after it). With a
        request/reply peer that is one system call and one pass less per
        message. When the socket was not drained, this only takes a pass.
        """
        assert self._socket is not None
        if self._drained:
            if self._settle:
                # We just woke a receiver (or took the socket back from
                # one): let it come back and borrow the socket before
                # we wait on it ourselves (see lend).
                self._settle = False
                await trio.lowlevel.checkpoint()
                if self._lent:
                    return False
            self._waiting = True
            try:
                await trio.lowlevel.wait_readable(self._socket.fileno())
            finally:
                self._waiting = False
        else:
            await trio.lowlevel.checkpoint()
        return not self._lent

    def _deliver(
        self, pipe: Pipe, events: list[_zmtp.Event], only_messages: bool, room: int | None
    ) -> list[_zmtp.Event]:
        """Hand up to ``room`` messages (and the commands among them) to the pattern."""
        if room is None or room >= len(events):
            now, rest = events, []
        elif only_messages:
            now, rest = events[:room], events[room:]
        else:
            cut = 0
            for cut, event in enumerate(events):  # noqa: B007 - cut is used after the loop
                if type(event) is list:
                    if room == 0:
                        break
                    room -= 1
            else:
                cut = len(events)
            now, rest = events[:cut], events[cut:]
        pipe.direct_armed = True  # a reply may go straight out (see Pipe.write)
        self.host._peer_inbound(pipe, now, only_messages)
        return rest

    async def _heartbeat_loop(self, pipe: Pipe) -> None:
        def send_ping(ttl: float) -> None:
            if self.conn.stage is _zmtp.Stage.TRAFFIC:  # not if the reader just broke it
                self.conn.send_ping(ttl)
                pipe.wake_writer()

        reason = await self._heartbeat.run(send_ping)
        self._fail(Outcome.HEARTBEAT_TIMEOUT, reason)
        self.close()

    # --- failure handling --------------------------------------------------

    async def _guard(self, fn: Callable[..., Awaitable[T]], *args: object) -> T | None:
        """Run one stage; turn expected failures into an outcome.

        A failure, or a stage that returns None (end of stream), ends the
        whole connection: whichever loop stops first stops the other.
        """
        result: T | None
        try:
            result = await fn(*args)
        except _zmtp.ProtocolError as exc:
            self._fail(Outcome.PROTOCOL_ERROR, exc)
            result = None
        except _NETWORK_ERRORS as exc:
            self._fail(Outcome.CLOSED, exc)
            result = None
        if result is None:
            self.close()
        return result

    def _fail(self, outcome: Outcome, exc: BaseException | str | None) -> None:
        if self.outcome is not Outcome.CLOSED:
            return  # the first failure is the one that counts
        self.outcome = outcome
        if outcome is Outcome.PROTOCOL_ERROR:
            log.warning("%r: dropping peer: %s", self, exc)
        elif outcome is Outcome.HANDSHAKE_TIMEOUT:
            log.info("%r: handshake timed out", self)
        elif outcome is Outcome.HEARTBEAT_TIMEOUT:
            log.info("%r: dropping peer: %s", self, exc)
        else:
            log.debug("%r: connection closed: %s", self, exc)
