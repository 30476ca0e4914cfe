"""The sans-IO Connection: greeting, NULL handshake, traffic commands, the mechanism seam.

Golden bytes come from zmtp-digest sections 1.2, 1.6.2, 1.7, 1.10.1 and 1.11
(what libzmq 4.3.5 was seen to send and accept).
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Sequence

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from trio_zmq._zmtp import (
    COMPATIBLE,
    Cancel,
    Connection,
    Event,
    HandshakeComplete,
    HandshakeRejected,
    IncompatibleSocketType,
    LocalProtocolError,
    Mechanism,
    MechanismMismatch,
    Ping,
    Pong,
    ProtocolError,
    QueuedSubscription,
    SocketType,
    Stage,
    Subscribe,
    UnsupportedVersion,
    _framing,
)
from trio_zmq._zmtp import _commands as cmd
from trio_zmq._zmtp._framing import (
    MAX_READ_SIZE,
    encode_command,
    encode_messages,
    frame_header,
)

# --- wire helpers -----------------------------------------------------------------

GREETING = b"\xff" + bytes(8) + b"\x7f\x03\x01" + b"NULL" + bytes(16) + b"\x00" + bytes(31)
SENDS_IDENTITY = {SocketType.REQ, SocketType.DEALER, SocketType.ROUTER}


def greeting(
    *,
    major: int = 3,
    minor: int = 1,
    mechanism: bytes = b"NULL",
    padding: bytes = bytes(8),
    signature_end: int = 0x7F,
    as_server: int = 0,
    filler: bytes = bytes(31),
) -> bytes:
    return (
        b"\xff"
        + padding
        + bytes((signature_end, major, minor))
        + mechanism.ljust(20, b"\x00")
        + bytes((as_server,))
        + filler
    )


def prop(name: bytes, value: bytes) -> bytes:
    return bytes((len(name),)) + name + len(value).to_bytes(4, "big") + value


def ready(*props: tuple[bytes, bytes]) -> bytes:
    return encode_command(b"\x05READY" + b"".join(prop(n, v) for n, v in props))


def ready_for(socket_type: SocketType, routing_id: bytes = b"") -> bytes:
    props = [(b"Socket-Type", socket_type.name.encode())]
    if socket_type in SENDS_IDENTITY:
        props.append((b"Identity", routing_id))
    return ready(*props)


def wire(*msgs: Sequence[bytes]) -> bytes:
    return b"".join(encode_messages(msgs))


def established(
    socket_type: SocketType = SocketType.DEALER,
    peer_type: SocketType = SocketType.ROUTER,
    *,
    routing_id: bytes = b"",
    **kwargs: object,
) -> Connection:
    """A Connection past the handshake with a scripted peer; its outbox drained."""
    conn = Connection(socket_type, routing_id=routing_id, **kwargs)  # type: ignore[arg-type]
    events = conn.receive_data(GREETING + ready_for(peer_type))
    assert [type(e) for e in events] == [HandshakeComplete]
    assert conn.stage is Stage.TRAFFIC
    conn.data_to_send()
    return conn


def pump(a: Connection, b: Connection, chunk: int | None = None) -> tuple[list[Event], list[Event]]:
    """Move bytes both ways until both are quiet; return each side's events."""
    got_a: list[Event] = []
    got_b: list[Event] = []
    while a.has_data_to_send() or b.has_data_to_send():
        for src, dst, sink in ((a, b, got_b), (b, a, got_a)):
            data = src.data_to_send()
            step = chunk or max(1, len(data))
            for i in range(0, len(data), step):
                sink.extend(dst.receive_data(data[i : i + step]))
    return got_a, got_b


def feed_bytewise(conn: Connection, data: bytes) -> list[Event]:
    out: list[Event] = []
    for i in range(len(data)):
        out += conn.receive_data(data[i : i + 1])
    return out


# --- our greeting and READY ----------------------------------------------------------


def test_greeting_golden_and_sent_at_once() -> None:
    assert len(GREETING) == 64
    golden = bytes.fromhex("ff 0000000000000000 7f 03 01 4e554c4c" + "00" * 16 + "00" + "00" * 31)
    assert golden == GREETING
    for socket_type in SocketType:
        conn = Connection(socket_type, routing_id=b"AB")
        assert conn.stage is Stage.GREETING
        assert conn.has_data_to_send()
        assert conn.data_to_send() == GREETING
        assert not conn.has_data_to_send()
        assert conn.data_to_send() == b""


def test_ready_is_sent_only_after_the_peer_greeting() -> None:
    conn = Connection(SocketType.PUSH)
    conn.data_to_send()
    assert feed_bytewise(conn, GREETING[:63]) == []
    assert not conn.has_data_to_send()
    assert conn.stage is Stage.GREETING
    assert conn.receive_data(GREETING[63:]) == []
    assert conn.stage.value == "handshake"
    assert conn.data_to_send() == ready((b"Socket-Type", b"PUSH"))


def test_ready_golden_dealer_with_identity() -> None:
    conn = Connection(SocketType.DEALER, routing_id=b"AB")
    conn.data_to_send()
    conn.receive_data(GREETING)
    assert conn.data_to_send() == bytes.fromhex(
        "04 2b 05 5245414459"
        "0b 536f636b65742d54797065 00000006 4445414c4552"
        "08 4964656e74697479 00000002 4142"
    )


def test_ready_golden_sub() -> None:
    conn = Connection(SocketType.SUB)
    conn.data_to_send()
    conn.receive_data(GREETING)
    assert conn.data_to_send() == bytes.fromhex(
        "04 19 05 5245414459 0b 536f636b65742d54797065 00000003 535542"
    )


@pytest.mark.parametrize("socket_type", list(SocketType))
def test_ready_identity_only_from_req_dealer_router(socket_type: SocketType) -> None:
    for routing_id in (b"", b"id\x00\xff"):
        conn = Connection(socket_type, routing_id=routing_id)
        conn.data_to_send()
        conn.receive_data(GREETING)
        name = socket_type.name.encode()
        props = prop(b"Socket-Type", name)
        if socket_type in {SocketType.REQ, SocketType.DEALER, SocketType.ROUTER}:
            # always sent, even when empty (digest 1.6.2)
            props += prop(b"Identity", routing_id)
        assert conn.data_to_send() == encode_command(b"\x05READY" + props)


