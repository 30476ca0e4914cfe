"""The public error tree: everything trio_zmq raises of its own is a ZMQError.

Trio's own ``ClosedResourceError``, ``WouldBlock`` and ``Cancelled`` are
reused as they are, not wrapped. A peer's protocol or network error never
reaches ``send`` or ``recv``: it ends that peer's connection (logged and
counted in ``statistics()``), as in libzmq.
"""

from __future__ import annotations


class ZMQError(Exception):
    """Base class of trio_zmq's errors."""


class SocketStateError(ZMQError):
    """The operation is not allowed in the socket's current state (libzmq's EFSM)."""


class OperationNotSupported(ZMQError):
    """The socket type cannot do this at all, e.g. ``recv`` on PUSH (libzmq's ENOTSUP)."""


class HostUnreachable(ZMQError):
    """ROUTER with ``router_mandatory``, or STREAM: no peer has that routing id (EHOSTUNREACH)."""


class EndpointError(ZMQError, ValueError):
    """A malformed endpoint, an unknown transport, or one not bound/connected."""


class MultipartMessageError(ZMQError):
    """``recv`` found a multipart message; it was left in place for ``recv_multipart``."""
