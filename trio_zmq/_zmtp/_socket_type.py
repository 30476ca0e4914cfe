"""Socket types: libzmq's numbers, the names sent in READY, who may talk to whom."""

from __future__ import annotations

import enum


class SocketType(enum.IntEnum):
    """A ZeroMQ socket type, numbered as in libzmq's ``zmq.h``.

    The numbers above 11 are libzmq's draft socket types.
    """

    PAIR = 0
    PUB = 1
    SUB = 2
    REQ = 3
    REP = 4
    DEALER = 5
    ROUTER = 6
    PULL = 7
    PUSH = 8
    XPUB = 9
    XSUB = 10
    STREAM = 11
    SERVER = 12
    CLIENT = 13
    RADIO = 14
    DISH = 15
    GATHER = 16
    SCATTER = 17
    DGRAM = 18
    PEER = 19
    CHANNEL = 20

    @property
    def wire_name(self) -> bytes:
        """The value of the ``Socket-Type`` property in READY."""
        return self.name.encode("ascii")


_S = SocketType

# RFC 23 / RFC 37's table, identical to libzmq's mechanism_t::check_socket_type.
COMPATIBLE: dict[SocketType, frozenset[SocketType]] = {
    _S.REQ: frozenset({_S.REP, _S.ROUTER}),
    _S.REP: frozenset({_S.REQ, _S.DEALER}),
    _S.DEALER: frozenset({_S.REP, _S.DEALER, _S.ROUTER}),
    _S.ROUTER: frozenset({_S.REQ, _S.DEALER, _S.ROUTER}),
    _S.PUB: frozenset({_S.SUB, _S.XSUB}),
    _S.XPUB: frozenset({_S.SUB, _S.XSUB}),
    _S.SUB: frozenset({_S.PUB, _S.XPUB}),
    _S.XSUB: frozenset({_S.PUB, _S.XPUB}),
    _S.PUSH: frozenset({_S.PULL}),
    _S.PULL: frozenset({_S.PUSH}),
    _S.PAIR: frozenset({_S.PAIR}),
    _S.SERVER: frozenset({_S.CLIENT}),
    _S.CLIENT: frozenset({_S.SERVER}),
    _S.RADIO: frozenset({_S.DISH}),
    _S.DISH: frozenset({_S.RADIO}),
    _S.GATHER: frozenset({_S.SCATTER}),
    _S.SCATTER: frozenset({_S.GATHER}),
    _S.DGRAM: frozenset({_S.DGRAM}),
    _S.PEER: frozenset({_S.PEER}),
    _S.CHANNEL: frozenset({_S.CHANNEL}),
    _S.STREAM: frozenset(),
}

_BY_WIRE_NAME = {t.wire_name: t for t in SocketType}

# libzmq sends the Identity property only from these socket types.
SENDS_IDENTITY = frozenset({_S.REQ, _S.DEALER, _S.ROUTER})


def socket_type_from_wire(name: bytes) -> SocketType | None:
    """The socket type named ``name`` in a peer's READY, or None if unknown."""
    return _BY_WIRE_NAME.get(name)
