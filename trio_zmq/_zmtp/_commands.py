"""ZMTP commands and their metadata (RFC 37; zmtp-digest 1.5-1.7, 1.10, 1.11).

A command body is ``name-length(1) name data`` with no NUL (libzmq follows
the grammar, not the prose). This module turns bodies into event objects and
back; it knows nothing of frames or connections.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from ._errors import ProtocolError

READY = b"READY"
ERROR = b"ERROR"
PING = b"PING"
PONG = b"PONG"
SUBSCRIBE = b"SUBSCRIBE"
CANCEL = b"CANCEL"

#: libzmq truncates a PING's context to this many bytes in its PONG.
MAX_PING_CONTEXT = 16
#: A u32 property value may not exceed this (RFC 37).
MAX_PROPERTY_VALUE = 2**31 - 1


def command_body(name: bytes, data: bytes = b"") -> bytes:
    """``name-length name data``."""
    if not 0 < len(name) < 256:
        raise ValueError(f"bad command name {name!r}")
    return bytes((len(name),)) + name + data


def split_command(body: bytes) -> tuple[bytes, bytes]:
    """Split a command body into (name, data); raises ProtocolError if malformed."""
    if not body:
        raise ProtocolError("empty command frame")
    n = body[0]
    if n == 0 or len(body) < 1 + n:
        raise ProtocolError("malformed command name")
    return body[1 : 1 + n], body[1 + n :]


# --- metadata -------------------------------------------------------------


def encode_properties(properties: Iterable[tuple[str, bytes]]) -> bytes:
    """Encode ``name value`` pairs as READY/INITIATE metadata, in the given order."""
    parts: list[bytes] = []
    for name, value in properties:
        raw = name.encode("ascii")
        if not 0 < len(raw) < 256:
            raise ValueError(f"bad property name {name!r}")
        if len(value) > MAX_PROPERTY_VALUE:
            raise ValueError(f"property {name!r} is too long")
        parts += (bytes((len(raw),)), raw, len(value).to_bytes(4, "big"), value)
    return b"".join(parts)


def decode_properties(data: bytes) -> dict[str, bytes]:
    """Decode metadata; raises ProtocolError on truncation or a bad length.

    Names are kept as sent (latin-1 decoded, so any byte is accepted); look
    them up with :func:`get_property`, which ignores case as RFC 37 asks.
    """
    props: dict[str, bytes] = {}
    pos, end = 0, len(data)
    while pos < end:
        n = data[pos]
        pos += 1
        if n == 0:
            raise ProtocolError("metadata property with an empty name")
        if pos + n + 4 > end:
            raise ProtocolError("truncated metadata property")
        name = data[pos : pos + n].decode("latin-1")
        pos += n
        size = int.from_bytes(data[pos : pos + 4], "big")
        pos += 4
        if size > MAX_PROPERTY_VALUE or pos + size > end:
            raise ProtocolError(f"bad length for metadata property {name!r}")
        props[name] = data[pos : pos + size]
        pos += size
    return props


def get_property(props: Mapping[str, bytes], name: str) -> bytes | None:
    """Case-insensitive lookup of a metadata property."""
    value = props.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, value in props.items():
        if key.lower() == lowered:
            return value
    return None


# --- events for the traffic phase ------------------------------------------


@attrs.frozen
class Subscribe:
    """A SUBSCRIBE command (ZMTP 3.1) from a subscriber."""

    topic: bytes


@attrs.frozen
class Cancel:
    """A CANCEL command (ZMTP 3.1) from a subscriber."""

    topic: bytes


@attrs.frozen
class Ping:
    """A PING; the connection has already queued the PONG."""

    ttl: float  # seconds; 0 means the peer set none
    context: bytes


@attrs.frozen
class Pong:
    """A PONG answering one of our PINGs."""

    context: bytes


TrafficCommand = Subscribe | Cancel | Ping | Pong


class QueuedSubscription(list[bytes]):
    """A subscription waiting in a pipe among messages: ``[topic]`` plus a flag.

    It keeps its place in the queue (libzmq's subscribe messages travel in the
    pipe too) and is encoded when written: a SUBSCRIBE/CANCEL command for a
    ZMTP 3.1 peer, a ``0x01``/``0x00`` message for a 3.0 peer.
    """

    __slots__ = ("subscribe",)

    def __init__(self, topic: bytes, subscribe: bool) -> None:
        super().__init__((topic,))
        self.subscribe = subscribe


def parse_traffic_command(body: bytes) -> TrafficCommand | None:
    """Parse a command received after the handshake.

    Returns None for commands libzmq ignores: unknown names, and known names
    whose body is malformed (libzmq drops those silently too, digest 1.5).
    """
    if not body or len(body) < 1 + body[0]:
        return None
    n = body[0]
    name, data = body[1 : 1 + n], body[1 + n :]
    if name == PING:
        if len(data) < 2:
            return None
        ttl = int.from_bytes(data[:2], "big") / 10
        return Ping(ttl=ttl, context=data[2:])
    if name == PONG:
        return Pong(context=data)
    if name == SUBSCRIBE:
        return Subscribe(topic=data)
    if name == CANCEL:
        return Cancel(topic=data)
    return None


def ping_body(ttl: float, context: bytes = b"") -> bytes:
    """A PING command body; ``ttl`` in seconds, kept at most 65.5 s (digest 1.11)."""
    deciseconds = max(0, min(655, round(ttl * 10)))
    return command_body(PING, deciseconds.to_bytes(2, "big") + context[:MAX_PING_CONTEXT])


def pong_body(context: bytes) -> bytes:
    """The PONG answering a PING with ``context`` (truncated to 16 bytes, as libzmq)."""
    return command_body(PONG, context[:MAX_PING_CONTEXT])