def test_ready_extra_properties_sorted_after_identity() -> None:
    conn = Connection(SocketType.ROUTER, routing_id=b"r", properties=[("X-b", b"2"), ("X-a", b"1")])
    conn.data_to_send()
    conn.receive_data(GREETING)
    assert conn.data_to_send() == ready(
        (b"Socket-Type", b"ROUTER"), (b"Identity", b"r"), (b"X-a", b"1"), (b"X-b", b"2")
    )


# --- two Connections talking -------------------------------------------------------------

COMPATIBLE_PAIRS = sorted((a, b) for a, peers in COMPATIBLE.items() for b in peers)
INCOMPATIBLE_PAIRS = sorted(
    (a, b) for a in SocketType for b in SocketType if b not in COMPATIBLE[a]
)


def test_compatible_table_is_symmetric_and_matches_rfc() -> None:
    for a, b in COMPATIBLE_PAIRS:
        assert a in COMPATIBLE[b]
    s = SocketType
    assert COMPATIBLE[s.REQ] == {s.REP, s.ROUTER}
    assert COMPATIBLE[s.DEALER] == {s.REP, s.DEALER, s.ROUTER}
    assert COMPATIBLE[s.PUB] == COMPATIBLE[s.XPUB] == {s.SUB, s.XSUB}
    assert COMPATIBLE[s.PUSH] == {s.PULL}
    assert COMPATIBLE[s.PAIR] == {s.PAIR}
    assert COMPATIBLE[s.STREAM] == set()


routing_ids = st.binary(max_size=255)
chunkings = st.sampled_from([None, 1, 3, 64, 70])
traffic = st.lists(st.lists(st.binary(max_size=300), min_size=1, max_size=3), max_size=4)


def check_handshake(
    event: Event, peer_type: SocketType, peer_id: bytes, version: tuple[int, int] = (3, 1)
) -> None:
    assert isinstance(event, HandshakeComplete)
    assert event.peer_version == version
    assert event.peer_socket_type is peer_type
    assert event.peer_routing_id == (peer_id if peer_type in SENDS_IDENTITY else b"")
    assert cmd.get_property(event.peer_properties, "Socket-Type") == peer_type.name.encode()


@given(
    st.sampled_from(COMPATIBLE_PAIRS),
    routing_ids,
    routing_ids,
    chunkings,
    traffic,
    traffic,
)
@example((SocketType.DEALER, SocketType.ROUTER), b"AB", b"", 1, [[b"x"]], [[b"y", b""]])
def test_handshake_and_traffic_between_two_connections(
    pair: tuple[SocketType, SocketType],
    id_a: bytes,
    id_b: bytes,
    chunk: int | None,
    msgs_a: list[list[bytes]],
    msgs_b: list[list[bytes]],
) -> None:
    type_a, type_b = pair
    a = Connection(type_a, routing_id=id_a)
    b = Connection(type_b, routing_id=id_b)
    got_a, got_b = pump(a, b, chunk)
    assert len(got_a) == len(got_b) == 1
    check_handshake(got_a[0], type_b, id_b)
    check_handshake(got_b[0], type_a, id_a)
    assert a.handshake == got_a[0]
    assert b.handshake == got_b[0]
    assert a.stage is b.stage is Stage.TRAFFIC
    assert a.peer_version == b.peer_version == (3, 1)
    # messages flow both ways
    for src, dst, msgs in ((a, b, msgs_a), (b, a, msgs_b)):
        data = b"".join(src.encode_messages(msgs))
        step = chunk or max(1, len(data))
        got: list[Event] = []
        for i in range(0, len(data), step):
            got += dst.receive_data(data[i : i + step])
        assert got == msgs


@pytest.mark.parametrize("pair", [*INCOMPATIBLE_PAIRS[::7], (SocketType.PUSH, SocketType.PUSH)])
def test_two_incompatible_connections_fail(pair: tuple[SocketType, SocketType]) -> None:
    a = Connection(pair[0])
    b = Connection(pair[1])
    b.receive_data(a.data_to_send())
    with pytest.raises(IncompatibleSocketType):
        a.receive_data(b.data_to_send())
    assert a.stage is Stage.BROKEN


def test_socket_type_check_for_every_pair() -> None:
    for local, peer in itertools.product(SocketType, SocketType):
        conn = Connection(local)
        data = GREETING + ready((b"Socket-Type", peer.name.encode()))
        if peer in COMPATIBLE[local]:
            (event,) = conn.receive_data(data)
            assert isinstance(event, HandshakeComplete)
            assert event.peer_socket_type is peer
        else:
            with pytest.raises(IncompatibleSocketType):
                conn.receive_data(data)
            assert conn.stage is Stage.BROKEN


def test_unknown_or_miscased_socket_type_value_is_incompatible() -> None:
    for value in (b"FOO", b"pull", b"", b"PULL\x00"):
        with pytest.raises(IncompatibleSocketType):
            Connection(SocketType.PUSH).receive_data(GREETING + ready((b"Socket-Type", value)))


def test_missing_socket_type_is_accepted() -> None:
    conn = Connection(SocketType.PUSH)
    (event,) = conn.receive_data(GREETING + ready())
    assert isinstance(event, HandshakeComplete)
    assert event.peer_socket_type is None
    assert event.peer_routing_id == b""
    assert conn.stage is Stage.TRAFFIC


