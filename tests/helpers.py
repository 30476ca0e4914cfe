"""Shared test helpers.

Conventions (DESIGN section 5): every network test runs under
``trio.fail_after``; addresses are loopback only, ports are chosen by the
kernel (``tcp://127.0.0.1:*``); tests wait for conditions, never sleep a
fixed time to synchronise.

The pattern tests run over every transport (the ``transport`` fixture of
``conftest.py``): ``bind_endpoint(transport)`` is what a trio_zmq socket binds,
``ipc_endpoint()`` a fresh ipc path for a libzmq socket to bind (libzmq's own
``ipc://*`` puts its file in the working directory when TMPDIR is unset).
inproc links sockets of one trio_zmq Context only: a libzmq peer cannot
join it (``LIBZMQ_TRANSPORTS``).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trio

import trio_zmq

LOOPBACK = "tcp://127.0.0.1:*"

#: Every transport the pattern tests run over (the ``transport`` fixture).
TRANSPORTS = ["tcp", "ipc", "inproc"]
#: The transports a libzmq (pyzmq) peer can share with a trio_zmq socket.
LIBZMQ_TRANSPORTS = ["tcp", "ipc"]
#: Why there is no inproc run with a libzmq peer.
INPROC_NOT_LIBZMQ = "inproc links sockets of one trio_zmq Context; libzmq cannot join it"
#: Why a scenario where a peer restarts or reconnects has no inproc run.
NO_INPROC_RECONNECT = "an inproc link ends with the socket at either end and never reconnects"
#: For a test that always has a libzmq peer: run it over tcp and ipc.
libzmq_transports = pytest.mark.parametrize("transport", LIBZMQ_TRANSPORTS)

_inproc_names = itertools.count()
_ipc_paths = itertools.count()
#: The directory of ``ipc_endpoint``'s paths (made at the first, removed by conftest).
_ipc_dir: str | None = None


def inproc_endpoint() -> str:
    """A fresh inproc name, bound by nobody."""
    return f"inproc://trio-zmq-test-{next(_inproc_names)}"


def ipc_endpoint() -> str:
    """A fresh ipc path in a temporary directory of the test session, bound by nobody.

    For a libzmq socket to bind, and for a peer that is away. libzmq leaves
    the socket file of a path it bound: the directory goes at the end of the
    session (``remove_ipc_dir``).
    """
    global _ipc_dir
    if _ipc_dir is None:
        _ipc_dir = tempfile.mkdtemp(prefix="trio-zmq-test-")
    return f"ipc://{os.path.join(_ipc_dir, f'{next(_ipc_paths)}.sock')}"


def remove_ipc_dir() -> None:
    """Remove ``ipc_endpoint``'s directory and what is left in it."""
    global _ipc_dir
    if _ipc_dir is not None:
        shutil.rmtree(_ipc_dir, ignore_errors=True)
        _ipc_dir = None


def bind_endpoint(transport: str) -> str:
    """What a trio_zmq socket binds over ``transport``; ``bind`` returns the real endpoint."""
    if transport == "tcp":
        return LOOPBACK
    if transport == "ipc":
        return "ipc://*"
    if transport == "inproc":
        return inproc_endpoint()
    raise ValueError(f"unknown transport {transport!r}")


def rebindable_endpoint(transport: str) -> str:
    """Like ``bind_endpoint``, for an endpoint that is bound again once its socket closes.

    ``ipc://*`` binds in a temporary directory that goes with the socket (as in
    libzmq), so ipc gets a fixed path instead.
    """
    return ipc_endpoint() if transport == "ipc" else bind_endpoint(transport)


async def wait_until(predicate: Callable[[], bool], *, interval: float = 0.002) -> None:
    """Poll ``predicate`` until it is true (the caller bounds it with fail_after)."""
    while not predicate():
        await trio.sleep(interval)


async def wait_for_peers(sock: trio_zmq.Socket, n: int) -> None:
    """Wait until ``sock`` has ``n`` peers with a completed handshake."""
    await wait_until(lambda: sock.statistics().peers == n)


def writers_idle(sock: trio_zmq.Socket) -> bool:
    """Every connection's writer waits with nothing to write (a direct write may go).

    A handshake may be done before its writer first parks (about one run in
    ten): until then a message is the writer's to send, not a direct write.
    """
    return all(pipe.direct is not None for pipe in sock._pipeset.pipes)


#: The tcp ports ``free_endpoint`` holds, by endpoint (closed after each test by conftest).
_held_ports: dict[str, socket.socket] = {}


async def free_endpoint(transport: str = "tcp") -> str:
    """An endpoint nothing listens on (for a peer that is away, or binds later).

    A tcp port stays reserved until the test ends: a socket holds it, bound
    but not listening, so connecting is refused (as to a closed port) and
    no bind can take it meanwhile, not even a kernel-chosen one. (A port
    merely closed again could be handed to the next ``*`` bind: a libzmq
    peer bound "elsewhere" would then be on the "absent" endpoint too.) A
    test that binds the endpoint later calls ``release_endpoint`` first.
    """
    if transport == "ipc":
        return ipc_endpoint()
    if transport == "inproc":
        return inproc_endpoint()
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    endpoint = f"tcp://127.0.0.1:{holder.getsockname()[1]}"
    _held_ports[endpoint] = holder
    return endpoint


def release_endpoint(endpoint: str) -> str:
    """Free a ``free_endpoint`` port for a bind; return the endpoint (no-op for ipc, inproc)."""
    holder = _held_ports.pop(endpoint, None)
    if holder is not None:
        holder.close()
    return endpoint


def release_all_endpoints() -> None:
    """Free every port ``free_endpoint`` holds (after each test)."""
    for endpoint in list(_held_ports):
        release_endpoint(endpoint)


@asynccontextmanager
async def linked(
    bind_type: trio_zmq.SocketType,
    connect_type: trio_zmq.SocketType,
    bind_options: dict[str, object] | None = None,
    connect_options: dict[str, object] | None = None,
    *,
    transport: str = "tcp",
) -> AsyncIterator[tuple[trio_zmq.Socket, trio_zmq.Socket]]:
    """Two sockets: the first bound (over ``transport``), the second connected to it."""
    async with (
        trio_zmq.open_socket(bind_type, **(bind_options or {})) as bound,  # type: ignore[arg-type]
        trio_zmq.open_socket(connect_type, **(connect_options or {})) as connecting,  # type: ignore[arg-type]
    ):
        connecting.connect(await bound.bind(bind_endpoint(transport)))
        yield bound, connecting
