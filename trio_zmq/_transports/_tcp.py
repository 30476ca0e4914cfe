"""The tcp transport: listeners and byte streams from ``tcp://`` endpoints."""

from __future__ import annotations

import socket as _stdlib_socket

import trio

from .._endpoint import TcpAddress

#: libzmq's default listen backlog (ZMQ_BACKLOG).
BACKLOG = 100


async def open_listener(address: TcpAddress) -> tuple[trio.SocketListener, str]:
    """Bind and listen; return the listener and the resolved endpoint.

    Raises OSError (e.g. address in use) if the address cannot be bound.
    """
    sock = trio.socket.socket(_stdlib_socket.AF_INET, _stdlib_socket.SOCK_STREAM)
    try:
        sock.setsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_REUSEADDR, 1)
        await sock.bind((address.host, address.port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    host, port = sock.getsockname()[:2]
    return trio.SocketListener(sock), f"tcp://{host}:{port}"


async def connect(address: TcpAddress) -> trio.SocketStream:
    """Open a TCP connection (resolving a host name each time it is called)."""
    return await trio.open_tcp_stream(address.host, address.port)
