"""What ``Socket.statistics()`` returns, and the counters behind it."""

from __future__ import annotations

import attrs

from ._zmtp import SocketType


@attrs.frozen
class PeerStatistics:
    """One peer's queues and drops, within ``SocketStatistics.peer_details``."""

    #: The endpoint it was connected to, or the bound endpoint it came through.
    endpoint: str
    #: Whether a connection with a completed handshake serves it now.
    connected: bool
    queued_outbound: int
    queued_inbound: int
    #: Messages that peer missed (PUB, XPUB, XSUB: its queue was full).
    messages_dropped: int


@attrs.frozen
class SocketStatistics:
    """A snapshot of a socket's state and counters (immutable).

    libzmq drops some messages silently (PUB at HWM, ROUTER to an unknown
    peer ...); trio_zmq counts every drop in ``messages_dropped``.
    """

    socket_type: SocketType
    #: Connections whose handshake is complete.
    peers: int
    #: Endpoints bound / connected (connect endpoints count whether or not they are up).
    bound_endpoints: int
    connected_endpoints: int
    #: Messages queued for peers, not yet written to the network.
    queued_outbound: int
    #: Messages received from peers, not yet returned by ``recv``.
    queued_inbound: int
    #: Messages ``send`` accepted (a ROUTER's message to an unknown peer counts
    #: here and in ``messages_dropped``).
    messages_sent: int
    bytes_sent: int
    messages_received: int
    bytes_received: int
    messages_dropped: int
    #: Handshakes completed, and connections ended since, over the socket's life.
    handshakes: int
    disconnections: int
    #: Connections dropped because the peer broke the protocol (bad greeting,
    #: incompatible socket type, oversize frame, garbage ...).
    protocol_errors: int
    #: Connections dropped because their handshake took longer than ``handshake_ivl``.
    handshake_timeouts: int
    #: Connections dropped because nothing came in time after a PING, or
    #: within the TTL of the peer's PING.
    heartbeat_timeouts: int
    #: One entry per peer (a connected endpoint counts while it reconnects).
    peer_details: tuple[PeerStatistics, ...] = ()


@attrs.define(slots=True)
class Counters:
    messages_sent: int = 0
    bytes_sent: int = 0
    messages_received: int = 0
    bytes_received: int = 0
    messages_dropped: int = 0
    handshakes: int = 0
    disconnections: int = 0
    protocol_errors: int = 0
    handshake_timeouts: int = 0
    heartbeat_timeouts: int = 0
    peers: int = 0