def test_property_names_are_case_insensitive() -> None:
    conn = Connection(SocketType.ROUTER)
    (event,) = conn.receive_data(
        GREETING + ready((b"SOCKET-TYPE", b"DEALER"), (b"identity", b"peer-1"), (b"X-Foo", b"b"))
    )
    assert isinstance(event, HandshakeComplete)
    assert event.peer_socket_type is SocketType.DEALER
    assert event.peer_routing_id == b"peer-1"
    assert cmd.get_property(event.peer_properties, "x-foo") == b"b"
    # and a miscased name still gets the type checked
    with pytest.raises(IncompatibleSocketType):
        Connection(SocketType.PUSH).receive_data(GREETING + ready((b"socket-type", b"PUSH")))


# --- version negotiation (digest 1.3) ------------------------------------------------------


@pytest.mark.parametrize(
    ("major", "minor", "expected"),
    [
        (3, 0, (3, 0)),
        (3, 1, (3, 1)),
        (3, 7, (3, 1)),
        (4, 0, (3, 1)),
        (255, 255, (3, 1)),
        # libzmq treats revision 2 as 3.1 too (digest 1.3: "02 or >= 04")
        (2, 0, (3, 1)),
    ],
)
def test_peer_versions_accepted(major: int, minor: int, expected: tuple[int, int]) -> None:
    conn = Connection(SocketType.PULL)
    (event,) = conn.receive_data(greeting(major=major, minor=minor) + ready_for(SocketType.PUSH))
    assert isinstance(event, HandshakeComplete)
    assert event.peer_version == expected
    assert conn.peer_version == expected


@pytest.mark.parametrize("major", [0, 1])
def test_old_versions_refused_as_soon_as_the_major_byte_arrives(major: int) -> None:
    conn = Connection(SocketType.PULL)
    data = greeting(major=major)
    assert feed_bytewise(conn, data[:10]) == []
    with pytest.raises(UnsupportedVersion):
        conn.receive_data(data[10:11])
    assert conn.stage is Stage.BROKEN


def test_unversioned_peer_refused_at_the_first_byte() -> None:
    conn = Connection(SocketType.PULL)
    with pytest.raises(UnsupportedVersion):
        conn.receive_data(b"\x01")
    assert conn.stage is Stage.BROKEN
    # A ZMTP 1.0 peer's first bytes in one go
    with pytest.raises(UnsupportedVersion):
        Connection(SocketType.PULL).receive_data(b"\x01\x00")


@pytest.mark.parametrize("signature_end", [0x7E, 0x00, 0xFE])
def test_signature_end_bit0_clear_refused_at_byte_10(signature_end: int) -> None:
    conn = Connection(SocketType.PULL)
    data = greeting(signature_end=signature_end)
    assert feed_bytewise(conn, data[:9]) == []
    with pytest.raises(UnsupportedVersion):
        conn.receive_data(data[9:10])


def test_greeting_fields_libzmq_ignores_are_ignored() -> None:
    # libzmq's padding is u64(id_len + 1); only bit 0 of byte 9 is tested; the
    # as-server byte and the filler are never read (digest 1.2).
    conn = Connection(SocketType.PULL)
    data = greeting(
        padding=bytes(7) + b"\x03", signature_end=0x01, as_server=1, filler=b"\xaa" * 31
    )
    (event,) = feed_bytewise(conn, data + ready_for(SocketType.PUSH))
    assert isinstance(event, HandshakeComplete)


@pytest.mark.parametrize(
    "mechanism", [b"PLAIN", b"CURVE", b"GSSAPI", b"null", b"NUL", b"NULL\x00\x00\x01"]
)
def test_mechanism_mismatch(mechanism: bytes) -> None:
    conn = Connection(SocketType.PULL)
    conn.data_to_send()
    data = greeting(mechanism=mechanism)
    assert conn.receive_data(data[:63]) == []
    with pytest.raises(MechanismMismatch):
        conn.receive_data(data[63:])
    assert conn.stage is Stage.BROKEN
    assert not conn.has_data_to_send()  # no READY for a peer we refused


# --- handshake errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "ready_body",
    [
        b"\x05READY\x0bSocket-Type",  # no value length
        b"\x05READY\x0bSocket-Type\x00\x00\x00",  # truncated value length
        b"\x05READY\x0bSocket-Type\x00\x00\x00\x05PUSH",  # value shorter than its length
        b"\x05READY\x0bSocket-Typ",  # truncated name
        b"\x05READY\x00\x00\x00\x00\x00",  # empty name
        b"\x05READY\x0bSocket-Type\xff\xff\xff\xffPUSH",  # absurd length
        b"\x05READY" + prop(b"Socket-Type", b"PUSH") + b"\x02",  # trailing junk
        b"\x05REA",  # name longer than the body
        b"\x00READY",  # empty command name
        b"",  # empty command frame
    ],
)
def test_malformed_ready_is_a_protocol_error(ready_body: bytes) -> None:
    conn = Connection(SocketType.PULL)
    with pytest.raises(ProtocolError):
        conn.receive_data(GREETING + encode_command(ready_body))
    assert conn.stage is Stage.BROKEN
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        conn.encode_messages([[b"x"]])


def test_error_command_during_handshake() -> None:
    conn = Connection(SocketType.DEALER)
    error = bytes.fromhex("04 0a 05 4552524f52 03 343030")
    assert error == encode_command(b"\x05ERROR\x03400")
    with pytest.raises(HandshakeRejected) as info:
        conn.receive_data(GREETING + error)
    assert info.value.reason == b"400"
    assert isinstance(info.value, ProtocolError)
    assert conn.stage is Stage.BROKEN


def test_unexpected_command_during_handshake() -> None:
    for body in (b"\x04PING\x00\x00", b"\x09SUBSCRIBE", b"\x05HELLO"):
        conn = Connection(SocketType.PULL)
        with pytest.raises(ProtocolError):
            conn.receive_data(GREETING + encode_command(body))
        assert conn.stage is Stage.BROKEN


@pytest.mark.parametrize("frame", [b"\x00\x01x", b"\x00\x00", b"\x02" + bytes(7) + b"\x01y"])
def test_message_before_handshake_is_a_protocol_error(frame: bytes) -> None:
    conn = Connection(SocketType.PULL)
    with pytest.raises(ProtocolError):
        conn.receive_data(GREETING + frame + ready_for(SocketType.PUSH))
    assert conn.stage is Stage.BROKEN


