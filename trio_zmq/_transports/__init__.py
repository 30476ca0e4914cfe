"""Transports turn endpoints into listeners and byte streams.

Each transport module has ``open_listener(address) -> (listener, endpoint)``
and ``connect(address) -> stream`` (the :class:`Transport` protocol);
``TRANSPORTS`` maps an address's ``scheme`` to its module. Only tcp exists
so far; ipc, inproc and pgm/epgm come in their own issue.
"""

from __future__ import annotations

from typing import Any, Protocol

import trio

from . import _tcp as tcp


class Transport(Protocol):
    """What ``Socket.bind`` and ``Connecter`` need of a transport."""

    async def open_listener(self, address: Any) -> tuple[trio.SocketListener, str]: ...

    async def connect(self, address: Any) -> trio.SocketStream: ...


TRANSPORTS: dict[str, Transport] = {"tcp": tcp}

__all__ = ["TRANSPORTS", "Transport", "tcp"]
