"""The socket's side of its connections: ``_peer.PeerHost`` and ``_inproc.InprocHost``.

``Socket`` inherits these from :class:`SocketPeers`: what a connection task
or an inproc link tells the socket (a handshake done, messages arrived, a
connection over), kept apart from the user-facing API in ``_socket.py``.
None of these is a checkpoint; they run inside connection tasks' steps, or
inside another socket's synchronous send (inproc).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from . import _zmtp
from ._inproc import InprocPipe
from ._options import Options
from ._patterns import Pattern
from ._peer import Outcome, PeerConnection
from ._pipe import Pipe
from ._pipeset import PipeSet
from ._raw_peer import AnyPeer, RawPeerConnection
from ._stats import Counters

if TYPE_CHECKING:
    from ._endpoints import Connecter
    from ._inproc import InprocConnecter


class SocketPeers:
    """Mixed into ``Socket``: the callbacks of its connections and inproc links."""

    socket_type: _zmtp.SocketType
    _options: Options
    _pattern: Pattern
    _pipeset: PipeSet
    _counters: Counters
    _connecters: dict[str, list[Connecter | InprocConnecter]]

    # --- peers: the socket's side of _peer.PeerHost ----------------------------

    def _new_peer(self, stream: trio.abc.Stream, endpoint: str, pipe: Pipe | None) -> AnyPeer:
        """The connection for a new stream: raw bytes for STREAM, ZMTP for the others."""
        if self._pattern.raw:
            return RawPeerConnection(self, stream, endpoint=endpoint, pipe=pipe)
        return PeerConnection(self, stream, endpoint=endpoint, pipe=pipe)

    def _peer_ready(self, peer: AnyPeer, handshake: _zmtp.HandshakeComplete) -> Pipe:
        pipe = peer.pipe if peer.pipe is not None else self._pipeset.new_pipe(peer.endpoint)
        self._pipe_ready(pipe, handshake)
        return pipe

    def _pipe_ready(self, pipe: Pipe, handshake: _zmtp.HandshakeComplete) -> None:
        self._counters.handshakes += 1
        self._counters.peers += 1
        pipe.connected = True
        if pipe.attached and not self._pattern.peer_ready(pipe, handshake):
            pipe.attached = False  # e.g. a ROUTER peer with a routing id in use

    # --- inproc links: the socket's side of _inproc.InprocHost ---------------------

    def _inproc_handshake(self) -> _zmtp.HandshakeComplete:
        """What an inproc peer learns of this socket (as READY would say)."""
        routing_id = self._options.routing_id if self.socket_type in _zmtp.SENDS_IDENTITY else b""
        properties = {"Socket-Type": self.socket_type.name.encode()}
        if self.socket_type in _zmtp.SENDS_IDENTITY:
            properties["Identity"] = routing_id
        return _zmtp.HandshakeComplete(
            peer_version=(3, 1),
            peer_socket_type=self.socket_type,
            peer_routing_id=routing_id,
            peer_properties=properties,
        )

    def _inproc_accept(self, peer_pipe: InprocPipe, peer: SocketPeers, endpoint: str) -> None:
        """Link a connecting socket's pipe to a new pipe of this (bound) socket."""
        pipe = self._pipeset.new_inproc_pipe(endpoint, self, attach=True)
        # Both sides are ready before the link exists: what the patterns
        # write meanwhile (welcome messages, subscriptions) waits in the
        # pipes and is handed over below, to a peer ready to take it.
        self._pipe_ready(pipe, peer._inproc_handshake())
        peer._pipe_ready(peer_pipe, self._inproc_handshake())
        pipe.link(peer_pipe, peer, plain_delivery=peer._pattern.plain_delivery)
        peer_pipe.link(pipe, self, plain_delivery=self._pattern.plain_delivery)
        peer_pipe.flush_queued()
        pipe.flush_queued()

    def _inproc_ended(self, pipe: InprocPipe) -> None:
        """The socket at the other end of ``pipe`` closed or disconnected."""
        self._pipeset.kill(pipe)

    def _inproc_unlinked(self) -> None:
        self._counters.peers -= 1
        self._counters.disconnections += 1

    def _inproc_protocol_error(self) -> None:
        self._counters.protocol_errors += 1

    def _inproc_refused(self, pipe: InprocPipe) -> None:
        """The bound socket's type cannot talk to ours: the link never forms."""
        self._counters.protocol_errors += 1
        self._pipeset.kill(pipe)

    def _peer_inbound(self, pipe: Pipe, events: list[_zmtp.Event], only_messages: bool) -> None:
        if pipe.attached:
            dropped = self._pattern.process_inbound(pipe, events, only_messages)
        else:  # the pattern refused this peer (a second PAIR) or let go of it
            dropped = sum(type(e) is list for e in events)
        self._counters.messages_dropped += dropped

    def _peer_ended(self, peer: AnyPeer, outcome: Outcome) -> None:
        if outcome is Outcome.PROTOCOL_ERROR:
            self._counters.protocol_errors += 1
        elif outcome is Outcome.HANDSHAKE_TIMEOUT:
            self._counters.handshake_timeouts += 1
        elif outcome is Outcome.HEARTBEAT_TIMEOUT:
            self._counters.heartbeat_timeouts += 1
        pipe = peer.pipe
        if pipe is None or not pipe.connected:
            return
        pipe.connected = False
        self._counters.peers -= 1
        self._counters.disconnections += 1
        if peer.owns_pipe:
            self._pipeset.kill(pipe)

    def _terminate_pipe(self, pipe: Pipe) -> None:
        """A pattern ends a peer (ROUTER handover): its pipe goes, its connection stays.

        As in libzmq, the connection is not closed (the peer would reconnect
        and take its routing id back): nothing passes through it any more.
        """
        self._pipeset.kill(pipe, discard_inbound=True)

    def _connecter_finished(self, connecter: Connecter) -> None:
        connecters = self._connecters.get(connecter.endpoint)
        if connecters and connecter in connecters:
            connecters.remove(connecter)
            if not connecters:
                del self._connecters[connecter.endpoint]
        if connecter.pipe is not None:
            self._pipeset.kill(connecter.pipe)
