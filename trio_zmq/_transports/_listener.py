"""A listening stream socket shared by the tcp and ipc transports."""

from __future__ import annotations

from collections.abc import Callable

import trio


class SocketListener:
    """Accepts byte streams on a listening trio socket.

    ``configure`` is applied to each accepted socket (TCP keepalive ...);
    ``cleanup`` runs once when the listener is closed (ipc removes its file).
    """

    def __init__(
        self,
        sock: trio.socket.SocketType,
        endpoint: str,
        *,
        configure: Callable[[trio.socket.SocketType], None] | None = None,
        cleanup: Callable[[], None] | None = None,
    ) -> None:
        self._listener = trio.SocketListener(sock)
        #: The endpoint as bound, resolved (``tcp://127.0.0.1:41234``).
        self.endpoint = endpoint
        self._configure = configure
        self._cleanup = cleanup
        self._closed = False

    async def accept(self) -> trio.SocketStream:
        """Wait for the next connection. A checkpoint; cancelling accepts nothing."""
        stream = await self._listener.accept()
        if self._configure is not None:
            try:
                self._configure(stream.socket)
            except OSError:
                stream.socket.close()
                raise
        return stream

    def close(self) -> None:
        """Stop listening (sync, idempotent); a task in ``accept`` gets ClosedResourceError."""
        if self._closed:
            return
        self._closed = True
        self._listener.socket.close()
        if self._cleanup is not None:
            self._cleanup()


async def connect_socket(
    sock: trio.socket.SocketType,
    sockaddr: object,
    connect_timeout: float | None,
) -> trio.SocketStream:
    """Connect ``sock`` (closed on failure) within ``connect_timeout`` s (None: the OS's).

    A checkpoint. Raises OSError (``TimeoutError`` when out of time); if
    cancelled, the socket is closed.
    """
    try:
        with trio.move_on_after(connect_timeout or float("inf")) as scope:
            await sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    if scope.cancelled_caught:
        sock.close()
        raise TimeoutError(f"connect timed out after {connect_timeout} s")
    return trio.SocketStream(sock)