def test_message_before_handshake_fed_bytewise() -> None:
    conn = Connection(SocketType.PULL)
    with pytest.raises(ProtocolError):
        feed_bytewise(conn, GREETING + b"\x00\x01x")


def test_partial_multipart_message_before_handshake_is_a_protocol_error() -> None:
    # A first frame with MORE set is a message frame too: it must not be kept
    # and glued to the first message after the handshake.
    conn = Connection(SocketType.PULL)
    with pytest.raises(ProtocolError):
        conn.receive_data(GREETING + b"\x01\x01x" + ready_for(SocketType.PUSH) + b"\x00\x01y")
    assert conn.stage is Stage.BROKEN


def test_big_message_frame_before_handshake_refused_before_its_body() -> None:
    # Do not buffer a large body from a peer that has not finished its handshake.
    conn = Connection(SocketType.PULL)
    with pytest.raises(ProtocolError):
        conn.receive_data(GREETING + frame_header(2**30) + b"body")
    assert conn.stage is Stage.BROKEN


def test_encode_messages_before_handshake_raises() -> None:
    conn = Connection(SocketType.PUSH)
    with pytest.raises(LocalProtocolError):
        conn.encode_messages([[b"x"]])
    conn.receive_data(GREETING)
    assert conn.stage is Stage.HANDSHAKE
    with pytest.raises(LocalProtocolError):
        conn.encode_messages([[b"x"]])
    with pytest.raises(LocalProtocolError):
        conn.send_ping(1.0)
    conn.receive_data(ready_for(SocketType.PULL))
    assert conn.stage.value == "traffic"
    conn.data_to_send()
    assert b"".join(conn.encode_messages([[b"x"]])) == b"\x00\x01x"


def test_greeting_ready_and_data_in_one_burst() -> None:
    conn = Connection(SocketType.PULL)
    conn.data_to_send()
    burst = (
        GREETING
        + ready_for(SocketType.PUSH)
        + wire([b"a"], [b"b", b"c"])
        + encode_command(b"\x04PING\x00\x00ctx")
        + wire([b"d"])
    )
    events = conn.receive_data(burst)
    assert len(events) == 5
    check_handshake(events[0], SocketType.PUSH, b"")
    assert events[1:] == [[b"a"], [b"b", b"c"], Ping(ttl=0.0, context=b"ctx"), [b"d"]]
    assert conn.data_to_send() == ready_for(SocketType.PULL) + b"\x04\x08\x04PONGctx"


def test_only_messages_false_when_handshake_completes_with_messages() -> None:
    conn = Connection(SocketType.PULL)
    events = conn.receive_data(GREETING + ready_for(SocketType.PUSH) + wire([b"a"]))
    assert [type(e) for e in events] == [HandshakeComplete, list]
    assert not conn.only_messages


def test_only_messages_false_when_handshake_completes_alone() -> None:
    conn = Connection(SocketType.PULL)
    events = conn.receive_data(GREETING + ready_for(SocketType.PUSH))
    assert [type(e) for e in events] == [HandshakeComplete]
    assert not conn.only_messages


# --- traffic commands (digest 1.10, 1.11) ----------------------------------------------------


def test_ping_is_answered_with_pong_golden() -> None:
    conn = established()
    ping = bytes.fromhex("04 0a 04 50494e47 0000 637478")
    assert conn.receive_data(ping) == [Ping(ttl=0.0, context=b"ctx")]
    assert not conn.only_messages
    assert conn.has_data_to_send()
    assert conn.data_to_send() == bytes.fromhex("04 08 04 504f4e47 637478")


def test_pong_context_truncated_to_16_bytes_as_libzmq_test_heartbeats() -> None:
    conn = established()
    context = b"LOL" + b"z" * 55
    body = b"\x04PING\x00\x00" + context
    assert len(body) == 65
    assert conn.receive_data(b"\x04\x41" + body) == [Ping(ttl=0.0, context=context)]
    pong = conn.data_to_send()
    assert pong == b"\x04\x15" + b"\x04PONG" + b"LOL" + b"z" * 13
    assert pong[1] == 21


def test_ping_ttl_and_pong_events() -> None:
    conn = established()
    assert conn.receive_data(encode_command(b"\x04PING\x00\x0f")) == [Ping(ttl=1.5, context=b"")]
    assert conn.data_to_send() == b"\x04\x05\x04PONG"
    assert conn.receive_data(encode_command(b"\x04PING\xff\xff")) == [Ping(ttl=6553.5, context=b"")]
    conn.data_to_send()
    assert conn.receive_data(encode_command(b"\x04PONGabc")) == [Pong(context=b"abc")]
    assert conn.receive_data(encode_command(b"\x04PONG")) == [Pong(context=b"")]
    assert not conn.has_data_to_send()


def test_subscribe_and_cancel_golden() -> None:
    conn = established(SocketType.XPUB, SocketType.SUB)
    sub_a = bytes.fromhex("04 0b 09 5355425343524942 45 41")
    cancel_a = bytes.fromhex("04 08 06 43414e43454c 41")
    assert conn.receive_data(sub_a) == [Subscribe(topic=b"A")]
    assert conn.receive_data(cancel_a) == [Cancel(topic=b"A")]
    assert conn.receive_data(b"\x04\x0a\x09SUBSCRIBE") == [Subscribe(topic=b"")]
    assert conn.receive_data(b"\x04\x07\x06CANCEL") == [Cancel(topic=b"")]
    # 3.0 legacy subscriptions are plain messages
    assert conn.receive_data(bytes.fromhex("00 02 01 41")) == [[b"\x01A"]]
    assert not conn.has_data_to_send()


def queued_mix() -> list[list[bytes]]:
    return [[b"m1"], QueuedSubscription(b"A", True), [b"m2", b"x"], QueuedSubscription(b"", False)]


