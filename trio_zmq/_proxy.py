"""``proxy``: forward messages between two sockets, both ways (libzmq's ``zmq_proxy``)."""

from __future__ import annotations

from typing import Any, NoReturn

import trio

from ._socket import Socket


async def proxy(frontend: Socket, backend: Socket, capture: Socket | None = None) -> NoReturn:
    """Forward every message from ``frontend`` to ``backend`` and back, until cancelled.

    Each direction runs where the sockets allow it (a PULL frontend and a
    PUSH backend forward one way only). With ``capture``, every message is
    also sent there first, in both directions. An XSUB frontend with an XPUB
    backend makes a publish-subscribe forwarder: messages flow down,
    subscriptions up.

    A checkpoint; it returns only by raising. Cancel it to stop (a bare
    ``trio.Cancelled`` comes out): a message taken from one socket and not
    yet accepted by the other at that moment is lost, as with libzmq's
    proxy. If any of the sockets is closed, ``trio.ClosedResourceError`` is
    raised (unwrapped) and both directions stop. Raises ``ValueError`` at
    once if nothing can flow between the two types, or ``capture`` cannot
    send.
    """
    await trio.lowlevel.checkpoint_if_cancelled()
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
    if capture is not None and not capture._pattern.can_send:
        raise ValueError(f"a {capture.socket_type.name} socket cannot capture: it cannot send")
    failure: list[Exception] = []
    sockets = [frontend, backend] if capture is None else [frontend, backend, capture]
    try:
        async with trio.open_nursery() as nursery:
            for src, dst in directions:
                nursery.start_soon(_forward, src, dst, capture, failure, nursery.cancel_scope)
            for sock in sockets:
                nursery.start_soon(_watch, sock, failure, nursery.cancel_scope)
    except BaseException as exc:
        # A cancellation from outside reaches every task and comes out of the
        # nursery as a group of Cancelled: let one out, bare, as any other
        # trio_zmq call would. (Duck-typed: an exception group has split().)
        split = getattr(exc, "split", None)
        if split is None:
            raise
        cancelled, rest = split(trio.Cancelled)
        if rest is not None or cancelled is None:
            raise
        raise _first(cancelled) from None
    raise failure[0]


def _first(group: Any) -> trio.Cancelled:
    first = group.exceptions[0]
    return first if isinstance(first, trio.Cancelled) else _first(first)


async def _forward(
    src: Socket,
    dst: Socket,
    capture: Socket | None,
    failure: list[Exception],
    scope: trio.CancelScope,
) -> None:
    try:
        while True:
            message = await src.recv_multipart()
            if capture is not None:
                await capture.send_multipart(message)
            await dst.send_multipart(message)
    except Exception as exc:  # ends the proxy; raised from it unwrapped
        failure.append(exc)
        scope.cancel()


async def _watch(sock: Socket, failure: list[Exception], scope: trio.CancelScope) -> None:
    """End the proxy when ``sock`` is closed, even if no task waits on it."""
    await sock._closed_event.wait()
    failure.append(trio.ClosedResourceError(f"{sock!r} was closed"))
    scope.cancel()
