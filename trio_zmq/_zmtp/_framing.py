"""ZMTP 3.x frames: the decoder (bytes in, whole messages out) and the encoder.

Frame layout (RFC 37; digest 1.4): ``flags size body``; flags bit 0 MORE,
bit 1 LONG (8-byte size instead of 1), bit 2 COMMAND. Like libzmq we encode
LONG iff the body is over 255 bytes, and decode tolerantly: reserved bits
are ignored and a long size for a short body is accepted.

Performance notes (DESIGN section 4): ``feed`` parses every complete frame
of a chunk in one loop and returns them all; each small body is sliced out
of the chunk once. A frame that straddles two chunks is completed by joining
only its own bytes, so the cost is linear in the bytes received whatever the
chunking. A body of ``LARGE_BODY`` bytes or more that is not complete yet
switches the decoder to body mode: ``read_size_hint`` then asks for the rest
of the body (96 KiB at most per read), the pieces are kept as they arrive
(the first one as a view of its chunk, not a copy) and joined once at the
end, or handed out as they are, with no copy at all, when the body arrived
in one piece. A reader with a socket of its own reads the rest of a large
body straight into ``body_buffer`` instead, while the process has a segment
free: a view of a reused 1 MiB segment, so the body costs no allocation
until it is joined (see ``SEGMENT``). Outside body mode the
read size grows from 64 KiB to 256 KiB while reads come back full, and
shrinks back when they do not.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence

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
#: Receive size outside body mode: it starts at READ_SIZE and doubles up to
#: MAX_CHUNK_READ while reads come back full (a stream of data is waiting).
READ_SIZE = 64 * 1024
MAX_CHUNK_READ = 256 * 1024
#: The cap on one body-mode read. A read into a new ``bytes`` (a reader
#: without a socket of its own) allocates what it asks for, and this keeps it
#: under glibc's mmap threshold (128 KiB unless the program's frees raised
#: it): a larger request gets fresh pages from ``mmap``, faulted in one by one
#: as the kernel copies into them. With 256 KiB reads a 1 MiB receiver ran
#: that way in about one run of three. Reads into ``body_buffer`` allocate
#: nothing, but larger ones were slower all the same: with reads of the whole
#: rest of the body a 1 MiB stream ran at 2.0k-3.4k msg/s (median 2.3k)
#: against 2.3k-3.2k (median 2.8k) in 16 alternated rounds, its receiver
#: waiting for the socket two to three times as often.
MAX_READ_SIZE = 96 * 1024
#: ``body_buffer`` hands out views of segments of this size. The process
#: has at most ``MAX_SEGMENTS`` of them, in use or spare, shared by every
#: decoder: a body takes one when it needs it and gives it back when it is
#: joined (or its decoder is released). The joined body is then the only
#: allocation a large message costs, and memory freed per message stays under
#: glibc's trim threshold: with a fresh piece per read as well, a 1 MiB
#: receiver freed 2 MiB per message, glibc returned it to the kernel in about
#: one run of twelve and faulted it back in page by page (~460 minor faults
#: per message, a fifth of the usual rate). When none is free, ``body_buffer``
#: says so and the reader reads into new ``bytes`` as before: many
#: connections inside large bodies hold only what they have received, not a
#: segment each.
SEGMENT = 1024 * 1024
#: The most segments the process makes (the memory they hold at most, in use
#: or spare). One body of 4 MiB or more, or a few slow bodies, can hold them
#: all: the others then read into ``bytes`` (slower, never wrong).
MAX_SEGMENTS = 4
#: The free segments, and how many exist: the count alone bounds the list.
#: Threads running trio share them: ``pop`` and ``extend`` are atomic, and a
#: race on the count can only make a few more segments than ``MAX_SEGMENTS``,
#: never hand one segment to two bodies.
_spare_segments: list[bytearray] = []
_segments_made = 0


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
        "_body_segments",
        "_frames",
        "_handed_out",
        "_need",
        "_pending",
        "_pending_len",
        "_read_size",
        "_segment_view",
        "assemble",
        "command_count",
        "maxmsgsize",
    )

    def __init__(self, maxmsgsize: int | None = None, *, assemble: bool = True) -> None:
        self.maxmsgsize = maxmsgsize
        self.assemble = assemble
        self._pending: list[bytes | memoryview] = []
        self._pending_len = 0
        self._need = 2
        self._frames: list[bytes] = []  # the frames of a multipart message so far
        self._body_pieces: list[bytes | memoryview] = []
        self._body_remaining = 0
        self._body_flags = 0
        #: The segments that ``body_buffer`` took for the current body, and
        #: the view it handed out last (``body_received`` commits part of it).
        self._body_segments: list[bytearray] = []
        self._segment_view: memoryview | None = None
        self._handed_out = 0
        self._read_size = READ_SIZE
        #: Command frames decoded so far (lets callers skip a scan for them).
        self.command_count = 0

    @property
    def read_size_hint(self) -> int:
        """How many bytes the next read should ask for."""
        if self._body_remaining:
            return min(self._body_remaining, MAX_READ_SIZE)
        return self._read_size

    @property
    def body_remaining(self) -> int:
        """Bytes still to come of a large body being received (0 outside body mode)."""
        return self._body_remaining

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
        n = len(data)
        if not self._body_remaining:
            self._adapt_read_size(n)
        pos = 0
        while True:
            if self._body_remaining:
                pos = self._feed_body(data, pos, out)
                if self._body_remaining:
                    return out  # all of data went into the body
                if stop_after_command and out and type(out[-1]) is bytes:
                    self._keep(data, pos)
                    return out
            elif self._pending:
                # Complete the one frame that straddles the previous chunk and
                # this one, copying only its own bytes, never the whole chunk.
                missing = self._need - self._pending_len
                if n - pos < missing:
                    self._keep(data, pos)
                    return out
                if missing > 0:
                    self._pending.append(memoryview(data)[pos : pos + missing])
                    pos += missing
                pieces, self._pending, self._pending_len = self._pending, [], 0
                piece = b"".join(pieces)
                if self._parse(piece, 0, out, stop_after_command):
                    self._keep(data, pos)  # after the rest of piece, kept by _parse
                    return out
            elif pos < n:
                self._parse(data, pos, out, stop_after_command)
                return out
            else:
                return out

    def _parse(self, data: bytes, pos: int, out: list[DecodedItem], stop: bool) -> bool:
        """Parse every whole frame of ``data[pos:]``; keep the rest.

        Returns True if it stopped after a command because of ``stop``.
        """
        n = len(data)
        need = 2
        stopped = False
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
                    # Body mode: keep what we have as a view (no copy) and ask
                    # for exactly the rest of the body.
                    self._body_flags = flags
                    self._body_pieces = [memoryview(data)[start:]] if start < n else []
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
                if stop:
                    stopped = True
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
        self._keep(data, pos)
        return stopped

    def _keep(self, data: bytes, pos: int) -> None:
        """Keep ``data[pos:]`` (a view, not a copy) for the next call."""
        if pos < len(data):
            self._pending.append(memoryview(data)[pos:] if pos else data)
            self._pending_len += len(data) - pos

    def body_buffer(self) -> memoryview | None:
        """A writable view for the next bytes of the current large body, or None.

        Read into it (``os.readv``, ``recv_into``), then call
        ``body_received`` with the count. It is ``read_size_hint`` long, or
        shorter where its segment ends. None when every segment of the
        process is in use: read ``read_size_hint`` bytes and ``feed`` them.
        Only in body mode. A stream that ends inside the body must
        ``release`` the decoder, or its segment is lost to the process.
        """
        global _segments_made
        remaining = self._body_remaining
        if not remaining:
            raise ValueError("not inside a large body")
        view = self._segment_view
        if view is None:
            try:
                segment = _spare_segments.pop()
            except IndexError:
                if _segments_made >= MAX_SEGMENTS:
                    return None
                _segments_made += 1
                segment = bytearray(SEGMENT)
            self._body_segments.append(segment)
            self._segment_view = view = memoryview(segment)
        size = min(remaining, MAX_READ_SIZE)
        if len(view) > size:
            view = view[:size]
        self._handed_out = len(view)
        return view

    def body_received(self, count: int) -> list[DecodedItem]:
        """``count`` bytes were read into the last ``body_buffer``: take them.

        Returns what they complete, as ``feed`` does: the body's message (or
        command) when they are the last of it, else nothing.
        """
        view = self._segment_view
        if view is None or not 0 < count <= self._handed_out:
            raise ValueError("count must be 1 to the size of the last body_buffer, once")
        self._handed_out = 0
        self._body_pieces.append(view[:count])
        self._segment_view = view[count:] if count < len(view) else None
        self._body_remaining -= count
        out: list[DecodedItem] = []
        if not self._body_remaining:
            self._finish_body(out)
        return out

    def release(self) -> None:
        """The stream is over: drop what is unfinished and give back its segments.

        The decoder is left outside any body, so a late read (a receiver
        that was reading the socket as its connection ended) takes no
        segment; what it decodes must be ignored.
        """
        self._body_pieces = []
        self._body_remaining = 0
        self._frames = []
        self._pending = []
        self._pending_len = 0
        self._need = 2
        self._give_back_segments()

    def _give_back_segments(self) -> None:
        """The current body is joined or dropped: its segments are free again."""
        self._segment_view = None
        self._handed_out = 0
        _spare_segments.extend(self._body_segments)
        self._body_segments = []

    def __del__(self) -> None:
        # Dropped inside a body without ``release`` (a user of the sans-IO
        # API): its segments are gone, but the process may make new ones. Not
        # back to the spare list: a caller may still hold a view into them.
        global _segments_made
        if self._body_segments:
            _segments_made -= len(self._body_segments)

    def _feed_body(self, data: bytes, pos: int, out: list[DecodedItem]) -> int:
        """Body mode: take what belongs to the current body; return the new position."""
        take = min(len(data) - pos, self._body_remaining)
        if take:
            whole = pos == 0 and take == len(data)
            self._body_pieces.append(data if whole else memoryview(data)[pos : pos + take])
            self._body_remaining -= take
        if not self._body_remaining:
            self._finish_body(out)
        return pos + take

    def _finish_body(self, out: list[DecodedItem]) -> None:
        """The whole body is here: join it, give its segments back, emit it."""
        pieces, self._body_pieces = self._body_pieces, []
        # One piece that arrived whole is handed out as it is: no copy at all.
        first = pieces[0]
        body = first if len(pieces) == 1 and type(first) is bytes else b"".join(pieces)
        if self._body_segments:
            self._give_back_segments()
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

    def _adapt_read_size(self, received: int) -> None:
        """Read more at a time while reads come back full, less when they do not."""
        if received >= self._read_size:
            self._read_size = min(self._read_size * 2, MAX_CHUNK_READ)
        elif received < self._read_size // 4:
            self._read_size = max(self._read_size // 2, READ_SIZE)


def frame_header(size: int, flags: int = 0) -> bytes:
    """The header of a frame with ``size`` body bytes (LONG set iff size > 255)."""
    if size < 256:
        return bytes((flags, size))
    return bytes((flags | LONG,)) + size.to_bytes(8, "big")


def encode_command(body: bytes) -> bytes:
    """A whole command frame."""
    return frame_header(len(body), COMMAND) + body


def encode_messages(
    messages: Iterable[Sequence[bytes]],
    special: Callable[[Sequence[bytes]], bytes] | None = None,
) -> list[bytes]:
    """Encode whole messages as a list of buffers to write in order.

    Small frames are joined with their headers into as few buffers as
    possible; bodies of ``BIG_WRITE`` bytes or more are passed through as
    their own buffer so they are never copied. An item that is not a plain
    ``list`` (a queued subscription) is encoded by ``special``, in its place.
    """
    out: list[bytes] = []
    parts: list[bytes] = []
    append = parts.append
    for msg in messages:
        if type(msg) is not list and special is not None:
            append(special(msg))
            continue
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
