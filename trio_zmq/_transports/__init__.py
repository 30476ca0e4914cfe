"""Transports turn endpoints into listeners and byte streams.

Each stream transport module has ``open_listener(address, options) ->
SocketListener`` and ``connect(address, options) -> stream`` (the
:class:`Transport` protocol); ``TRANSPORTS`` maps an address's ``scheme``
to its module. inproc is not a stream transport: it links two sockets'
pipes directly (``trio_zmq._inproc``).
"""

from __future__ import annotations

from typing import Any, Protocol

import trio

from .._options import Options
from . import _ipc as ipc
from . import _tcp as tcp
from ._listener import SocketListener


class Transport(Protocol):
    """What ``Socket.bind`` and ``Connecter`` need of a stream transport."""

    async def open_listener(self, address: Any, options: Options) -> SocketListener: ...

    async def connect(self, address: Any, options: Options) -> trio.SocketStream: ...


TRANSPORTS: dict[str, Transport] = {"tcp": tcp, "ipc": ipc}

__all__ = ["TRANSPORTS", "SocketListener", "Transport", "ipc", "tcp"]
