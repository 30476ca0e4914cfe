"""The per-connection task of a STREAM socket: raw bytes, no ZMTP.

A STREAM socket talks to plain TCP (or ipc) peers, as libzmq's raw engine
(``raw_engine.cpp``) does: there is no greeting, no handshake, no framing
and no heartbeat. One ``RawPeerConnection`` serves one byte stream and the
pipe the socket gives it:

* at once, it queues an empty message for ``recv``: "this peer connected";
* the reader hands each chunk it reads (up to ``READ_SIZE`` bytes) to the
  pattern as one single-frame message, and stops reading while the pipe's
  inbound queue is at RCVHWM (TCP then pushes back on the peer);
* the writer writes each queued message's bytes as they are, several at
  once in one ``writev`` when it can; an empty message is the STREAM
  pattern's "close this connection": everything queued before it is
  written, then the connection is closed and not remade;
* when the peer closes the connection or the network fails, one more empty
  message is queued for ``recv``: "this peer is gone".

Chunk boundaries mean nothing in a byte stream: libzmq reads 8 KiB at a
time, trio_zmq up to 64 KiB; the bytes and their order are the same.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import trio

from ._options import Options
from ._peer import Outcome, PeerConnection
from ._peer_writer import send_buffers
from ._pipe import Pipe
from ._zmtp import Event, HandshakeComplete

log = logging.getLogger("trio_zmq")

#: The most bytes one read takes, and so the largest message a raw peer gives.
READ_SIZE = 64 * 1024

#: What a raw connection reports in place of a handshake: it is ready as soon
#: as it exists, and nothing is known about the peer.
RAW_READY = HandshakeComplete(
    peer_version=(0, 0), peer_socket_type=None, peer_routing_id=b"", peer_properties={}
)

# Exceptions that mean "this connection is over" rather than "trio_zmq has a bug".
_NETWORK_ERRORS = (OSError, trio.BrokenResourceError, trio.ClosedResourceError)


class RawPeerHost(Protocol):
    """What a raw connection needs from its socket (a subset of ``_peer.PeerHost``)."""

    @property
    def _options(self) -> Options: ...

    def _peer_ready(self, peer: RawPeerConnection, handshake: HandshakeComplete) -> Pipe:
        """The connection exists: return the pipe to serve."""
        ...

    def _peer_inbound(self, pipe: Pipe, events: list[Event], only_messages: bool) -> None:
        """Hand what the reader read (single-frame messages) to the pattern."""
        ...

    def _peer_ended(self, peer: RawPeerConnection, outcome: Outcome) -> None:
        """The connection is over."""
        ...


class RawPeerConnection:
    """One raw byte-stream connection of a STREAM socket, from connect to close.

    Has the interface ``BoundEndpoint``, ``Connecter`` and the socket use of
    a :class:`~trio_zmq._peer.PeerConnection`: ``run``, ``close``, ``pipe``,
    ``owns_pipe``, ``endpoint`` and ``handshake``.
    """

    def __init__(
        self, host: RawPeerHost, stream: trio.abc.Stream, *, endpoint: str, pipe: Pipe | None
    ) -> None:
        self.host = host
        self.stream = stream
        self.endpoint = endpoint
        #: The pipe this connection serves: given for connect (it outlives
        #: connections, and so does its routing id); made at once for bind.
        self.pipe = pipe
        self.owns_pipe = pipe is None
        self.outcome = Outcome.CLOSED
        self._scope = trio.CancelScope()
        self._ready = False
        #: The peer closed the connection or the network failed (not us).
        self._peer_gone = False
        # With a real socket, several buffers go out in one writev call.
        self._socket: trio.socket.SocketType | None = (
            stream.socket if isinstance(stream, trio.SocketStream) else None
        )

    def __repr__(self) -> str:
        return f"<RawPeerConnection {self.endpoint}>"

    @property
    def handshake(self) -> HandshakeComplete | None:
        """``RAW_READY`` once the connection serves its pipe (there is no handshake)."""
        return RAW_READY if self._ready else None

    async def run(self) -> Outcome:
        """Serve the connection until it ends; return how it ended.

        ``Outcome.CLOSED`` if the peer closed it or the network failed,
        ``Outcome.CLOSED_LOCALLY`` if the application closed it (an empty
        message). Cancellation (socket closed, unbind, disconnect) ends it at
        once, with no notification; bytes being written at that moment are
        lost with the connection.
        """
        try:
            with self._scope:
                pipe = self.host._peer_ready(self, RAW_READY)
                self.pipe = pipe
                self._ready = True
                self._notify(pipe)  # "connected"
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._guard, self._write_loop, pipe)
                    await self._guard(self._read_loop, pipe)
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(self.stream)
            if self._peer_gone and self.pipe is not None:
                self._notify(self.pipe)  # "disconnected", before the pipe can go
            self.host._peer_ended(self, self.outcome)
        return self.outcome

    def close(self) -> None:
        """End the connection now, with no notification (sync)."""
        self._scope.cancel()

    def _notify(self, pipe: Pipe) -> None:
        # An empty message, queued even at RCVHWM so that it is never lost
        # (unless the application turned notifications off: stream_notify).
        if not self.host._options.stream_notify:
            return
        events: list[Event] = [[b""]]
        self.host._peer_inbound(pipe, events, True)

    # --- traffic -----------------------------------------------------------

    async def _read_loop(self, pipe: Pipe) -> None:
        """Deliver each chunk read as a message until the peer closes."""
        receive_some = self.stream.receive_some
        deliver = self.host._peer_inbound
        while True:
            if pipe.inbound_room() == 0:
                await pipe.wait_inbound_room()
                continue
            data = await receive_some(READ_SIZE)
            if not data:
                self._peer_gone = True
                return
            events: list[Event] = [[data if type(data) is bytes else bytes(data)]]
            deliver(pipe, events, True)

    async def _write_loop(self, pipe: Pipe) -> None:
        """Write what is queued, as it is; stop after an empty message (close)."""
        while True:
            # The reader may have ended the connection while we were writing.
            await trio.lowlevel.checkpoint_if_cancelled()
            if not pipe.has_outbound:
                await pipe.wait_outbound()
                continue
            batch = pipe.take_outbound()
            buffers: list[bytes] = []
            closing = False
            for msg in batch:
                data = msg[0]
                if not data:  # the pattern queues nothing after it
                    closing = True
                    break
                buffers.append(data)
            if closing:
                # Set first: even if this last write fails, the connection
                # must not be remade (the marker goes with the batch).
                self.outcome = Outcome.CLOSED_LOCALLY
            written = False
            try:
                await self._send_buffers(buffers)
                written = True
            finally:
                pipe.write_done(len(batch), lost=not written)
            if closing:
                log.debug("%r: closed by the application", self)
                return

    async def _send_buffers(self, buffers: list[bytes]) -> None:
        await send_buffers(self.stream, self._socket, buffers)

    # --- failure handling --------------------------------------------------

    async def _guard(self, loop: Callable[[Pipe], Awaitable[None]], pipe: Pipe) -> None:
        """Run one loop; whichever stops first (or fails) ends the connection."""
        try:
            await loop(pipe)
        except _NETWORK_ERRORS as exc:
            if self.outcome is Outcome.CLOSED:
                self._peer_gone = True
                log.debug("%r: connection closed: %s", self, exc)
        self._scope.cancel()


#: A connection of any socket: ZMTP, or raw for STREAM.
AnyPeer = PeerConnection | RawPeerConnection
