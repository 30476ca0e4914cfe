"""The per-peer connection task: handshake, then a reader and a writer.

One ``PeerConnection`` serves one byte stream. It runs the ZMTP handshake
with the sans-IO ``_zmtp.Connection``, asks its host (the socket) for the
pipe to serve, then runs two loops until either ends:

* the reader parses every complete message of each chunk it receives and
  hands them to the pattern in one call, with no checkpoint per message; it
  stops reading while the pipe's inbound queue is at RCVHWM;
* the writer takes every queued message at once and writes them in one
  ``send_all`` (large bodies as their own buffers, never joined).

Expected failures (the peer closes, the network breaks, the peer breaks the
protocol) end the connection quietly: they are logged, counted by the host
and turned into an :class:`Outcome`, never raised (DESIGN section 3.6).
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import trio

from . import _zmtp
from ._options import Options
from ._pipe import Pipe

log = logging.getLogger("trio_zmq")
T = TypeVar("T")

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


class PeerConnection:
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
                    if events:
                        self._inbound(pipe, events, only_messages=False)
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._guard, self._write_loop, pipe)
                        await self._guard(self._read_loop, pipe)
        finally:
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

    async def _read_loop(self, pipe: Pipe) -> None:
        conn = self.conn
        receive_some = self.stream.receive_some
        receive_data = conn.receive_data
        while True:
            if pipe.inbound_full():
                await pipe.wait_inbound_room()
                continue
            data = await receive_some(conn.read_size_hint)
            if not data:
                return
            events = receive_data(data)
            if events:
                self._inbound(pipe, events, conn.only_messages)
            if conn.has_data_to_send():
                pipe.wake_writer()

    def _inbound(self, pipe: Pipe, events: list[_zmtp.Event], only_messages: bool) -> None:
        if pipe.attached:
            self.host._peer_inbound(pipe, events, only_messages)

    async def _write_loop(self, pipe: Pipe) -> None:
        conn = self.conn
        send_all = self.stream.send_all
        last_batch = 0
        while True:
            if not pipe.queued_outbound and not conn.has_data_to_send():
                await pipe.wait_outbound()
                continue
            if last_batch > 1:
                await self._coalesce(pipe)
            msgs = pipe.take_outbound()
            pipe.writing = True
            try:
                for buffer in conn.encode_messages(msgs):
                    await send_all(buffer)
            finally:
                pipe.write_done()
            last_batch = len(msgs)

    @staticmethod
    async def _coalesce(pipe: Pipe, max_passes: int = 2) -> None:
        """Streaming: give producers a scheduler pass or two to add to the batch.

        Only used when the previous batch held several messages, so a lone
        request or reply is written at once.
        """
        queued = pipe.queued_outbound
        idle = 0
        while idle < max_passes and pipe.can_write():
            await trio.lowlevel.checkpoint()
            if pipe.queued_outbound == queued:
                idle += 1
            else:
                queued = pipe.queued_outbound
                idle = 0

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
            self._scope.cancel()
        return result

    def _fail(self, outcome: Outcome, exc: BaseException | None) -> None:
        if self.outcome is not Outcome.CLOSED:
            return  # the first failure is the one that counts
        self.outcome = outcome
        if outcome is Outcome.PROTOCOL_ERROR:
            log.warning("%r: dropping peer: %s", self, exc)
        elif outcome is Outcome.HANDSHAKE_TIMEOUT:
            log.info("%r: handshake timed out", self)
        else:
            log.debug("%r: connection closed: %s", self, exc)
