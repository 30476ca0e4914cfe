"""The 64-byte ZMTP 3.x greeting (RFC 37; zmtp-digest section 1.2).

libzmq sends its greeting in stages and waits for ours between them, so we
always send all 64 bytes at once and never wait for the peer first. We
check the peer's greeting as early as its bytes allow, so that a ZMTP 1.0
or 2.0 peer (which never sends 64 bytes) is refused at once rather than
after a handshake timeout.
"""

from __future__ import annotations

import attrs

from ._errors import MechanismMismatch, ProtocolError, UnsupportedVersion

GREETING_SIZE = 64
MECHANISM_SIZE = 20

#: The version we advertise: 3.1, because libzmq's 3.0 subscription encoder
#: has a bug (digest 1.10.4) and 3.1 peers get SUBSCRIBE/CANCEL commands.
VERSION = (3, 1)


@attrs.frozen
class Greeting:
    """A peer's parsed greeting."""

    major: int
    minor: int
    mechanism: bytes
    as_server: bool


def build_greeting(mechanism: bytes) -> bytes:
    """Our greeting for ``mechanism``.

    As libzmq does, the as-server byte is always 0: roles come from local
    configuration only (digest 1.2 and section 6).
    """
    if not 0 < len(mechanism) <= MECHANISM_SIZE:
        raise ValueError(f"bad mechanism name {mechanism!r}")
    return b"".join(
        (
            b"\xff",
            bytes(8),  # padding
            b"\x7f",
            bytes(VERSION),
            mechanism.ljust(MECHANISM_SIZE, b"\x00"),
            b"\x00",  # as-server
            bytes(31),  # filler
        )
    )


def check_greeting(data: bytes, mechanism: bytes) -> Greeting | None:
    """Check what we have of a peer's greeting.

    Returns None while fewer than 64 bytes have arrived and nothing is wrong
    yet; raises :class:`ProtocolError` as soon as the bytes show a problem.
    """
    n = len(data)
    if n >= 1 and data[0] != 0xFF:
        raise UnsupportedVersion("peer speaks unversioned ZMTP 1.0, which is not supported")
    if n >= 10 and not data[9] & 1:
        raise UnsupportedVersion("peer speaks ZMTP 1.0, which is not supported")
    if n >= 11 and data[10] < 2:
        # libzmq: revision 0 is ZMTP 1.0, 1 is ZMTP 2.0, and anything else
        # (2 included) is treated as 3.1, as RFC 37 asks ("accept higher versions").
        version = "1.0" if data[10] == 0 else "2.0"
        raise UnsupportedVersion(f"peer speaks ZMTP {version}; trio_zmq needs 3.0 or later")
    if n < GREETING_SIZE:
        return None
    if n > GREETING_SIZE:
        raise ProtocolError("greeting longer than 64 bytes")  # caller error, really
    peer_mechanism = bytes(data[12:32])
    if peer_mechanism != mechanism.ljust(MECHANISM_SIZE, b"\x00"):
        raise MechanismMismatch(
            f"peer uses mechanism {peer_mechanism.rstrip(bytes(1))!r}, we use {mechanism!r}"
        )
    return Greeting(
        major=data[10],
        minor=data[11],
        mechanism=mechanism,
        as_server=bool(data[32]),
    )
