"""Socket options: validated attrs fields with pyzmq's lowercase names.

Durations are in seconds (float), Trio's unit, not libzmq's milliseconds;
``None`` means forever. Invalid values raise ``TypeError`` or
``ValueError`` naming the option, whether given to ``open_socket`` or set
later as an attribute (``sock.sndhwm = 10``).
"""

from __future__ import annotations

import math
from typing import Any, Generic, TypeVar, overload

import attrs


def _int(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not int:
        raise TypeError(f"option {attr.name!r} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"option {attr.name!r} must be >= 0, not {value}")


def _duration(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if type(value) not in (int, float):
        raise TypeError(
            f"option {attr.name!r} must be a number of seconds or None, not {type(value).__name__}"
        )
    assert isinstance(value, int | float)
    if math.isnan(value) or value < 0:
        raise ValueError(f"option {attr.name!r} must be >= 0 seconds or None, not {value}")


def _never_if_minus_one(value: object) -> object:
    return None if value == -1 else value  # libzmq's -1: never reconnect


def _reconnect_ivl(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    _duration(inst, attr, value)
    if value == 0:
        # libzmq computes a random jitter modulo the interval: 0 has no meaning
        # there, and here it would be a busy loop.
        raise ValueError("option 'reconnect_ivl' must be > 0 seconds, or -1/None for never")


def _maxmsgsize(value: object) -> object:
    return None if value == -1 else value  # libzmq's -1 is "no limit"


def _keepalive_switch(value: object) -> object:
    # libzmq's ZMQ_TCP_KEEPALIVE: -1 leaves the OS default, 0 off, 1 on.
    if type(value) is int and value in (-1, 0, 1):
        return None if value == -1 else bool(value)
    return value


def _check_keepalive_switch(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and type(value) is not bool:
        raise TypeError(f"option {attr.name!r} must be a bool, None (or -1, 0, 1)")


def _os_default_if_minus_one(value: object) -> object:
    return None if value == -1 else value


def _positive_int_or_none(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    _int(inst, attr, value)
    assert isinstance(value, int)
    if value == 0:
        raise ValueError(f"option {attr.name!r} must be > 0, or None/-1 for the OS default")


def _bool(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not bool:
        raise TypeError(f"option {attr.name!r} must be a bool, not {type(value).__name__}")


def _as_bytes(value: object) -> object:
    return value.encode("utf-8") if isinstance(value, str) else value


def _topics(value: object) -> object:
    if isinstance(value, bytes | str):
        value = (value,)
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_as_bytes(v) for v in value)
    return value


def _check_topics(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not tuple or not all(type(v) is bytes for v in value):
        raise TypeError(f"option {attr.name!r} takes a topic (bytes or str) or a list of them")


def _optional_bytes(value: object) -> object:
    return _as_bytes(value)


def _check_optional_bytes(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and type(value) is not bytes:
        raise TypeError(f"option {attr.name!r} must be bytes, str or None")


def _optional_int(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _int(inst, attr, value)


def _check_routing_id(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not bytes:
        raise TypeError(f"option 'routing_id' must be bytes or str, not {type(value).__name__}")
    if len(value) > 255:
        raise ValueError("option 'routing_id' must be at most 255 bytes")


def _check_connect_routing_id(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    _check_optional_bytes(inst, attr, value)
    if value is not None and not 0 < len(value) <= 255:  # type: ignore[arg-type]
        raise ValueError("option 'connect_routing_id' must be 1 to 255 bytes, or None")


_SETTERS = attrs.setters.pipe(attrs.setters.convert, attrs.setters.validate)


@attrs.define(slots=True, on_setattr=_SETTERS)
class Options:
    """The options of one socket; see ``docs/options.md`` for each one."""

    #: Messages queued per peer for sending before ``send`` blocks (0: no limit).
    sndhwm: int = attrs.field(default=1000, validator=_int)
    #: Messages queued per peer after receiving before reading stops (0: no limit).
    rcvhwm: int = attrs.field(default=1000, validator=_int)
    #: How long ``aclose()`` keeps sending queued messages (None: until done).
    linger: float | None = attrs.field(default=None, validator=_duration)
    #: Our identity, sent in READY by REQ, DEALER and ROUTER.
    routing_id: bytes = attrs.field(default=b"", converter=_as_bytes, validator=_check_routing_id)
    #: First wait before reconnecting (-1 or None: never reconnect).
    reconnect_ivl: float | None = attrs.field(
        default=0.1, converter=_never_if_minus_one, validator=_reconnect_ivl
    )
    #: With a value > 0, each wait doubles up to this; with 0, waits are jittered.
    reconnect_ivl_max: float = attrs.field(default=0.0, validator=_duration)
    #: Largest frame accepted from a peer; a larger one drops the peer (None: no limit).
    maxmsgsize: int | None = attrs.field(
        default=None, converter=_maxmsgsize, validator=_optional_int
    )
    #: Connect over IPv6 too, and bind ``*`` on both IPv4 and IPv6.
    ipv6: bool = attrs.field(default=False, validator=_bool)
    #: Queue messages only to peers whose connection is complete.
    immediate: bool = attrs.field(default=False, validator=_bool)
    #: Give up one TCP connect attempt after this long (None or 0: the OS's limit).
    connect_timeout: float | None = attrs.field(default=None, validator=_duration)
    #: TCP keepalive (SO_KEEPALIVE): True, False, or None (-1) for the OS default.
    tcp_keepalive: bool | None = attrs.field(
        default=None, converter=_keepalive_switch, validator=_check_keepalive_switch
    )
    #: Seconds idle before the first keepalive probe (None or -1: the OS default).
    tcp_keepalive_idle: int | None = attrs.field(
        default=None, converter=_os_default_if_minus_one, validator=_positive_int_or_none
    )
    #: Keepalive probes lost before the connection is dropped (None or -1: the OS default).
    tcp_keepalive_cnt: int | None = attrs.field(
        default=None, converter=_os_default_if_minus_one, validator=_positive_int_or_none
    )
    #: Seconds between keepalive probes (None or -1: the OS default).
    tcp_keepalive_intvl: int | None = attrs.field(
        default=None, converter=_os_default_if_minus_one, validator=_positive_int_or_none
    )
    #: Time allowed for a new connection's handshake (None or 0: no limit).
    handshake_ivl: float | None = attrs.field(default=30.0, validator=_duration)
    #: Send a PING this often (None or 0: no heartbeats).
    heartbeat_ivl: float | None = attrs.field(default=None, validator=_duration)
    #: The TTL our PINGs ask the peer to apply (None or 0: none; at most 65.5 s).
    heartbeat_ttl: float | None = attrs.field(default=None, validator=_duration)
    #: Drop the peer if nothing comes this long after a PING (None: heartbeat_ivl).
    heartbeat_timeout: float | None = attrs.field(default=None, validator=_duration)
    #: REQ: a new request may be sent before the reply to the last one came.
    req_relaxed: bool = attrs.field(default=False, validator=_bool)
    #: REQ: prefix each request with a 4-byte id and accept only replies that carry it.
    req_correlate: bool = attrs.field(default=False, validator=_bool)
    #: ROUTER: an unknown routing id raises HostUnreachable, a full peer blocks.
    router_mandatory: bool = attrs.field(default=False, validator=_bool)
    #: ROUTER: a new peer with a routing id in use takes it over.
    router_handover: bool = attrs.field(default=False, validator=_bool)
    #: ROUTER, DEALER, REQ: send an empty message to each new peer.
    probe_router: bool = attrs.field(default=False, validator=_bool)
    #: SUB: topics subscribed from the start (an open_socket keyword only).
    subscribe: tuple[bytes, ...] = attrs.field(
        default=(), converter=_topics, validator=_check_topics
    )
    #: ROUTER, STREAM: the routing id of the peer of the next ``connect`` (then reset).
    connect_routing_id: bytes | None = attrs.field(
        default=None, converter=_optional_bytes, validator=_check_connect_routing_id
    )
    #: STREAM: announce each connection made and lost as ``[routing id, b""]``.
    stream_notify: bool = attrs.field(default=True, validator=_bool)
    #: XPUB: pass every subscribe to the application, duplicates included.
    xpub_verbose: bool = attrs.field(default=False, validator=_bool)
    #: XPUB: pass every subscribe and every unsubscribe.
    xpub_verboser: bool = attrs.field(default=False, validator=_bool)
    #: XPUB: the application decides the subscriptions (Socket.subscribe).
    xpub_manual: bool = attrs.field(default=False, validator=_bool)
    #: XPUB: a message sent to each new peer first.
    xpub_welcome_msg: bytes | None = attrs.field(
        default=None, converter=_optional_bytes, validator=_check_optional_bytes
    )
    #: XPUB: wait for a full subscriber instead of dropping for it.
    xpub_nodrop: bool = attrs.field(default=False, validator=_bool)


OPTION_NAMES: frozenset[str] = frozenset(f.name for f in attrs.fields(Options))

#: Options that only some socket types accept (each pattern lists its own).
TYPE_OPTIONS: frozenset[str] = frozenset(
    {
        "req_relaxed",
        "req_correlate",
        "router_mandatory",
        "router_handover",
        "probe_router",
        "subscribe",
        "stream_notify",
        "connect_routing_id",
        "xpub_verbose",
        "xpub_verboser",
        "xpub_manual",
        "xpub_welcome_msg",
        "xpub_nodrop",
    }
)


def make_options(defaults: dict[str, object], overrides: dict[str, object]) -> Options:
    """Options from a context's defaults and a socket's keyword arguments."""
    for name in overrides:
        if name not in OPTION_NAMES:
            raise TypeError(f"unknown socket option {name!r}")
    return Options(**{**defaults, **overrides})  # type: ignore[arg-type]


T = TypeVar("T")


class Option(Generic[T]):
    """A socket option exposed as an attribute (``sock.sndhwm = 10``)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, sock: None, owner: type) -> Option[T]: ...
    @overload
    def __get__(self, sock: Any, owner: type) -> T: ...
    def __get__(self, sock: Any | None, owner: type) -> T | Option[T]:
        if sock is None:
            return self
        return getattr(sock._options, self.name)  # type: ignore[no-any-return]

    def __set__(self, sock: Any, value: T) -> None:
        sock._set_option(self.name, value)
