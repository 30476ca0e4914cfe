"""Shared test helpers.

Conventions (DESIGN section 5): every network test runs under
``trio.fail_after``; addresses are loopback only, ports are chosen by the
kernel (``tcp://127.0.0.1:*``); tests wait for conditions, never sleep a
fixed time to synchronise.
"""

from __future__ import annotations

from collections.abc import Callable

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