def test_queued_subscriptions_are_commands_in_place_for_a_zmtp_31_peer() -> None:
    conn = established(SocketType.SUB, SocketType.PUB)
    data = b"".join(conn.encode_messages(queued_mix()))
    assert data == (
        wire([b"m1"])
        + encode_command(b"\x09SUBSCRIBEA")
        + wire([b"m2", b"x"])
        + encode_command(b"\x06CANCEL")
    )


def test_queued_subscriptions_are_messages_in_place_for_a_zmtp_30_peer() -> None:
    conn = Connection(SocketType.XSUB)
    events = conn.receive_data(greeting(minor=0) + ready_for(SocketType.XPUB))
    assert [type(e) for e in events] == [HandshakeComplete]
    conn.data_to_send()
    data = b"".join(conn.encode_messages(queued_mix()))
    assert data == wire([b"m1"], [b"\x01A"], [b"m2", b"x"], [b"\x00"])


@pytest.mark.parametrize(
    "body",
    [
        b"\x04ABCD",  # unknown
        b"\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH",  # handshake command, now unknown
        b"\x05ERROR\x03400",
        b"\x04PING",  # no TTL
        b"\x04PING\x00",  # half a TTL
        b"",  # empty
        b"\x00",  # empty name
        b"\x09SUBSC",  # name longer than the body
        b"\xff",
    ],
)
def test_unknown_and_malformed_commands_are_ignored_after_handshake(body: bytes) -> None:
    conn = established()
    assert conn.receive_data(encode_command(body) + wire([b"after"])) == [[b"after"]]
    assert conn.stage is Stage.TRAFFIC
    assert not conn.has_data_to_send()
    assert conn.receive_data(encode_command(body)) == []
    assert conn.stage is Stage.TRAFFIC


def test_only_messages_flag() -> None:
    conn = established()
    assert conn.receive_data(wire([b"a"], [b"b", b"c"])) == [[b"a"], [b"b", b"c"]]
    assert conn.only_messages
    assert conn.receive_data(encode_command(b"\x04PONG")) == [Pong(context=b"")]
    assert not conn.only_messages
    assert conn.receive_data(wire([b"d"])) == [[b"d"]]
    assert conn.only_messages
    assert conn.receive_data(wire([b"e"]) + encode_command(b"\x09SUBSCRIBEt")) == [
        [b"e"],
        Subscribe(topic=b"t"),
    ]
    assert not conn.only_messages


traffic_items = st.one_of(
    st.lists(st.binary(max_size=300), min_size=1, max_size=3),
    st.builds(Ping, st.integers(0, 65535).map(lambda t: t / 10), st.binary(max_size=20)),
    st.builds(Pong, st.binary(max_size=20)),
    st.builds(Subscribe, st.binary(max_size=300)),
    st.builds(Cancel, st.binary(max_size=20)),
)


def encode_traffic(item: object) -> bytes:
    if isinstance(item, list):
        return wire(item)
    if isinstance(item, Ping):
        return encode_command(b"\x04PING" + round(item.ttl * 10).to_bytes(2, "big") + item.context)
    if isinstance(item, Pong):
        return encode_command(b"\x04PONG" + item.context)
    if isinstance(item, Subscribe):
        return encode_command(b"\x09SUBSCRIBE" + item.topic)
    assert isinstance(item, Cancel)
    return encode_command(b"\x06CANCEL" + item.topic)


@given(st.lists(traffic_items, max_size=8), st.lists(st.integers(0, 3000), max_size=8))
def test_traffic_events_under_any_chunking(items: list[object], cuts: list[int]) -> None:
    conn = established(SocketType.XPUB, SocketType.SUB)
    stream = b"".join(map(encode_traffic, items))
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(stream)}), len(stream)]
    events: list[Event] = []
    for lo, hi in itertools.pairwise(bounds):
        got = conn.receive_data(stream[lo:hi])
        # only_messages is True exactly when the list holds only messages
        assert conn.only_messages == all(type(e) is list for e in got)
        events += got
    assert events == items
    pings = [i for i in items if isinstance(i, Ping)]
    assert conn.data_to_send() == b"".join(
        encode_command(b"\x04PONG" + p.context[:16]) for p in pings
    )


def test_send_ping_golden() -> None:
    conn = established()
    conn.send_ping(1.5)
    assert conn.data_to_send() == bytes.fromhex("04 07 04 50494e47 000f")
    conn.send_ping(0)
    assert conn.data_to_send() == bytes.fromhex("04 07 04 50494e47 0000")
    conn.send_ping(65.5)
    assert conn.data_to_send() == bytes.fromhex("04 07 04 50494e47 028f")
    conn.send_ping(65.6)  # capped at 655 deciseconds (libzmq's u16 ms bug, digest 1.11)
    assert conn.data_to_send() == bytes.fromhex("04 07 04 50494e47 028f")
    conn.send_ping(10**6)
    assert conn.data_to_send() == bytes.fromhex("04 07 04 50494e47 028f")


def test_queued_commands_go_out_before_messages() -> None:
    conn = established()
    conn.send_ping(1.0)
    conn.receive_data(encode_command(b"\x04PING\x00\x00c"))
    buffers = conn.encode_messages([[b"m"]])
    assert b"".join(buffers) == (
        encode_command(b"\x04PING\x00\x0a") + encode_command(b"\x04PONGc") + b"\x00\x01m"
    )
    assert not conn.has_data_to_send()


@given(st.floats(0, 1e6), st.binary(max_size=16))
def test_send_ping_round_trip(ttl: float, context: bytes) -> None:
    a = Connection(SocketType.PAIR)
    b = Connection(SocketType.PAIR)
    pump(a, b)
    a.send_ping(ttl, context)
    sent = a.data_to_send()
    deciseconds = min(655, round(ttl * 10))
    assert sent == encode_command(b"\x04PING" + deciseconds.to_bytes(2, "big") + context)
    assert b.receive_data(sent) == [Ping(ttl=deciseconds / 10, context=context)]
    assert a.receive_data(b.data_to_send()) == [Pong(context=context)]


