"""One ZMTP 3.x connection, sans-IO: bytes in, events out; messages in, bytes out.

Stages: GREETING (64 bytes each way) -> HANDSHAKE (the mechanism's commands)
-> TRAFFIC (messages and commands) -> BROKEN after any protocol error.

The I/O layer's loop is::

    conn = Connection(SocketType.PUSH)
    await stream.send_all(conn.data_to_send())          # our greeting, at once
    while True:
        data = await stream.receive_some(conn.read_size_hint)
        for event in conn.receive_data(data):           # may raise ProtocolError
            ...                                         # HandshakeComplete, messages, commands
        if conn.has_data_to_send():                     # READY, PONG ...
            await stream.send_all(conn.data_to_send())

and, once HandshakeComplete has come out, ``conn.encode_messages(batch)``
gives the buffers for a batch of messages (with any queued command first).
Following RFC 37 and libzmq (digest 1.6.4), no message can be encoded before
the peer's READY has been received.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence

import attrs

from . import _commands as cmd
from ._errors import IncompatibleSocketType, LocalProtocolError, ProtocolError
from ._framing import FrameDecoder, encode_command, encode_messages, frame_header
from ._greeting import GREETING_SIZE, build_greeting, check_greeting
from ._mechanism import Mechanism, NullMechanism
from ._socket_type import COMPATIBLE, SENDS_IDENTITY, SocketType, socket_type_from_wire


class Stage(enum.Enum):
    """Where a connection is in its life."""

    #: Waiting for the peer's 64-byte greeting.
    GREETING = "greeting"
    #: The mechanism's handshake (NULL: READY each way).
    HANDSHAKE = "handshake"
    #: Messages and commands flow.
    TRAFFIC = "traffic"
    #: A protocol error happened; the connection must be closed.
    BROKEN = "broken"


#: ``Stage.TRAFFIC`` as a module constant: an enum member's lookup through its
#: class costs several times a global's, on the per-message paths.
TRAFFIC = Stage.TRAFFIC


@attrs.frozen
class HandshakeComplete:
    """The handshake succeeded; traffic may flow both ways from now on."""

    #: (3, 0) or (3, 1); a peer announcing a later 3.x or above counts as 3.1.
    peer_version: tuple[int, int]
    #: None if the peer sent no Socket-Type (libzmq accepts that).
    peer_socket_type: SocketType | None
    #: The peer's Identity property, b"" if it sent none.
    peer_routing_id: bytes
    peer_properties: Mapping[str, bytes]


#: What receive_data returns: whole messages (lists of frames) and events.
Event = list[bytes] | HandshakeComplete | cmd.Subscribe | cmd.Cancel | cmd.Ping | cmd.Pong


class Connection:
    """A ZMTP 3.x connection endpoint with no I/O.

    Args:
        socket_type: our socket type, sent as Socket-Type and checked
            against the peer's.
        routing_id: sent as Identity by REQ, DEALER and ROUTER (always,
            even when empty, as libzmq does).
        mechanism: a factory for the security mechanism (NULL by default);
            it is given the metadata to send.
        maxmsgsize: the largest frame body accepted, or None for no limit.
        properties: extra ``X-`` metadata, sent sorted by name as libzmq does.
    """

    def __init__(
        self,
        socket_type: SocketType,
        *,
        routing_id: bytes = b"",
        mechanism: type[Mechanism] = NullMechanism,
        maxmsgsize: int | None = None,
        properties: Iterable[tuple[str, bytes]] = (),
    ) -> None:
        self.socket_type = socket_type
        own: list[tuple[str, bytes]] = [("Socket-Type", socket_type.wire_name)]
        if socket_type in SENDS_IDENTITY:
            own.append(("Identity", routing_id))
        own += sorted(properties)
        self._mechanism = mechanism(own)
        self._decoder = FrameDecoder(maxmsgsize)
        self._greeting = b""
        self._outbox: list[bytes] = [build_greeting(self._mechanism.name)]
        self._commands_seen = 0
        self._frames: list[bytes] = []  # multipart assembly for wrapped traffic
        self.stage = Stage.GREETING
        #: Whether the last receive_data returned nothing but messages.
        self.only_messages = True
        self.peer_version: tuple[int, int] | None = None
        self.handshake: HandshakeComplete | None = None

    # --- receiving ---------------------------------------------------------

    @property
    def read_size_hint(self) -> int:
        """How many bytes the next read should ask for."""
        return self._decoder.read_size_hint

    @property
    def body_remaining(self) -> int:
        """Bytes still to come of a large frame body (0 when not in the middle of one)."""
        return self._decoder.body_remaining

    def body_buffer(self) -> memoryview | None:
        """A writable view for the next bytes of the large body being received.

        A reader with a socket reads into it and calls ``body_received``:
        the body then costs no allocation per read. None when the process
        has no segment free: read ``read_size_hint`` bytes into ``bytes``
        and pass them to ``receive_data``. Only once the handshake is done
        and while ``body_remaining``.
        """
        if self.stage is not TRAFFIC:
            raise LocalProtocolError(f"no body reads in stage {self.stage.value}")
        return self._decoder.body_buffer()

    def body_received(self, count: int) -> list[Event]:
        """``count`` bytes were read into the last ``body_buffer``; return the events they complete.

        Raises :class:`ProtocolError` as ``receive_data`` does (a mechanism
        that boxes frames refuses a bad box), and the connection is then
        BROKEN.
        """
        if self.stage is not TRAFFIC:
            raise LocalProtocolError(f"no body reads in stage {self.stage.value}")
        try:
            return self._traffic(self._decoder.body_received(count))
        except ProtocolError:
            self.stage = Stage.BROKEN
            raise

    def release_buffers(self) -> None:
        """The stream is over: give back what an unfinished large body holds (sync).

        What is received afterwards (a late read) must be ignored. Without
        this call, a connection dropped inside a large body takes its
        segment with it.
        """
        self._decoder.release()

    def receive_data(self, data: bytes | bytearray) -> list[Event]:
        """Feed bytes from the peer; return the events they complete.

        Raises :class:`ProtocolError` if the peer broke the protocol; the
        connection is then BROKEN and must be closed.
        """
        # Frames are handed out as bytes, whatever type came in.
        raw = data if type(data) is bytes else bytes(data)
        if self.stage is TRAFFIC:
            try:
                return self._traffic(self._decoder.feed(raw))
            except ProtocolError:
                self.stage = Stage.BROKEN
                raise
        if self.stage is Stage.BROKEN:
            raise LocalProtocolError("the connection is broken")
        self.only_messages = False
        try:
            return self._receive_early(raw)
        except ProtocolError:
            self.stage = Stage.BROKEN
            raise

    def _receive_early(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        if self.stage is Stage.GREETING:
            need = GREETING_SIZE - len(self._greeting)
            self._greeting += data[:need]
            data = data[need:]
            greeting = check_greeting(self._greeting, self._mechanism.name)
            if greeting is None:
                return events
            self.peer_version = (3, min(greeting.minor, 1)) if greeting.major == 3 else (3, 1)
            self._outbox += map(encode_command, self._mechanism.start())
            self.stage = Stage.HANDSHAKE
        mechanism = self._mechanism
        while self.stage is Stage.HANDSHAKE:
            items = self._decoder.feed(data, stop_after_command=True)
            data = b""
            if self._decoder.in_message:
                raise ProtocolError("message frame received before the handshake completed")
            if not items:
                return events
            for item in items:
                if type(item) is list:
                    raise ProtocolError("message frame received before the handshake completed")
                assert type(item) is bytes
                self._outbox += map(encode_command, mechanism.process_command(item))
            self._commands_seen = self._decoder.command_count
            if mechanism.ready:
                events.append(self._complete_handshake())
        events += self._traffic(self._decoder.feed(b""))
        self.only_messages = False  # events holds HandshakeComplete
        return events

    def _complete_handshake(self) -> HandshakeComplete:
        props = self._mechanism.peer_properties
        peer_type: SocketType | None = None
        name = cmd.get_property(props, "Socket-Type")
        if name is not None:
            peer_type = socket_type_from_wire(name)
            if peer_type is None or peer_type not in COMPATIBLE[self.socket_type]:
                raise IncompatibleSocketType(
                    f"a {self.socket_type.name} socket cannot talk to a "
                    f"{name.decode('latin-1')} socket"
                )
        assert self.peer_version is not None
        self.handshake = HandshakeComplete(
            peer_version=self.peer_version,
            peer_socket_type=peer_type,
            peer_routing_id=cmd.get_property(props, "Identity") or b"",
            peer_properties=props,
        )
        self.stage = Stage.TRAFFIC
        if self._mechanism.wraps_frames:
            self._decoder.assemble = False
        return self.handshake

    def _traffic(self, items: list[bytes] | list[list[bytes] | bytes]) -> list[Event]:
        decoder = self._decoder
        if self._mechanism.wraps_frames:
            return self._unwrap(items)  # type: ignore[arg-type]
        if decoder.command_count == self._commands_seen:
            self.only_messages = True
            return items  # type: ignore[return-value]  # messages only: the fast path
        self._commands_seen = decoder.command_count
        self.only_messages = False
        events: list[Event] = []
        for item in items:
            if type(item) is list:
                events.append(item)
            else:
                assert type(item) is bytes
                event = self._command(item)
                if event is not None:
                    events.append(event)
        return events

    def _unwrap(self, bodies: list[bytes]) -> list[Event]:
        self.only_messages = False
        events: list[Event] = []
        for outer in bodies:
            body, more, is_command = self._mechanism.unwrap_frame(outer)
            if is_command:
                event = self._command(body)
                if event is not None:
                    events.append(event)
            elif more:
                self._frames.append(body)
            else:
                self._frames.append(body)
                events.append(self._frames)
                self._frames = []
        return events

    def _command(self, body: bytes) -> Event | None:
        event = cmd.parse_traffic_command(body)
        if type(event) is cmd.Ping:
            self._queue_command(cmd.pong_body(event.context))
        return event

    # --- sending -----------------------------------------------------------

    def has_data_to_send(self) -> bool:
        """Whether greeting, handshake or command bytes are waiting to go out."""
        return bool(self._outbox)

    def data_to_send(self) -> bytes:
        """Take the greeting, handshake and command bytes waiting to go out."""
        out = b"".join(self._outbox)
        self._outbox.clear()
        return out

    def encode_messages(self, messages: Iterable[Sequence[bytes]]) -> list[bytes]:
        """Buffers to write for these messages, after any queued commands.

        Raises :class:`LocalProtocolError` before the handshake is complete.
        """
        if self.stage is not TRAFFIC:
            raise LocalProtocolError(f"cannot send messages in stage {self.stage.value}")
        if self._mechanism.wraps_frames:
            buffers = [self._wrap(msg) for msg in messages]
        else:
            buffers = encode_messages(messages, self._encode_subscription)
        if self._outbox:
            buffers.insert(0, self.data_to_send())
        return buffers

    def _subscription_frame(self, item: Sequence[bytes]) -> tuple[bytes, bool]:
        """A queued subscription as the peer speaks it: (body, is a command).

        A SUBSCRIBE/CANCEL command for ZMTP 3.1, a message starting with
        0x01/0x00 for 3.0 (digest 1.10).
        """
        assert isinstance(item, cmd.QueuedSubscription)
        topic = item[0]
        if self.peer_version is not None and self.peer_version >= (3, 1):
            name = cmd.SUBSCRIBE if item.subscribe else cmd.CANCEL
            return cmd.command_body(name, topic), True
        return (b"\x01" if item.subscribe else b"\x00") + topic, False

    def _encode_subscription(self, item: Sequence[bytes]) -> bytes:
        body, command = self._subscription_frame(item)
        return encode_command(body) if command else b"".join(encode_messages([[body]]))

    def _wrap(self, msg: Sequence[bytes]) -> bytes:
        # CURVE's MESSAGE frames go out as plain frames (flags 0x00 / 0x02),
        # never as commands: libzmq 4.3.5 drops those (digest 2.2.6).
        if isinstance(msg, cmd.QueuedSubscription):
            body, command = self._subscription_frame(msg)
            boxed = self._mechanism.wrap_frame(body, more=False, command=command)
            return frame_header(len(boxed)) + boxed
        wrap = self._mechanism.wrap_frame
        last = len(msg) - 1
        parts: list[bytes] = []
        for i, frame in enumerate(msg):
            boxed = wrap(frame, more=i < last, command=False)
            parts += (frame_header(len(boxed)), boxed)
        return b"".join(parts)

    def _queue_command(self, body: bytes) -> None:
        if self._mechanism.wraps_frames:
            boxed = self._mechanism.wrap_frame(body, more=False, command=True)
            self._outbox += (frame_header(len(boxed)), boxed)
        else:
            self._outbox.append(encode_command(body))

    def send_ping(self, ttl: float, context: bytes = b"") -> None:
        """Queue a PING (heartbeat); ``ttl`` in seconds."""
        self._require_traffic()
        self._queue_command(cmd.ping_body(ttl, context))

    def _require_traffic(self) -> None:
        if self.stage is not Stage.TRAFFIC:
            raise LocalProtocolError(f"cannot send commands in stage {self.stage.value}")
