"""Shared test helpers.

Conventions (DESIGN section 5): every network test runs under
``trio.fail_after``; addresses are loopback only, ports are chosen by the
kernel (``tcp://127.0.0.1:*``); tests wait for conditions, never sleep a
fixed time to synchronise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

import trio_zmq

LOOPBACK = "tcp://127.0.0.1:*"


async def wait_until(predicate: Callable[[], bool], *, interval: float = 0.002) -> None:
    """Poll ``predicate`` until it is true (the caller bounds it with fail_after)."""
    while not predicate():
        await trio.sleep(interval)


async def wait_for_peers(sock: trio_zmq.Socket, n: int) -> None:
    """Wait until ``sock`` has ``n`` peers with a completed handshake."""
    await wait_until(lambda: sock.statistics().peers == n)


async def free_endpoint() -> str:
    """A loopback endpoint whose port nothing listens on (for a peer that is away)."""
    async with trio_zmq.open_socket(trio_zmq.PULL) as probe:
        endpoint = await probe.bind(LOOPBACK)
    return endpoint


@asynccontextmanager
async def linked(
    bind_type: trio_zmq.SocketType,
    connect_type: trio_zmq.SocketType,
    bind_options: dict[str, object] | None = None,
    connect_options: dict[str, object] | None = None,
) -> AsyncIterator[tuple[trio_zmq.Socket, trio_zmq.Socket]]:
    """Two sockets: the first bound on loopback, the second connected to it."""
    async with (
        trio_zmq.open_socket(bind_type, **(bind_options or {})) as bound,  # type: ignore[arg-type]
        trio_zmq.open_socket(connect_type, **(connect_options or {})) as connecting,  # type: ignore[arg-type]
    ):
        connecting.connect(await bound.bind(LOOPBACK))
        yield bound, connecting