def test_maxmsgsize_applies_to_connections() -> None:
    # libzmq checks every frame, handshake commands included (digest 1.4)
    with pytest.raises(ProtocolError):
        Connection(SocketType.PULL, maxmsgsize=10).receive_data(
            GREETING + ready_for(SocketType.PUSH)
        )
    conn = established(maxmsgsize=100)
    assert conn.receive_data(wire([b"x" * 100])) == [[b"x" * 100]]
    with pytest.raises(ProtocolError):
        conn.receive_data(b"\x02" + (2**40).to_bytes(8, "big"))
    assert conn.stage is Stage.BROKEN


def test_read_size_hint_follows_the_decoder_in_body_mode() -> None:
    conn = established()
    size = 90_000  # (under the body-read cap)
    assert conn.receive_data(frame_header(size) + b"x" * 10) == []
    assert conn.read_size_hint == size - 10
    body = b"y" * (size - 10)
    assert conn.receive_data(body) == [[b"x" * 10 + body]]


@pytest.fixture
def segments(monkeypatch: pytest.MonkeyPatch) -> list[bytearray]:
    """The process's body segments, none made yet; the spare list is returned."""
    spare: list[bytearray] = []
    monkeypatch.setattr(_framing, "_spare_segments", spare)
    monkeypatch.setattr(_framing, "_segments_made", 0)
    return spare


def read_into_body(conn: Connection, data: bytes) -> list[Event]:
    """What a reader with a socket does: copy ``data`` into ``body_buffer`` views."""
    events: list[Event] = []
    while data:
        view = conn.body_buffer()
        assert view is not None
        n = min(len(view), len(data))
        view[:n] = data[:n]
        data = data[n:]
        events += conn.body_received(n)
    return events


def test_body_reads_complete_nothing_until_the_last_byte(segments: list[bytearray]) -> None:
    conn = established()
    size = 100_000
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert conn.receive_data(frame_header(size) + body[:10]) == []
    view = conn.body_buffer()
    assert view is not None
    assert len(view) == conn.read_size_hint == min(size - 10, MAX_READ_SIZE)
    with pytest.raises(ValueError):
        conn.body_received(len(view) + 1)  # more than the view handed out
    assert read_into_body(conn, body[10:50_000]) == []
    assert conn.receive_data(body[50_000:60_000]) == []  # the two ways mix
    assert read_into_body(conn, body[60_000:99_000]) == []
    assert conn.body_remaining == 1_000
    assert read_into_body(conn, body[99_000:]) == [[body]]
    assert conn.receive_data(frame_header(2) + b"ok") == [[b"ok"]]
    with pytest.raises(ValueError):
        conn.body_buffer()  # not inside a body


def test_a_body_read_completes_a_multipart_message_and_a_command(
    segments: list[bytearray],
) -> None:
    conn = established(SocketType.XPUB, SocketType.XSUB)
    first = b"a" * 70_000
    assert conn.receive_data(frame_header(len(first), 1) + first[:5]) == []
    assert read_into_body(conn, first[5:]) == []  # a MORE frame: nothing whole yet
    assert conn.receive_data(frame_header(1) + b"z") == [[first, b"z"]]
    topic = b"t" * 80_000
    command = cmd.command_body(b"SUBSCRIBE", topic)
    assert conn.receive_data(encode_command(command)[:100]) == []
    assert read_into_body(conn, encode_command(command)[100:]) == [Subscribe(topic)]
    assert not conn.only_messages


def test_body_reads_reuse_one_segment_and_span_several(segments: list[bytearray]) -> None:
    conn = established()
    body = bytes(range(256)) * 4096  # 1 MiB
    payloads = [bytes([i]) * 2000 + body[2000:] for i in range(3)]
    received: list[Event] = []
    for payload in payloads:
        assert conn.receive_data(frame_header(len(payload)) + payload[:1000]) == []
        events = read_into_body(conn, payload[1000:])
        assert events == [[payload]]
        received += events
        # The segment went back to the spare list, and the next body takes it.
        assert len(segments) == 1 and _framing._segments_made == 1
    segment = segments[0]
    big = body * 2 + b"tail" * 25  # over three segments
    conn.receive_data(frame_header(len(big)) + big[:10])
    view = conn.body_buffer()
    assert view is not None and view.obj is segment
    assert read_into_body(conn, big[10:]) == [[big]]
    assert len(segments) == _framing._segments_made == 3
    # What was handed out was copied out of the segments, reused since.
    assert received == [[payload] for payload in payloads]


def test_no_more_than_max_segments_and_the_rest_reads_into_bytes(
    segments: list[bytearray],
) -> None:
    """Bodies beyond the process's segments are fed as bytes: memory follows what came."""
    conns = [established() for _ in range(_framing.MAX_SEGMENTS + 2)]
    body = b"b" * 200_000
    for conn in conns:
        conn.receive_data(frame_header(len(body)) + body[:100])
    views = [conn.body_buffer() for conn in conns]
    assert [v is not None for v in views] == [True] * _framing.MAX_SEGMENTS + [False, False]
    assert _framing._segments_made == _framing.MAX_SEGMENTS
    # Without a segment the reader feeds what it read, and the body completes all the same.
    late = conns[-1]
    assert late.receive_data(body[100:150_000]) == []
    assert late.receive_data(body[150_000:]) == [[body]]
    # One connection ends inside its body: its segment is free again.
    conns[0].release_buffers()
    assert len(segments) == 1
    assert conns[-2].body_buffer() is not None
    assert _framing._segments_made == _framing.MAX_SEGMENTS


