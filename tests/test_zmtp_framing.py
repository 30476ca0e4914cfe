"""The sans-IO frame codec: FrameDecoder, encode_messages, frame_header, encode_command.

Synchronous and Hypothesis-based (DESIGN section 5). Byte layouts and libzmq's
decoding tolerance come from zmtp-digest section 1.4.
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Sequence

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from trio_zmq._zmtp import MessageTooLarge, ProtocolError
from trio_zmq._zmtp._framing import (
    BIG_WRITE,
    LARGE_BODY,
    MAX_READ_SIZE,
    DecodedItem,
    FrameDecoder,
    encode_command,
    encode_messages,
    frame_header,
)

# --- strategies ---------------------------------------------------------------

#: Sizes around every boundary of the codec: the 1-byte size, LONG, body mode.
SPECIAL_SIZES = [0, 1, 2, 254, 255, 256, 257, 65535, 65536, 65537, 70000]


def _fill(size: int, pattern: bytes) -> bytes:
    return (pattern * (size // len(pattern) + 1))[:size]


frame_bodies = st.one_of(
    st.binary(max_size=16),
    st.binary(min_size=250, max_size=262),
    st.builds(_fill, st.sampled_from(SPECIAL_SIZES), st.binary(min_size=1, max_size=5)),
)
small_frame_bodies = st.one_of(
    st.binary(max_size=8),
    st.builds(_fill, st.sampled_from([254, 255, 256, 257]), st.binary(min_size=1, max_size=3)),
)
messages = st.lists(frame_bodies, min_size=1, max_size=4)
small_messages = st.lists(small_frame_bodies, min_size=1, max_size=3)

#: A stream item: ("msg", frames) or ("cmd", command body).
Item = tuple[str, list[bytes]] | tuple[str, bytes]
items = st.one_of(
    messages.map(lambda m: ("msg", m)),
    frame_bodies.map(lambda b: ("cmd", b)),
)


def encode_items(stream_items: Sequence[tuple[str, object]]) -> bytes:
    out: list[bytes] = []
    for kind, value in stream_items:
        if kind == "msg":
            assert isinstance(value, list)
            out += encode_messages([value])
        else:
            assert isinstance(value, bytes)
            out.append(encode_command(value))
    return b"".join(out)


def expected_items(stream_items: Sequence[tuple[str, object]]) -> list[object]:
    return [value for _, value in stream_items]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def feed_all(decoder: FrameDecoder, chunks: Sequence[bytes]) -> list[DecodedItem]:
    out: list[DecodedItem] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out


def check_types(decoded: list[DecodedItem]) -> None:
    for item in decoded:
        if type(item) is list:
            assert all(type(frame) is bytes for frame in item)
        else:
            assert type(item) is bytes


# --- round trips under any chunking ---------------------------------------------


@given(st.lists(messages, max_size=5), st.data())
def test_messages_survive_any_chunking(msgs: list[list[bytes]], data: st.DataObject) -> None:
    stream = b"".join(encode_messages(msgs))
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=40))
    decoder = FrameDecoder()
    decoded = feed_all(decoder, split(stream, cuts))
    assert decoded == msgs
    check_types(decoded)
    assert decoder.buffered == 0


@given(st.lists(small_messages, max_size=4))
def test_small_messages_survive_byte_by_byte(msgs: list[list[bytes]]) -> None:
    stream = b"".join(encode_messages(msgs))
    decoder = FrameDecoder()
    decoded = feed_all(decoder, [stream[i : i + 1] for i in range(len(stream))])
    assert decoded == msgs
    assert decoder.buffered == 0


@given(st.lists(messages, max_size=5), st.data())
def test_messages_survive_reads_that_follow_the_hint(
    msgs: list[list[bytes]], data: st.DataObject
) -> None:
    # What the I/O layer does: receive_some(read_size_hint), which may return less.
    stream = b"".join(encode_messages(msgs))
    decoder = FrameDecoder()
    decoded: list[DecodedItem] = []
    pos = 0
    while pos < len(stream):
        hint = decoder.read_size_hint
        assert hint > 0
        shrink = data.draw(st.sampled_from([1, 1, 1, 2, 7]))
        take = max(1, min(hint, len(stream) - pos) // shrink)
        decoded += decoder.feed(stream[pos : pos + take])
        pos += take
    assert decoded == msgs
    assert decoder.buffered == 0


@given(st.lists(items, max_size=6), st.data())
def test_commands_interleaved_with_messages_keep_their_order(
    stream_items: list[Item], data: st.DataObject
) -> None:
    stream = encode_items(stream_items)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    decoder = FrameDecoder()
    decoded = feed_all(decoder, split(stream, cuts))
    assert decoded == expected_items(stream_items)
    check_types(decoded)
    # commands come out as bytes, messages as lists, in order
    assert [type(d) for d in decoded] == [
        bytes if kind == "cmd" else list for kind, _ in stream_items
    ]
    assert decoder.command_count == sum(kind == "cmd" for kind, _ in stream_items)


@given(st.lists(items, max_size=6), st.data())
def test_stop_after_command_under_any_chunking(
    stream_items: list[Item], data: st.DataObject
) -> None:
    # The handshake's loop: after each command, feed b"" to go on.
    stream = encode_items(stream_items)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=20))
    decoder = FrameDecoder()
    decoded: list[DecodedItem] = []
    for chunk in split(stream, cuts):
        got = decoder.feed(chunk, stop_after_command=True)
        while True:
            # at most one command per call, and only as the last item
            assert all(type(x) is list for x in got[:-1])
            decoded += got
            if not got or type(got[-1]) is not bytes:
                break
            got = decoder.feed(b"", stop_after_command=True)
    assert decoded == expected_items(stream_items)
    assert decoder.buffered == 0


@given(st.lists(st.lists(st.binary(max_size=300), min_size=1, max_size=3), max_size=5))
def test_assemble_false_returns_every_frame_body(msgs: list[list[bytes]]) -> None:
    stream = b"".join(encode_messages(msgs)) + encode_command(b"\x04PING\x00\x00")
    decoder = FrameDecoder(assemble=False)
    decoded = feed_all(decoder, [stream[i : i + 7] for i in range(0, len(stream), 7)])
    assert decoded == [frame for msg in msgs for frame in msg] + [b"\x04PING\x00\x00"]


# --- golden vectors (digest 1.4) -------------------------------------------------


def test_frame_header_golden() -> None:
    assert frame_header(0) == b"\x00\x00"
    assert frame_header(1) == b"\x00\x01"
    assert frame_header(255) == b"\x00\xff"
    assert frame_header(256) == bytes.fromhex("02 0000000000000100")
    assert frame_header(65536) == bytes.fromhex("02 0000000000010000")
    assert frame_header(255, 0x01) == b"\x01\xff"
    assert frame_header(256, 0x01) == bytes.fromhex("03 0000000000000100")
    assert frame_header(7, 0x04) == b"\x04\x07"
    assert frame_header(300, 0x04) == bytes.fromhex("06 000000000000012c")
    assert frame_header(2**63 - 1) == bytes.fromhex("02 7fffffffffffffff")


def test_encode_messages_golden() -> None:
    assert encode_messages([[b""]]) == [b"\x00\x00"]
    assert encode_messages([[b"A"]]) == [b"\x00\x01A"]
    assert encode_messages([[b"a", b"b"]]) == [b"\x01\x01a\x00\x01b"]
    assert encode_messages([[b"a"], [b"", b"c"]]) == [b"\x00\x01a\x01\x00\x00\x01c"]
    body255 = b"x" * 255
    assert b"".join(encode_messages([[body255]])) == b"\x00\xff" + body255
    body256 = b"y" * 256
    assert b"".join(encode_messages([[body256]])) == bytes.fromhex("02 0000000000000100") + body256
    assert (
        b"".join(encode_messages([[body256, body255]]))
        == bytes.fromhex("03 0000000000000100") + body256 + b"\x00\xff" + body255
    )
    assert b"".join(encode_messages([])) == b""


def test_encode_command_golden() -> None:
    assert encode_command(b"\x04PING\x00\x0f") == bytes.fromhex("04 07 04 50494e47 000f")
    assert encode_command(b"\x05READY") == b"\x04\x06\x05READY"
    body = b"\x05READY" + b"z" * 250  # 256 bytes: long command
    assert encode_command(body) == bytes.fromhex("06 0000000000000100") + body
    assert encode_command(b"\x05READY" + b"z" * 249)[:2] == b"\x04\xff"


def test_big_frames_are_written_without_copying() -> None:
    big = b"B" * BIG_WRITE
    out = encode_messages([[b"head", big, b"tail"]])
    assert out[1] is big
    assert b"".join(out) == (
        b"\x01\x04head" + bytes.fromhex("03") + BIG_WRITE.to_bytes(8, "big") + big + b"\x00\x04tail"
    )
    assert not any(big in buf for buf in (out[0], out[2]))


@given(st.lists(messages, max_size=4))
def test_encoder_sets_long_iff_size_over_255(msgs: list[list[bytes]]) -> None:
    stream = b"".join(encode_messages(msgs))
    pos = 0
    for msg in msgs:
        for i, frame in enumerate(msg):
            flags = stream[pos]
            more = i < len(msg) - 1
            if len(frame) > 255:
                assert flags == (0x03 if more else 0x02)
                assert int.from_bytes(stream[pos + 1 : pos + 9], "big") == len(frame)
                pos += 9
            else:
                assert flags == (0x01 if more else 0x00)
                assert stream[pos + 1] == len(frame)
                pos += 2
            assert stream[pos : pos + len(frame)] == frame
            pos += len(frame)
    assert pos == len(stream)


def test_decoder_golden_flags() -> None:
    decoder = FrameDecoder()
    stream = bytes.fromhex("01 01 61 03 0000000000000001 62 00 00") + bytes.fromhex(
        "04 02 01 5a 06 0000000000000003 02 41 42 02 0000000000000000"
    )
    assert decoder.feed(stream) == [[b"a", b"b", b""], b"\x01Z", b"\x02AB", [b""]]


@given(
    st.lists(
        st.tuples(
            st.sampled_from([0x00, 0x01, 0x02, 0x03, 0x04, 0x06]),
            st.integers(0, 31).map(lambda r: r << 3),
            st.binary(max_size=20),
        ),
        max_size=6,
    )
)
def test_decoder_ignores_reserved_flag_bits(frames: list[tuple[int, int, bytes]]) -> None:
    # libzmq does not validate bits 3-7 (digest 1.4); a LONG size for a small
    # body is accepted too.
    plain = b""
    noisy = b""
    for flags, reserved, body in frames:
        size = (
            len(body).to_bytes(8, "big") if flags & 0x02 else bytes((len(body),))
        )  # LONG may be used for a small body
        plain += bytes((flags,)) + size + body
        noisy += bytes((flags | reserved,)) + size + body
    assert FrameDecoder().feed(noisy) == FrameDecoder().feed(plain)


def test_decoder_accepts_long_size_for_small_body() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(bytes.fromhex("02 0000000000000003") + b"abc") == [[b"abc"]]
    assert decoder.feed(bytes.fromhex("06 0000000000000005") + b"\x04PING") == [b"\x04PING"]
    assert decoder.feed(bytes.fromhex("fa 0000000000000001") + b"r") == [[b"r"]]


def test_decoder_returns_nothing_for_a_partial_frame() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x00") == []
    assert decoder.feed(b"\x05ab") == []
    assert decoder.buffered == 4
    assert decoder.feed(b"cde\x01") == [[b"abcde"]]
    assert decoder.buffered == 1


# --- random bytes only ever raise ProtocolError ----------------------------------


def _overwrite(stream: bytes, patches: list[tuple[int, int]]) -> bytes:
    buf = bytearray(stream[:2000])
    for pos, value in patches:
        if buf:
            buf[pos % len(buf)] = value
    return bytes(buf)


garbage = st.one_of(
    st.binary(max_size=200),
    # mostly-valid streams with a few bytes overwritten
    st.builds(
        _overwrite,
        st.lists(items, max_size=3).map(encode_items),
        st.lists(st.tuples(st.integers(0, 2**16), st.integers(0, 255)), max_size=4),
    ),
)


@given(
    garbage,
    st.lists(st.integers(0, 2000), max_size=10),
    st.one_of(st.none(), st.integers(0, 2**20)),
    st.booleans(),
)
@example(bytes.fromhex("02 ffffffffffffffff"), [], None, False)
@example(bytes.fromhex("06 8000000000000000 00"), [3], None, True)
def test_random_bytes_only_raise_protocol_error(
    data_bytes: bytes, cuts: list[int], maxmsgsize: int | None, stop: bool
) -> None:
    decoder = FrameDecoder(maxmsgsize)
    try:
        for chunk in split(data_bytes, cuts):
            got = decoder.feed(chunk, stop_after_command=stop)
            check_types(got)
            while stop and got and type(got[-1]) is bytes:
                got = decoder.feed(b"", stop_after_command=True)
                check_types(got)
    except ProtocolError:
        pass


# --- size limits trip before memory is allocated --------------------------------


def _peak_while(fn: object) -> int:
    assert callable(fn)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("declared", [2**30, 2**62, 2**63 - 1])
def test_maxmsgsize_trips_on_the_header_before_allocating(declared: int) -> None:
    header = bytes.fromhex("02") + declared.to_bytes(8, "big")
    decoder = FrameDecoder(maxmsgsize=1024)
    # the first 8 header bytes are not enough to know the size
    for i in range(8):
        assert decoder.feed(header[i : i + 1]) == []

    def last_byte() -> None:
        with pytest.raises(MessageTooLarge):
            decoder.feed(header[8:])

    assert _peak_while(last_byte) < 64 * 1024


def test_maxmsgsize_trips_in_one_feed_without_body() -> None:
    declared = 2**30

    def feed() -> None:
        with pytest.raises(MessageTooLarge):
            FrameDecoder(maxmsgsize=10).feed(b"\x03" + declared.to_bytes(8, "big") + b"xy")

    assert _peak_while(feed) < 64 * 1024


def test_maxmsgsize_boundary_short_long_and_command() -> None:
    assert FrameDecoder(maxmsgsize=5).feed(b"\x00\x05abcde") == [[b"abcde"]]
    with pytest.raises(MessageTooLarge):
        FrameDecoder(maxmsgsize=5).feed(b"\x00\x06")  # header only, no body byte
    with pytest.raises(MessageTooLarge):
        FrameDecoder(maxmsgsize=5).feed(b"\x01\x06")
    assert FrameDecoder(maxmsgsize=300).feed(frame_header(300) + b"q" * 300) == [[b"q" * 300]]
    with pytest.raises(MessageTooLarge):
        FrameDecoder(maxmsgsize=300).feed(frame_header(301))
    # libzmq checks the limit on every frame, commands included (digest 1.4)
    with pytest.raises(MessageTooLarge):
        FrameDecoder(maxmsgsize=5).feed(b"\x04\x06")
    # MessageTooLarge is a ProtocolError
    assert issubclass(MessageTooLarge, ProtocolError)


@given(st.integers(0, 2**20), st.integers(0, 2**21))
def test_maxmsgsize_property(limit: int, size: int) -> None:
    decoder = FrameDecoder(maxmsgsize=limit)
    header = frame_header(size, 0x01)
    if size > limit:
        with pytest.raises(MessageTooLarge):
            decoder.feed(header)
    else:
        assert decoder.feed(header) == []


def test_huge_declared_size_without_limit_does_not_allocate_it() -> None:
    declared = 2**62
    decoder = FrameDecoder()

    def feed() -> None:
        assert decoder.feed(b"\x02" + declared.to_bytes(8, "big") + b"abc") == []
        assert decoder.feed(b"defg") == []

    assert _peak_while(feed) < 64 * 1024
    assert decoder.buffered == 7
    assert 0 < decoder.read_size_hint <= MAX_READ_SIZE


@pytest.mark.parametrize("size", [2**63, 2**63 + 1, 2**64 - 1])
def test_size_over_2_63_is_a_protocol_error(size: int) -> None:
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(b"\x02" + size.to_bytes(8, "big"))
    with pytest.raises(ProtocolError):
        FrameDecoder(maxmsgsize=2**64).feed(b"\x06" + size.to_bytes(8, "big"))


def test_size_2_63_minus_1_is_accepted() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x02" + (2**63 - 1).to_bytes(8, "big") + b"x") == []
    assert decoder.buffered == 1


# --- body mode ------------------------------------------------------------------


def test_large_body_in_one_piece_is_not_copied() -> None:
    size = MAX_READ_SIZE
    body = bytes(range(256)) * (size // 256)
    decoder = FrameDecoder()
    assert decoder.feed(frame_header(size)) == []
    assert decoder.read_size_hint == size
    out = decoder.feed(body)
    assert out == [[body]]
    assert out[0][0] is body
    assert decoder.buffered == 0
    assert decoder.read_size_hint > 0


def test_large_command_body_in_one_piece_is_not_copied() -> None:
    body = b"\x04BLOB" + b"c" * LARGE_BODY
    decoder = FrameDecoder()
    assert decoder.feed(encode_command(body)[:9]) == []
    out = decoder.feed(body)
    assert out == [body]
    assert out[0] is body


def test_body_mode_hint_asks_for_exactly_the_rest() -> None:
    size = MAX_READ_SIZE + 1000
    decoder = FrameDecoder()
    assert decoder.feed(frame_header(size, 0x01) + b"x" * 100) == []
    assert decoder.read_size_hint == MAX_READ_SIZE  # the rest, capped
    assert decoder.feed(b"x" * 1000) == []
    assert decoder.read_size_hint == size - 1100
    assert decoder.buffered == 1100
    # the rest of the body, then the next (last) frame in the same chunk
    out = decoder.feed(b"x" * (size - 1100) + b"\x00\x02ok")
    assert out == [[b"x" * size, b"ok"]]
    assert decoder.buffered == 0


def test_body_mode_hint_is_capped() -> None:
    decoder = FrameDecoder()
    decoder.feed(frame_header(10 * MAX_READ_SIZE))
    assert decoder.read_size_hint == MAX_READ_SIZE


def test_body_mode_is_linear_in_small_chunks() -> None:
    # 4 MiB in 100-byte chunks is 42k feeds: a join per feed would copy ~88 GB.
    # Linear means each piece is kept as it came, and joined once at the end.
    size = 4 * 1024 * 1024
    stream = frame_header(size) + b"\xab" * size + b"\x00\x00"
    decoder = FrameDecoder()
    out: list[DecodedItem] = []
    chunks = [stream[pos : pos + 100] for pos in range(0, len(stream), 100)]
    out += decoder.feed(chunks[0])
    for i, chunk in enumerate(chunks[1:-1], start=2):
        out += decoder.feed(chunk)
        if not out:
            assert len(decoder._body_pieces) == i  # no re-joining while waiting
    out += decoder.feed(chunks[-1])
    assert len(out) == 2
    assert out[0] == [b"\xab" * size]
    assert out[1] == [b""]


def test_pending_mode_is_linear_in_small_chunks() -> None:
    # A frame just below LARGE_BODY is assembled from pending pieces, joined once:
    # while it is incomplete, every feed adds one piece and re-joins nothing.
    frame = b"\x07" * (LARGE_BODY - 1)
    stream = b"".join(encode_messages([[frame], [b"next"]]))
    decoder = FrameDecoder()
    chunks = [stream[pos : pos + 16] for pos in range(0, len(stream), 16)]
    out: list[DecodedItem] = []
    pieces_before = 0
    for chunk in chunks:
        out += decoder.feed(chunk)
        if not out:
            assert len(decoder._pending) == pieces_before + 1
            pieces_before = len(decoder._pending)
    assert out == [[frame], [b"next"]]


# --- stop_after_command -----------------------------------------------------------


def test_stop_after_command_returns_right_after_a_command() -> None:
    cmd1 = encode_command(b"\x05READY")
    msg = b"".join(encode_messages([[b"m1", b"m2"]]))
    cmd2 = encode_command(b"\x04PING\x00\x00")
    msg2 = b"".join(encode_messages([[b"last"]]))
    decoder = FrameDecoder()
    assert decoder.feed(cmd1 + msg + cmd2 + msg2, stop_after_command=True) == [b"\x05READY"]
    assert decoder.buffered == len(msg + cmd2 + msg2)
    assert decoder.command_count == 1
    assert decoder.feed(b"", stop_after_command=True) == [[b"m1", b"m2"], b"\x04PING\x00\x00"]
    assert decoder.feed(b"", stop_after_command=True) == [[b"last"]]
    assert decoder.feed(b"") == []
    assert decoder.buffered == 0


def test_stop_after_command_in_body_mode() -> None:
    body = b"\x05HELLO" + b"h" * LARGE_BODY
    frame = encode_command(body)
    rest = b"".join(encode_messages([[b"after"]]))
    decoder = FrameDecoder()
    assert decoder.feed(frame[:20], stop_after_command=True) == []
    assert decoder.feed(frame[20:] + rest, stop_after_command=True) == [body]
    assert decoder.buffered == len(rest)
    assert decoder.feed(b"") == [[b"after"]]


def test_without_stop_all_items_come_out() -> None:
    stream = encode_command(b"\x01A") + encode_command(b"\x01B") + b"\x00\x01c"
    assert FrameDecoder().feed(stream) == [b"\x01A", b"\x01B", [b"c"]]


def test_body_mode_reads_stay_under_the_allocators_mmap_threshold() -> None:
    """A 1 MiB body is read in pieces glibc serves from its heap (< 128 KiB).

    Larger requests get fresh ``mmap`` pages, faulted in as the kernel
    copies into them: a 1 MiB receiver then ran at a third of its speed.
    """
    decoder = FrameDecoder()
    assert decoder.feed(frame_header(1024 * 1024)) == []
    assert decoder.read_size_hint + 64 < 128 * 1024  # (with a bytes object's header)
