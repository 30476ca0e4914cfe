"""``proxy``: forward messages between two sockets, both ways (libzmq's ``zmq_proxy``)."""

from __future__ import annotations

from typing import NoReturn

import trio

from ._socket import Socket


async def proxy(frontend: Socket, backend: Socket, capture: Socket | None = None) -> NoReturn:
    """Forward every message from ``frontend`` to ``backend`` and back, until cancelled.

    Each direction runs where the sockets allow it (a PULL frontend and a
    PUSH backend forward one way only). With ``capture``, every message is
    also sent there first, in both directions. An XSUB frontend with an XPUB
    backend makes a publish-subscribe forwarder: messages flow down,
    subscriptions up.

    A checkpoint; it returns only by raising. Cancel it to stop: a message
    taken from one socket and not yet accepted by the other at that moment
    is lost, as with libzmq's proxy. If a socket is closed, its
    ``trio.ClosedResourceError`` is raised (unwrapped) and the other
    direction stops too.
    """
    directions = [
        (src, dst)
        for src, dst in ((frontend, backend), (backend, frontend))
        if src._pattern.can_recv and dst._pattern.can_send
    ]
    if not directions:
        raise ValueError(
            f"nothing can flow between a {frontend.socket_type.name} "
            f"and a {backend.socket_type.name} socket"
        )
    failure: list[BaseException] = []
    async with trio.open_nursery() as nursery:
        for src, dst in directions:
            nursery.start_soon(_forward, src, dst, capture, failure, nursery.cancel_scope)
    # Only a failure ends the nursery without cancelling the proxy's caller.
    raise failure[0] if failure else AssertionError("proxy stopped")  # pragma: no cover


async def _forward(
    src: Socket,
    dst: Socket,
    capture: Socket | None,
    failure: list[BaseException],
    scope: trio.CancelScope,
) -> None:
    try:
        while True:
            message = await src.recv_multipart()
            if capture is not None:
                await capture.send_multipart(message)
            await dst.send_multipart(message)
    except trio.ClosedResourceError as exc:
        failure.append(exc)
        scope.cancel()
