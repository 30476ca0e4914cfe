"""Security mechanisms: the seam between the handshake and the framing.

A mechanism runs the handshake after the greeting: it is given each command
body the peer sends and answers with command bodies to send back, until it is
``ready``. After the handshake, a mechanism that protects traffic (CURVE)
sets ``wraps_frames`` and turns every frame into a command body and back
(``wrap_frame`` / ``unwrap_frame``); the framing code never changes for it.
NULL, the only mechanism built so far, does neither.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping

from . import _commands as cmd
from ._errors import HandshakeRejected, ProtocolError


class Mechanism(abc.ABC):
    """One connection's side of a security handshake.

    ``own_properties`` is the metadata we send (Socket-Type, Identity, ...),
    already in wire order.
    """

    #: The mechanism's name in the greeting.
    name: bytes = b""
    #: Whether traffic frames go through wrap_frame / unwrap_frame.
    wraps_frames: bool = False

    def __init__(self, own_properties: list[tuple[str, bytes]]) -> None:
        self.own_properties = own_properties
        self.peer_properties: Mapping[str, bytes] = {}

    @property
    @abc.abstractmethod
    def ready(self) -> bool:
        """Whether the handshake is complete: traffic may flow both ways."""

    @abc.abstractmethod
    def start(self) -> list[bytes]:
        """Command bodies to send once the peer's greeting has been accepted."""

    @abc.abstractmethod
    def process_command(self, body: bytes) -> list[bytes]:
        """Handle a handshake command; return command bodies to send.

        Raises :class:`ProtocolError` if the peer broke the handshake.
        """

    def wrap_frame(self, body: bytes, *, more: bool, command: bool) -> bytes:
        """Box one traffic frame into the body of a frame to send (CURVE)."""
        raise NotImplementedError

    def unwrap_frame(self, body: bytes) -> tuple[bytes, bool, bool]:
        """Open one received traffic frame: (body, more, command) (CURVE)."""
        raise NotImplementedError


class NullMechanism(Mechanism):
    """NULL: READY each way with metadata, no security (RFC 37)."""

    name = b"NULL"

    def __init__(self, own_properties: list[tuple[str, bytes]]) -> None:
        super().__init__(own_properties)
        self._sent = False
        self._received = False

    @property
    def ready(self) -> bool:
        # libzmq reaches "ready" only once READY has gone both ways (digest 1.6.4).
        return self._sent and self._received

    def start(self) -> list[bytes]:
        self._sent = True
        return [cmd.command_body(cmd.READY, cmd.encode_properties(self.own_properties))]

    def process_command(self, body: bytes) -> list[bytes]:
        name, data = cmd.split_command(body)
        if name == cmd.READY and not self._received:
            self.peer_properties = cmd.decode_properties(data)
            self._received = True
            return []
        if name == cmd.ERROR:
            reason = data[1 : 1 + data[0]] if data else b""
            raise HandshakeRejected(reason)
        raise ProtocolError(f"unexpected command {name!r} during the NULL handshake")
