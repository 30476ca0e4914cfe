"""Context and ``open_socket``: where sockets come from.

A socket lives inside ``async with``: entering opens the nursery that holds
its listeners, connecters and peer tasks; leaving closes it. The nursery's
tasks never raise into user code (DESIGN 3.6), and an exception leaving the
block passes through unchanged, never wrapped in an exception group.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, final

import trio

from . import _zmtp
from ._inproc import InprocRegistry
from ._options import OPTION_NAMES, TYPE_OPTIONS, make_options
from ._patterns import PATTERNS
from ._socket import Socket

_default_context: trio.lowlevel.RunVar[Context] = trio.lowlevel.RunVar("trio_zmq_default_context")


@final
class Context:
    """Scopes default options and inproc names (and, later, the ZAP handler).

    A plain object with nothing to close. ``Context(sndhwm=10)`` gives every
    socket made from it ``sndhwm=10`` unless the socket says otherwise.
    """

    def __init__(self, **default_options: object) -> None:
        make_options({}, default_options)  # validate now, naming any bad option
        self._defaults = dict(default_options)
        #: The inproc names bound by this context's sockets.
        self._inproc = InprocRegistry()

    def __repr__(self) -> str:
        return f"<trio_zmq.Context at {id(self):#x}>"

    def socket(self, socket_type: _zmtp.SocketType | int, **options: object) -> SocketManager:
        """Open a socket of this context: ``async with ctx.socket(PUSH) as sock:``.

        Not itself a checkpoint; entering and leaving the block are.
        """
        return SocketManager(self, socket_type, options)


def default_context() -> Context:
    """The context shared by sockets opened without one, one per ``trio.run``."""
    try:
        return _default_context.get()
    except LookupError:
        ctx = Context()
        _default_context.set(ctx)
        return ctx


def open_socket(
    socket_type: _zmtp.SocketType | int, *, context: Context | None = None, **options: object
) -> SocketManager:
    """Open a socket: ``async with trio_zmq.open_socket(trio_zmq.PULL) as sock:``.

    Options are keyword arguments with pyzmq's lowercase names (``sndhwm``,
    ``linger`` ...); durations are in seconds. Raises ``TypeError`` or
    ``ValueError`` naming a bad option, at once.

    Leaving the block normally is ``await sock.aclose()`` (it waits up to
    ``linger`` for queued messages); leaving it with an exception, or
    cancellation, closes at once. The exception passes through unchanged.
    """
    return SocketManager(context, socket_type, options)


@final
class SocketManager:
    """The async context manager returned by ``open_socket`` and ``Context.socket``."""

    def __init__(
        self,
        context: Context | None,
        socket_type: _zmtp.SocketType | int,
        options: dict[str, object],
    ) -> None:
        try:
            self._type = _zmtp.SocketType(socket_type)
        except ValueError:
            raise ValueError(f"unknown socket type {socket_type!r}") from None
        if self._type not in PATTERNS:
            raise NotImplementedError(f"{self._type.name} sockets are not implemented yet")
        for name in options:
            if name not in OPTION_NAMES:
                raise TypeError(f"unknown socket option {name!r}")
            if name in TYPE_OPTIONS and name not in PATTERNS[self._type].type_options:
                raise TypeError(f"a {self._type.name} socket has no option {name!r}")
        self._context = context
        self._options = options
        self._socket: Socket | None = None
        self._host: Any = None  # the host nursery's manager (trio's type is private)

    async def __aenter__(self) -> Socket:
        """Open the socket (a checkpoint)."""
        if self._host is not None:
            raise RuntimeError("this socket manager was already entered")
        context = self._context if self._context is not None else default_context()
        pattern_type = PATTERNS[self._type]
        defaults: dict[str, object] = {"linger": pattern_type.default_linger}
        # A context's type-specific defaults apply to the types that have them.
        defaults.update(
            (name, value)
            for name, value in context._defaults.items()
            if name not in TYPE_OPTIONS or name in pattern_type.type_options
        )
        options = make_options(defaults, self._options)
        pattern = pattern_type(options)
        # The socket's tasks live in a nursery hosted by a task of its own, so
        # the user's block never runs inside the scope that close() cancels.
        self._host = trio.open_nursery()
        host = await self._host.__aenter__()
        try:
            nursery = await host.start(_run_socket_nursery)
        except BaseException:
            await self._host.__aexit__(None, None, None)
            raise
        self._socket = Socket._create(self._type, context, nursery, options, pattern)
        return self._socket

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the socket: ``aclose()`` on a normal exit, ``close()`` on an exception."""
        assert self._socket is not None and self._host is not None
        raised: BaseException | None = None
        if exc is None:
            try:
                await self._socket.aclose()
            except BaseException as error:  # e.g. Cancelled while lingering
                raised = error
        else:
            self._socket.close()
        # close() has cancelled the socket's nursery; its tasks end quietly
        # and the host task returns, so this exits without an exception of
        # its own and the block's exception (if any) propagates unchanged.
        await self._host.__aexit__(None, None, None)
        if raised is not None:
            raise raised


async def _run_socket_nursery(task_status: trio.TaskStatus[trio.Nursery]) -> None:
    """Host the socket's nursery until ``Socket.close()`` cancels it.

    Shielded: the socket's tasks end when the socket closes (which leaving
    the block always does), not when a scope around the block is cancelled.
    """
    with trio.CancelScope(shield=True):
        async with trio.open_nursery() as nursery:
            task_status.started(nursery)
            await trio.sleep_forever()
