"""Errors raised by the sans-IO ZMTP core.

Every error a peer can cause is a :class:`ProtocolError`: feeding any bytes
at all into a :class:`~trio_zmq._zmtp.Connection` raises nothing else. The
I/O layer catches it, drops the connection (as libzmq does) and counts it;
it never reaches the application's ``recv``. As libzmq's, a connecting
socket does not reconnect after one.
"""

from __future__ import annotations


class ZMTPError(Exception):
    """Base class of the sans-IO core's errors."""


class ProtocolError(ZMTPError):
    """The peer broke ZMTP; the connection must be closed."""


class UnsupportedVersion(ProtocolError):
    """The peer speaks a ZMTP version below 3.0."""


class MechanismMismatch(ProtocolError):
    """The peer's greeting names another security mechanism than ours."""


class IncompatibleSocketType(ProtocolError):
    """The peer's Socket-Type cannot talk to ours (RFC 23's table)."""


class MessageTooLarge(ProtocolError):
    """A frame is larger than ``maxmsgsize``; refused before any allocation."""


class HandshakeRejected(ProtocolError):
    """The peer sent an ERROR command during the handshake."""

    def __init__(self, reason: bytes) -> None:
        super().__init__(f"peer rejected the handshake: {reason!r}")
        self.reason = reason


class LocalProtocolError(ZMTPError):
    """We (the caller of the sans-IO core) misused it, e.g. sent too early."""