def test_releasing_gives_each_segment_back_once_and_leaves_the_body(
    segments: list[bytearray],
) -> None:
    conn = established()
    body = b"r" * 300_000
    conn.receive_data(frame_header(len(body)) + body[:100])
    assert read_into_body(conn, body[100:200_000]) == []
    view = conn.body_buffer()
    assert view is not None
    conn.body_received(10)
    with pytest.raises(ValueError):
        conn.body_received(10)  # the view was taken: one count per body_buffer
    conn.release_buffers()
    conn.release_buffers()  # twice: still given back once
    assert len(segments) == _framing._segments_made == 1
    # Outside any body now: a late read takes no segment (nor completes a short body).
    assert conn.body_remaining == 0
    with pytest.raises(ValueError):
        conn.body_buffer()
    other = established()
    other.receive_data(frame_header(len(body)) + body[:100])
    assert read_into_body(other, body[100:]) == [[body]]
    other.release_buffers()  # after a finished body: nothing to give back
    assert len(segments) == _framing._segments_made == 1


def test_a_decoder_dropped_inside_a_body_frees_its_share_of_the_budget(
    segments: list[bytearray],
) -> None:
    body = b"d" * 200_000
    conns = [established() for _ in range(_framing.MAX_SEGMENTS)]
    for conn in conns:
        conn.receive_data(frame_header(len(body)) + body[:100])
        assert conn.body_buffer() is not None
    late = established()
    late.receive_data(frame_header(len(body)) + body[:100])
    assert late.body_buffer() is None
    del conn, conns  # never released (a user of the sans-IO API)
    gc.collect()
    assert _framing._segments_made == 0
    assert late.body_buffer() is not None


def test_body_reads_under_a_mechanism_that_boxes_frames(segments: list[bytearray]) -> None:
    a, b = xor_pair()
    body = bytes(range(256)) * 400
    wire = b"".join(b.encode_messages([[body]]))
    assert a.receive_data(wire[:50]) == []
    assert read_into_body(a, wire[50:]) == [[body]]
    bad = frame_header(len(body) + 1) + b"\xff" + body  # a box with unknown flags
    assert a.receive_data(bad[:50]) == []
    with pytest.raises(ProtocolError):
        read_into_body(a, bad[50:])
    assert a.stage is Stage.BROKEN
    assert len(segments) == 1  # given back once
    with pytest.raises(LocalProtocolError):
        a.body_received(1)


def test_body_reads_only_in_traffic() -> None:
    conn = Connection(SocketType.DEALER)
    with pytest.raises(LocalProtocolError):
        conn.body_buffer()


def test_big_ready_in_small_chunks_then_messages() -> None:
    # Metadata over 64 KiB puts the decoder in body mode during the handshake.
    big = bytes(range(256)) * 400
    data = (
        GREETING
        + ready((b"Socket-Type", b"PUSH"), (b"X-Big", big))
        + wire([b"m1"], [b"m2", b"m3"])
        + encode_command(b"\x04PING\x00\x01")
    )
    conn = Connection(SocketType.PULL)
    events: list[Event] = []
    for i in range(0, len(data), 1000):
        events += conn.receive_data(data[i : i + 1000])
    check_handshake(events[0], SocketType.PUSH, b"")
    assert isinstance(events[0], HandshakeComplete)
    assert events[0].peer_properties["X-Big"] == big
    assert events[1:] == [[b"m1"], [b"m2", b"m3"], Ping(ttl=0.1, context=b"")]


def test_bytearray_input_gives_bytes_frames() -> None:
    conn = Connection(SocketType.PULL)
    events = conn.receive_data(bytearray(GREETING + ready_for(SocketType.PUSH) + wire([b"a"])))
    assert events[1:] == [[b"a"]]
    events = conn.receive_data(bytearray(wire([b"b", b"c"])))
    assert events == [[b"b", b"c"]]
    assert all(type(f) is bytes for e in events if isinstance(e, list) for f in e)


# --- random bytes --------------------------------------------------------------------------


PREFIXES = [
    b"",
    GREETING[:11],
    GREETING,
    GREETING + ready_for(SocketType.PUSH),
    GREETING + ready_for(SocketType.PUSH) + wire([b"a", b"b"]),
]


@given(
    st.sampled_from(PREFIXES),
    st.binary(max_size=300),
    st.lists(st.integers(0, 500), max_size=8),
    st.one_of(st.none(), st.integers(0, 1000)),
)
def test_random_bytes_only_raise_protocol_error(
    prefix: bytes, tail: bytes, cuts: list[int], maxmsgsize: int | None
) -> None:
    conn = Connection(SocketType.PULL, maxmsgsize=maxmsgsize)
    stream = prefix + tail
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(stream)}), len(stream)]
    try:
        for lo, hi in itertools.pairwise(bounds):
            conn.receive_data(stream[lo:hi])
            conn.data_to_send()
    except ProtocolError:
        assert conn.stage is Stage.BROKEN


@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=8))
def test_random_bytes_after_handshake_only_raise_protocol_error(
    tail: bytes, cuts: list[int]
) -> None:
    conn = established(SocketType.XPUB, SocketType.XSUB)
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(tail)}), len(tail)]
    try:
        for lo, hi in itertools.pairwise(bounds):
            for event in conn.receive_data(tail[lo:hi]):
                assert isinstance(event, list | Ping | Pong | Subscribe | Cancel)
    except ProtocolError:
        assert conn.stage is Stage.BROKEN


# --- the mechanism seam: a toy framing-wrapping mechanism ---------------------------------

_XOR = bytes(i ^ 0x5A for i in range(256))


class XorMechanism(Mechanism):
    """A test-only mechanism shaped like CURVE: a handshake command each way,
    then every traffic frame boxed as ``flags(MORE=1, COMMAND=2) + XORed body``."""

    name = b"XOR"
    wraps_frames = True

    def __init__(self, own_properties: list[tuple[str, bytes]]) -> None:
        super().__init__(own_properties)
        self._sent = False
        self._received = False
        self.wrapped: list[tuple[bytes, bool, bool]] = []
        self.unwrapped: list[tuple[bytes, bool, bool]] = []

    @property
    def ready(self) -> bool:
        return self._sent and self._received

    def start(self) -> list[bytes]:
        self._sent = True
        return [cmd.command_body(b"XHELLO", cmd.encode_properties(self.own_properties))]

    def process_command(self, body: bytes) -> list[bytes]:
        name, data = cmd.split_command(body)
        if name != b"XHELLO" or self._received:
            raise ProtocolError(f"unexpected {name!r}")
        self.peer_properties = cmd.decode_properties(data)
        self._received = True
        return []

    def wrap_frame(self, body: bytes, *, more: bool, command: bool) -> bytes:
        self.wrapped.append((body, more, command))
        return bytes((more | command << 1,)) + body.translate(_XOR)

    def unwrap_frame(self, body: bytes) -> tuple[bytes, bool, bool]:
        if not body or body[0] & ~0x03:
            raise ProtocolError("bad XOR box")
        result = (body[1:].translate(_XOR), bool(body[0] & 1), bool(body[0] & 2))
        self.unwrapped.append(result)
        return result


