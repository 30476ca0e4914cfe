"""Bound and connected endpoints: the accept loop and the reconnect loop.

Both run in the socket's nursery. A bound endpoint owns the connections it
accepted (``unbind`` closes them, as libzmq's listener owns its sessions).
A connected endpoint owns one pipe for its whole life, made at ``connect``
time, so messages queue while the peer is not there yet and survive
reconnections (libzmq's behaviour without ``immediate``). With
``immediate``, each connection gets its own pipe once its handshake is
done, which goes with it, as for accepted connections.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

import trio

from ._endpoint import IpcAddress, TcpAddress
from ._options import Options
from ._peer import Outcome
from ._transports import TRANSPORTS, SocketListener

if TYPE_CHECKING:
    from ._pipe import Pipe
    from ._raw_peer import AnyPeer
    from ._socket import Socket

log = logging.getLogger("trio_zmq")

#: Pause after an accept error such as EMFILE before accepting again.
ACCEPT_ERROR_PAUSE = 0.1


class Backoff:
    """libzmq 4.3.3+'s reconnect intervals (digest 1.12).

    With ``reconnect_ivl_max > 0``: ivl, then doubling, capped at the max,
    no jitter. Otherwise ivl plus a random part below ivl.
    """

    def __init__(self, options: Options) -> None:
        self._options = options
        self._current: float | None = None

    def next(self) -> float:
        ivl = self._options.reconnect_ivl or 0.0
        ivl_max = self._options.reconnect_ivl_max
        if ivl_max > 0:
            self._current = ivl if self._current is None else self._current * 2
            self._current = min(self._current, ivl_max)
            return self._current
        return ivl + random.random() * ivl

    def reset(self) -> None:
        self._current = None


def reconnect_disabled(options: Options) -> bool:
    return options.reconnect_ivl is None


class BoundEndpoint:
    """A listener and the connections it accepted."""

    def __init__(self, sock: Socket, listener: SocketListener) -> None:
        self._sock = sock
        self._listener = listener
        self.endpoint = listener.endpoint
        self._scope = trio.CancelScope()
        self.peers: set[AnyPeer] = set()

    async def serve(self) -> None:
        with self._scope:
            try:
                while True:
                    try:
                        stream = await self._listener.accept()
                    except OSError as exc:  # EMFILE and friends: wait, then go on
                        log.warning("%s: accept failed: %s", self.endpoint, exc)
                        await trio.sleep(ACCEPT_ERROR_PAUSE)
                        continue
                    peer = self._sock._new_peer(stream, self.endpoint, None)
                    self.peers.add(peer)
                    self._sock._nursery.start_soon(self._serve_peer, peer)
            finally:
                self._listener.close()

    async def _serve_peer(self, peer: AnyPeer) -> None:
        try:
            await peer.run()
        finally:
            self.peers.discard(peer)

    def stop_listening(self) -> None:
        """Accept no more connections; those accepted go on (sync)."""
        self._scope.cancel()
        self._listener.close()

    def close(self) -> None:
        """Stop listening and end every connection accepted here (sync).

        Each connection ends as libzmq ends a session: see ``PipeSet.retire``.
        """
        self.stop_listening()
        for peer in list(self.peers):
            self._sock._pipeset.retire(peer.pipe, peer.close)


class Connecter:
    """Connects to one endpoint, and reconnects, for as long as it lives."""

    def __init__(
        self, sock: Socket, address: TcpAddress | IpcAddress, endpoint: str, pipe: Pipe | None
    ) -> None:
        self._sock = sock
        self._address = address
        self.endpoint = endpoint
        #: The pipe of this endpoint; None with ``immediate`` (one per connection).
        self.pipe = pipe
        self._peer: AnyPeer | None = None
        self._scope = trio.CancelScope()

    @property
    def current_pipe(self) -> Pipe | None:
        """The pipe messages go through now (None: none yet, with ``immediate``)."""
        if self.pipe is not None:
            return self.pipe
        return self._peer.pipe if self._peer is not None else None

    async def run(self) -> None:
        options = self._sock._options
        backoff = Backoff(options)
        first = True
        with self._scope:
            while True:
                if not first:
                    if reconnect_disabled(options):
                        break
                    await trio.sleep(backoff.next())
                first = False
                transport = TRANSPORTS[self._address.scheme]
                try:
                    stream = await transport.connect(self._address, options)
                except OSError as exc:
                    log.debug("%s: connect failed: %s", self.endpoint, exc)
                    continue
                peer = self._sock._new_peer(stream, self.endpoint, self.pipe)
                self._peer = peer
                try:
                    outcome = await peer.run()
                finally:
                    self._peer = None
                if peer.handshake is not None:
                    backoff.reset()
                if outcome in (Outcome.PROTOCOL_ERROR, Outcome.CLOSED_LOCALLY):
                    break  # libzmq does not retry after a protocol error, or a STREAM close
                if self.pipe is not None and self.pipe.dead:
                    break  # the pattern ended this peer (ROUTER handover)
        self._sock._connecter_finished(self)

    def close(self) -> None:
        """Stop connecting and close the connection if there is one (sync)."""
        self._scope.cancel()
