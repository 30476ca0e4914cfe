"""The ipc transport: Unix domain stream sockets from ``ipc://`` endpoints.

``ipc://path`` binds a socket file, removed again on unbind and close (if
it is still ours); ``ipc://@name`` is Linux's abstract namespace (no file);
``ipc://*`` binds a new file in a fresh temporary directory. A socket file
left by a process that died does not stop a bind: when nothing answers on
it, it is replaced. Unlike libzmq, which unlinks whatever is there, a file
a live process is listening on is left alone and the bind fails with
EADDRINUSE. Finding that out takes a connection attempt, which the live
owner sees as a client that connects and leaves at once.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket as _stdlib_socket
import stat
import tempfile

import trio

from .._endpoint import IpcAddress
from .._options import Options
from ._listener import SocketListener, connect_socket

BACKLOG = 100


async def open_listener(address: IpcAddress, options: Options) -> SocketListener:
    """Bind and listen. A checkpoint; raises OSError if the path cannot be bound."""
    temp_dir = tempfile.mkdtemp(prefix="trio-zmq-") if address.wildcard else None
    path = os.path.join(temp_dir, "socket") if temp_dir else address.sockaddr
    sock = trio.socket.socket(_stdlib_socket.AF_UNIX, _stdlib_socket.SOCK_STREAM)
    try:
        try:
            await sock.bind(path)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or address.abstract:
                raise
            before = _file_identity(path)
            if before is None or not await _is_stale(path) or _file_identity(path) != before:
                raise  # not a socket, somebody listens, or it was replaced meanwhile
            with contextlib.suppress(FileNotFoundError):  # another binder was quicker
                os.unlink(path)
            await sock.bind(path)  # EADDRINUSE again if another binder took the path
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    if address.abstract:
        return SocketListener(sock, str(address))
    identity = _file_identity(path)

    def cleanup() -> None:
        if identity is not None and _file_identity(path) == identity:
            os.unlink(path)  # still our file: no one has bound over it since
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)

    return SocketListener(sock, f"ipc://{path}", cleanup=cleanup)


async def connect(address: IpcAddress, options: Options) -> trio.SocketStream:
    """Connect to a listening ipc socket. A checkpoint; raises OSError on failure."""
    sock = trio.socket.socket(_stdlib_socket.AF_UNIX, _stdlib_socket.SOCK_STREAM)
    return await connect_socket(sock, address.sockaddr, options.connect_timeout)


async def _is_stale(path: str) -> bool:
    """A socket file nobody listens on (its process died without removing it)."""
    if _file_identity(path) is None:
        return False  # not a socket: never removed
    probe = trio.socket.socket(_stdlib_socket.AF_UNIX, _stdlib_socket.SOCK_STREAM)
    try:
        with trio.move_on_after(1.0):  # a full backlog: somebody is there
            await probe.connect(path)
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        probe.close()
    return False  # somebody answered


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISSOCK(st.st_mode) else None
