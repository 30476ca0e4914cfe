"""ZMTP 3.x frames: the decoder (bytes in, whole messages out) and the encoder.

Frame layout (RFC 37; digest 1.4): ``flags size body``; flags bit 0 MORE,
bit 1 LONG (8-byte size instead of 1), bit 2 COMMAND. Like libzmq we encode
LONG iff the body is over 255 bytes, and decode tolerantly: reserved bits
are ignored and a long size for a short body is accepted.

Performance notes (DESIGN section 4): ``feed`` parses every complete frame
of a chunk in one loop and returns them all; a partial frame is kept as a
list of pieces and joined once, when enough bytes have arrived, so the cost
is linear in the bytes received whatever the chunking. A body of
``LARGE_BODY`` bytes or more that is not complete yet switches the decoder
to body mode: ``read_size_hint`` then asks for exactly the rest of the body,
the pieces are kept as they arrive and joined once at the end (or handed out
as they are, with no copy at all, when the body arrived in one piece).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from ._errors import MessageTooLarge, ProtocolError

MORE = 0x01
LONG = 0x02
COMMAND = 0x04

#: Largest size a LONG frame may declare (RFC 37: 0..2^63-1).
MAX_FRAME_SIZE = 2**63 - 1
#: Bodies at least this large are received in body mode (see module docstring).
LARGE_BODY = 64 * 1024
#: Bodies at least this large are written as their own buffer, never joined.
BIG_WRITE = 64 * 1024
#: Receive size outside body mode, and the cap on one body-mode read.
READ_SIZE = 64 * 1024
MAX_READ_SIZE = 16 * 1024 * 1024

_unpack_size = struct.Struct(">Q").unpack_from
_SHORT_LAST = tuple(bytes((0, n)) for n in range(256))
_SHORT_MORE = tuple(bytes((MORE, n)) for n in range(256))

#: What the decoder returns: a whole message (``list[bytes]``), or the body
#: of a command frame (``bytes``).
DecodedItem = list[bytes] | bytes


class FrameDecoder:
    """Incremental ZMTP 3.x frame decoder.

    With ``assemble`` true (the default) it returns whole multipart messages
    as lists and command bodies as bytes. With ``assemble`` false it returns
    every frame's body as bytes, whatever its flags: mechanisms that box
    every frame (CURVE) take it from there.
    """

    __slots__ = (
        "_body_flags",
        "_body_pieces",
        "_body_remaining",
        "_frames",
        "_need",
        "_pending",
        "_pending_len",
        "assemble",
        "command_count",
        "maxmsgsize",
    )

    def __init__(self, maxmsgsize: int | None = None, *, assemble: bool = True) -> None:
        self.maxmsgsize = maxmsgsize
        self.assemble = assemble
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._need = 2
        self._frames: list[bytes] = []  # the frames of a multipart message so far
        self._body_pieces: list[bytes] = []
        self._body_remaining = 0
        self._body_flags = 0
        #: Command frames decoded so far (lets callers skip a scan for them).
        self.command_count = 0

    @property
    def read_size_hint(self) -> int:
        """How many bytes the next read should ask for."""
        if self._body_remaining:
            return min(self._body_remaining, MAX_READ_SIZE)
        return READ_SIZE

    @property
    def in_message(self) -> bool:
        """Whether frames of an unfinished multipart message have been decoded."""
        return bool(self._frames) or (self._body_remaining > 0 and not self._body_flags & COMMAND)

    @property
    def buffered(self) -> int:
        """Bytes held that do not form a whole frame yet."""
        return self._pending_len + sum(map(len, self._body_pieces))

    def feed(self, data: bytes, *, stop_after_command: bool = False) -> list[DecodedItem]:
        """Decode ``data``; returns every item completed by it, in order.

        With ``stop_after_command`` it returns right after the first command
        frame and keeps the rest of ``data`` for the next call (feed ``b""``
        to go on); the handshake uses this to switch modes between frames.
        Raises :class:`ProtocolError` (:class:`MessageTooLarge` for a frame
        over ``maxmsgsize``, before allocating anything for it).
        """
        out: list[DecodedItem] = []
        if self._body_remaining:
            data = self._feed_body(data, out)
            if not data or (stop_after_command and out and type(out[-1]) is bytes):
                self._keep(data)
                return out
        if self._pending:
            if data:
                self._pending.append(data)
                self._pending_len += len(data)
            if self._pending_len < self._need:
                return out
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending = []
            self._pending_len = 0
        n = len(data)
        pos = 0
        need = 2
        frames = self._frames
        maxsize = self.maxmsgsize
        assemble = self.assemble
        while n - pos >= 2:
            flags = data[pos]
            if flags & LONG:
                if n - pos < 9:
                    need = 9
                    break
                size = _unpack_size(data, pos + 1)[0]
                start = pos + 9
                if size > MAX_FRAME_SIZE:
                    raise ProtocolError(f"frame size {size} is out of range")
            else:
                size = data[pos + 1]
                start = pos + 2
            if maxsize is not None and size > maxsize:
                raise MessageTooLarge(f"frame of {size} bytes is over maxmsgsize ({maxsize})")
            end = start + size
            if end > n:
                if size >= LARGE_BODY:
                    self._body_flags = flags
                    self._body_pieces = [data[start:]] if start < n else []
                    self._body_remaining = end - n
                    pos = n
                else:
                    need = end - pos
                break
            body = data[start:end]
            pos = end
            if not assemble:
                out.append(body)
            elif flags & COMMAND:
                out.append(body)
                self.command_count += 1
                if stop_after_command:
                    break
            elif flags & MORE:
                frames.append(body)
            elif frames:
                frames.append(body)
                out.append(frames)
                frames = []
            else:
                out.append([body])
        self._frames = frames
        self._need = need
        if pos < n:
            self._keep(data[pos:] if pos else data)
        return out

    def _keep(self, rest: bytes) -> None:
        if rest:
            self._pending.append(rest)
            self._pending_len += len(rest)

    def _feed_body(self, data: bytes, out: list[DecodedItem]) -> bytes:
        """Body mode: take what belongs to the current body; return the rest."""
        take = min(len(data), self._body_remaining)
        if take:
            self._body_pieces.append(data if take == len(data) else data[:take])
            self._body_remaining -= take
        if self._body_remaining:
            return b""
        pieces, self._body_pieces = self._body_pieces, []
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        flags = self._body_flags
        if not self.assemble:
            out.append(body)
        elif flags & COMMAND:
            out.append(body)
            self.command_count += 1
        elif flags & MORE:
            self._frames.append(body)
        else:
            self._frames.append(body)
            out.append(self._frames)
            self._frames = []
        return data[take:] if take < len(data) else b""


def frame_header(size: int, flags: int = 0) -> bytes:
    """The header of a frame with ``size`` body bytes (LONG set iff size > 255)."""
    if size < 256:
        return bytes((flags, size))
    return bytes((flags | LONG,)) + size.to_bytes(8, "big")


def encode_command(body: bytes) -> bytes:
    """A whole command frame."""
    return frame_header(len(body), COMMAND) + body


def encode_messages(messages: Iterable[Sequence[bytes]]) -> list[bytes]:
    """Encode whole messages as a list of buffers to write in order.

    Small frames are joined with their headers into as few buffers as
    possible; bodies of ``BIG_WRITE`` bytes or more are passed through as
    their own buffer so they are never copied.
    """
    out: list[bytes] = []
    parts: list[bytes] = []
    append = parts.append
    for msg in messages:
        last = len(msg) - 1
        for i, frame in enumerate(msg):
            size = len(frame)
            if size < 256:
                append(_SHORT_MORE[size] if i < last else _SHORT_LAST[size])
                append(frame)
                continue
            append((b"\x03" if i < last else b"\x02") + size.to_bytes(8, "big"))
            if size >= BIG_WRITE:
                out.append(b"".join(parts))
                parts.clear()
                out.append(frame)
            else:
                append(frame)
    if parts:
        out.append(b"".join(parts))
    return out