def xor_pair(chunk: int | None = None) -> tuple[Connection, Connection]:
    a = Connection(SocketType.DEALER, routing_id=b"A", mechanism=XorMechanism)
    b = Connection(SocketType.ROUTER, routing_id=b"B", mechanism=XorMechanism)
    got_a, got_b = pump(a, b, chunk)
    check_handshake(got_a[0], SocketType.ROUTER, b"B")
    check_handshake(got_b[0], SocketType.DEALER, b"A")
    assert len(got_a) == len(got_b) == 1
    return a, b


def mech(conn: Connection) -> XorMechanism:
    m = conn._mechanism
    assert isinstance(m, XorMechanism)
    return m


def test_xor_mechanism_greeting_and_handshake() -> None:
    a = Connection(SocketType.DEALER, mechanism=XorMechanism)
    assert a.data_to_send() == greeting(mechanism=b"XOR")
    a.receive_data(greeting(mechanism=b"XOR"))
    assert a.data_to_send() == encode_command(
        b"\x06XHELLO" + prop(b"Socket-Type", b"DEALER") + prop(b"Identity", b"")
    )
    with pytest.raises(MechanismMismatch):
        Connection(SocketType.DEALER, mechanism=XorMechanism).receive_data(GREETING)
    xor_pair(1)


def test_xor_mechanism_boxes_every_frame() -> None:
    a, b = xor_pair()
    msgs = [[b"hello world", b"", b"x" * 300], [b"second message"]]
    data = b"".join(a.encode_messages(msgs))
    assert b"hello world" not in data
    assert b"second message" not in data
    # every frame went through wrap_frame with the right MORE flag, as its
    # own outer frame with flags 0x00 (libzmq sends CURVE MESSAGEs that way)
    assert mech(a).wrapped == [
        (b"hello world", True, False),
        (b"", True, False),
        (b"x" * 300, False, False),
        (b"second message", False, False),
    ]
    assert data[:2] == b"\x00\x0c" and data[2] == 0x01
    assert data[3:14] == b"hello world".translate(_XOR)
    assert b.receive_data(data) == msgs
    assert [u[:2] for u in mech(b).unwrapped] == [(f, m) for f, m, _ in mech(a).wrapped]


@given(
    st.lists(st.lists(st.binary(max_size=300), min_size=1, max_size=3), max_size=4),
    st.lists(st.integers(0, 2000), max_size=8),
)
def test_xor_mechanism_messages_under_any_chunking(
    msgs: list[list[bytes]], cuts: list[int]
) -> None:
    a, b = xor_pair()
    stream = b"".join(b.encode_messages(msgs))
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(stream)}), len(stream)]
    got: list[Event] = []
    for lo, hi in itertools.pairwise(bounds):
        got += a.receive_data(stream[lo:hi])
    assert got == msgs


def test_xor_mechanism_boxes_queued_subscriptions_as_commands() -> None:
    a, b = xor_pair()
    data = b"".join(a.encode_messages(queued_mix()))
    assert mech(a).wrapped == [
        (b"m1", False, False),
        (b"\x09SUBSCRIBEA", False, True),
        (b"m2", True, False),
        (b"x", False, False),
        (b"\x06CANCEL", False, True),
    ]
    assert b.receive_data(data) == [[b"m1"], Subscribe(b"A"), [b"m2", b"x"], Cancel(b"")]


def test_xor_mechanism_ping_pong() -> None:
    a, b = xor_pair()
    a.send_ping(2.0, b"ctx")
    sent = a.data_to_send()
    boxed = b"\x02" + b"\x04PING\x00\x14ctx".translate(_XOR)
    assert sent == frame_header(len(boxed)) + boxed
    assert b.receive_data(sent) == [Ping(ttl=2.0, context=b"ctx")]
    assert mech(b).wrapped == [(b"\x04PONGctx", False, True)]
    pong = b.data_to_send()
    assert pong == frame_header(9) + b"\x02" + b"\x04PONGctx".translate(_XOR)
    assert a.receive_data(pong + b"".join(b.encode_messages([[b"m"]]))) == [
        Pong(context=b"ctx"),
        [b"m"],
    ]


def test_xor_mechanism_burst_after_handshake() -> None:
    # The peer's handshake command and its first boxed frames in one chunk:
    # the connection must switch to unwrapping between those frames.
    a = Connection(SocketType.DEALER, mechanism=XorMechanism)
    a.data_to_send()
    peer_hello = encode_command(
        b"\x06XHELLO" + prop(b"Socket-Type", b"ROUTER") + prop(b"Identity", b"R")
    )
    box1 = b"\x01" + b"one".translate(_XOR)
    box2 = b"\x00" + b"two".translate(_XOR)
    events = a.receive_data(
        greeting(mechanism=b"XOR") + peer_hello + frame_header(4) + box1 + frame_header(4) + box2
    )
    check_handshake(events[0], SocketType.ROUTER, b"R")
    assert events[1:] == [[b"one", b"two"]]
    assert not a.only_messages


def test_xor_mechanism_bad_box_is_a_protocol_error() -> None:
    a, _ = xor_pair()
    with pytest.raises(ProtocolError):
        a.receive_data(b"\x00\x02\x80x")
    assert a.stage is Stage.BROKEN
