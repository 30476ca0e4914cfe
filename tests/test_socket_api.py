"""The public API of DESIGN section 1, trio_zmq with trio_zmq (over tcp, ipc and inproc)."""

from __future__ import annotations

import pytest
import trio
import zmq

import trio_zmq
from tests.helpers import bind_endpoint, linked, wait_for_peers, wait_until


async def test_design_example(transport: str) -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=1000) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH) as push,
        ):
            requested = bind_endpoint(transport)
            endpoint = await pull.bind(requested)
            if transport == "tcp":
                assert endpoint.startswith("tcp://127.0.0.1:")
                assert int(endpoint.rsplit(":", 1)[1]) > 0
            elif transport == "ipc":  # ipc://* resolved to a path
                assert endpoint.startswith("ipc:///")
                assert await trio.Path(endpoint.removeprefix("ipc://")).is_socket()
            else:
                assert endpoint == requested
            assert pull.last_endpoint == endpoint
            push.connect(endpoint)
            assert push.last_endpoint == endpoint
            await push.send(b"hello")
            assert await pull.recv() == b"hello"
            await push.send_multipart([b"a", b"b"])
            assert await pull.recv_multipart() == [b"a", b"b"]


async def test_socket_type_numbers_match_libzmq() -> None:
    for name in ("PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH"):
        assert getattr(trio_zmq, name) == getattr(zmq, name)
        assert trio_zmq.SocketType[name] == getattr(zmq, name)
    for name in ("XPUB", "XSUB", "STREAM"):
        assert getattr(trio_zmq, name) == getattr(zmq, name)


async def test_all_frame_types_and_forms(transport: str) -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PAIR, trio_zmq.PAIR, transport=transport) as (a, b):
            await a.send_multipart([b"x", bytearray(b"y"), memoryview(b"zz")[1:]])
            frames = await b.recv_multipart()
            assert frames == [b"x", b"y", b"z"]
            assert [type(f) for f in frames] == [bytes, bytes, bytes]  # over inproc too
            await a.send(bytearray(b"ba"))
            assert await b.recv() == b"ba"
            await a.send_string("h\u00e9llo")
            assert await b.recv_string() == "h\u00e9llo"
            await a.send_string("latin", encoding="latin-1")
            assert await b.recv() == b"latin"
            await a.send_json({"k": [1, 2]})
            assert await b.recv_json() == {"k": [1, 2]}
            # and back the other way, through async for
            for i in range(3):
                await b.send_multipart([b"n", str(i).encode()])
            got = []
            async for msg in a:
                got.append(msg)
                if len(got) == 3:
                    break
            assert got == [[b"n", b"0"], [b"n", b"1"], [b"n", b"2"]]


async def test_received_frames_are_bytes(transport: str) -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH, transport=transport) as (pull, push):
            await push.send_multipart([b"", b"s" * 10, b"l" * 300_000])
            msg = await pull.recv_multipart()
            assert [type(f) for f in msg] == [bytes, bytes, bytes]
            assert [len(f) for f in msg] == [0, 10, 300_000]


async def test_sent_buffer_can_be_reused_after_send(transport: str) -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH, transport=transport) as (pull, push):
            buf = bytearray(b"first")
            push.send_nowait(buf)  # queued on the connect pipe, before the handshake
            buf[:] = b"later"
            assert await pull.recv() == b"first"


@pytest.mark.parametrize(
    "pair",
    [
        (trio_zmq.PULL, trio_zmq.PUSH),
        (trio_zmq.DEALER, trio_zmq.DEALER),
        (trio_zmq.PAIR, trio_zmq.PAIR),
    ],
    ids=["PULL", "DEALER", "PAIR"],
)
async def test_recv_on_multipart_raises_without_consuming(
    transport: str, pair: tuple[trio_zmq.SocketType, trio_zmq.SocketType]
) -> None:
    with trio.fail_after(10):
        async with linked(*pair, transport=transport) as (pull, push):
            await push.send_multipart([b"a", b"b"])
            await push.send(b"single")
            with pytest.raises(trio_zmq.MultipartMessageError):
                await pull.recv()
            with pytest.raises(trio_zmq.MultipartMessageError):
                pull.recv_nowait()
            assert await pull.recv_multipart() == [b"a", b"b"]
            assert await pull.recv() == b"single"


@pytest.mark.parametrize("socket_type", [trio_zmq.DEALER, trio_zmq.PULL], ids=["DEALER", "PULL"])
async def test_recv_takes_single_frame_messages_from_each_peer_in_turn(
    transport: str, socket_type: trio_zmq.SocketType
) -> None:
    """``recv`` (one frame) fair-queues as ``recv_multipart`` does: one message per peer in turn."""
    sender_type = trio_zmq.DEALER if socket_type == trio_zmq.DEALER else trio_zmq.PUSH
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(socket_type) as sock,
            trio_zmq.open_socket(sender_type) as a,
            trio_zmq.open_socket(sender_type) as b,
        ):
            endpoint = await sock.bind(bind_endpoint(transport))
            a.connect(endpoint)
            b.connect(endpoint)
            await wait_for_peers(sock, 2)
            for i in range(4):
                await a.send(b"a%d" % i)
                await b.send(b"b%d" % i)
            await wait_until(lambda: sock.statistics().queued_inbound == 8)
            got = [await sock.recv() for _ in range(8)]
            senders = [m[:1] for m in got]
            assert all(senders[i] != senders[i + 1] for i in range(7)), got


@pytest.mark.parametrize(
    "pair",
    [(trio_zmq.PAIR, trio_zmq.PAIR), (trio_zmq.DEALER, trio_zmq.DEALER)],
    ids=["PAIR", "DEALER"],
)
async def test_recv_of_a_gone_peers_last_message_lets_the_peer_go(
    transport: str, pair: tuple[trio_zmq.SocketType, trio_zmq.SocketType]
) -> None:
    """Taking a departed peer's last message with ``recv`` ends its pipe.

    A PAIR then takes a new peer, and the old one leaves the statistics.
    """
    with trio.fail_after(10):
        async with trio_zmq.open_socket(pair[0]) as sock:
            endpoint = await sock.bind(bind_endpoint(transport))
            async with trio_zmq.open_socket(pair[1]) as first:
                first.connect(endpoint)
                await first.send(b"last words")
                await wait_until(lambda: sock.statistics().queued_inbound == 1)
            await wait_until(lambda: sock.statistics().peers == 0)
            assert await sock.recv() == b"last words"
            assert len(sock.statistics().peer_details) == 0
            async with trio_zmq.open_socket(pair[1]) as second:
                second.connect(endpoint)
                await second.send(b"hello again")
                assert await sock.recv() == b"hello again"


async def test_operation_not_supported() -> None:
    async with (
        trio_zmq.open_socket(trio_zmq.PUSH) as push,
        trio_zmq.open_socket(trio_zmq.PULL) as pull,
    ):
        with pytest.raises(trio_zmq.OperationNotSupported):
            await push.recv()
        with pytest.raises(trio_zmq.OperationNotSupported):
            push.recv_multipart_nowait()
        with pytest.raises(trio_zmq.OperationNotSupported):
            await pull.send(b"x")
        with pytest.raises(trio_zmq.OperationNotSupported):
            pull.send_multipart_nowait([b"x"])
        assert issubclass(trio_zmq.OperationNotSupported, trio_zmq.ZMQError)


async def test_bad_frames() -> None:
    async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
        with pytest.raises(TypeError):
            await push.send("text")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await push.send_multipart(b"abc")  # type: ignore[arg-type]  # not a list of frames
        with pytest.raises(TypeError):
            await push.send_multipart([b"a", 3])  # type: ignore[list-item]
        with pytest.raises(ValueError):
            await push.send_multipart([])
        assert push.statistics().queued_outbound == 0


@pytest.mark.parametrize(
    "endpoint",
    [
        "tcp://nohost:",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:99999",
        "tcp://127.0.0.1:abc",
        "foo://bar",
        "ipc://",
        "inproc://",
        "not an endpoint",
        "tcp://:5555",
        "tcp://*:5555",  # * is for bind only
    ],
)
async def test_bad_connect_endpoints_raise_at_once(endpoint: str) -> None:
    async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
        with pytest.raises(trio_zmq.EndpointError):
            push.connect(endpoint)
        assert push.statistics().connected_endpoints == 0


@pytest.mark.parametrize(
    "endpoint", ["tcp://-bad-:*", "tcp://127.0.0.1:-1", "udp://127.0.0.1:1", "tcp://[::1]:*"]
)
async def test_bad_bind_endpoints_raise_at_once(endpoint: str) -> None:
    async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
        with pytest.raises(trio_zmq.EndpointError):
            await pull.bind(endpoint)
        with pytest.raises(ValueError):  # EndpointError is a ValueError too
            await pull.bind(endpoint)


async def test_bind_wildcard_and_address_in_use() -> None:
    async with (
        trio_zmq.open_socket(trio_zmq.PULL) as a,
        trio_zmq.open_socket(trio_zmq.PULL) as b,
    ):
        endpoint = await a.bind("tcp://*:*")
        assert endpoint.startswith("tcp://0.0.0.0:")
        port = endpoint.rsplit(":", 1)[1]
        with pytest.raises(OSError):
            await b.bind(f"tcp://127.0.0.1:{port}")


async def test_unbind_and_disconnect_errors() -> None:
    async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
        with pytest.raises(trio_zmq.EndpointError):
            pull.unbind("tcp://127.0.0.1:1")
        with pytest.raises(trio_zmq.EndpointError):
            pull.disconnect("tcp://127.0.0.1:1")
        endpoint = await pull.bind("tcp://127.0.0.1:*")
        pull.unbind("tcp://127.0.0.1:*")  # the endpoint as given to bind works too
        with pytest.raises(trio_zmq.EndpointError):
            pull.unbind(endpoint)
        assert pull.statistics().bound_endpoints == 0


@pytest.mark.transport_skip(
    "inproc", reason="an inproc unbind only frees the name: its links go on (libzmq; test_inproc)"
)
async def test_unbind_closes_accepted_connections_and_refuses_new_ones(transport: str) -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH, reconnect_ivl=0.01) as push,
        ):
            endpoint = await pull.bind(bind_endpoint(transport))
            push.connect(endpoint)
            await wait_for_peers(pull, 1)
            pull.unbind(endpoint)
            await wait_for_peers(pull, 0)
            await wait_for_peers(push, 0)
            with pytest.raises(OSError):
                if transport == "tcp":
                    port = int(endpoint.rsplit(":", 1)[1])
                    stream = await trio.open_tcp_stream("127.0.0.1", port)
                else:  # the socket file is gone
                    stream = await trio.open_unix_socket(endpoint.removeprefix("ipc://"))
                await stream.aclose()


async def test_disconnect_drops_that_peer_only(transport: str) -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PUSH) as push,
            trio_zmq.open_socket(trio_zmq.PULL) as pull1,
            trio_zmq.open_socket(trio_zmq.PULL) as pull2,
        ):
            ep1 = await pull1.bind(bind_endpoint(transport))
            ep2 = await pull2.bind(bind_endpoint(transport))
            push.connect(ep1)
            push.connect(ep2)
            await wait_for_peers(push, 2)
            push.disconnect(ep1)
            await wait_for_peers(push, 1)
            assert push.statistics().connected_endpoints == 1
            for i in range(10):
                await push.send(b"%d" % i)
            assert [await pull2.recv() for _ in range(10)] == [b"%d" % i for i in range(10)]
            assert pull1.statistics().queued_inbound == 0


async def test_options_as_keywords_and_attributes() -> None:
    async with trio_zmq.open_socket(
        trio_zmq.PUSH, sndhwm=5, linger=1.5, routing_id="me", maxmsgsize=-1
    ) as push:
        assert push.sndhwm == 5
        assert push.rcvhwm == 1000
        assert push.linger == 1.5
        assert push.routing_id == b"me"
        assert push.maxmsgsize is None
        assert push.reconnect_ivl == 0.1
        assert push.handshake_ivl == 30.0
        push.sndhwm = 10
        assert push.sndhwm == 10
        push.linger = None
        assert push.linger is None
        with pytest.raises(ValueError, match="sndhwm"):
            push.sndhwm = -1
        with pytest.raises(TypeError, match="sndhwm"):
            push.sndhwm = "10"  # type: ignore[assignment]
        with pytest.raises(ValueError, match="linger"):
            push.linger = -2
        with pytest.raises(ValueError, match="routing_id"):
            push.routing_id = b"x" * 256
        assert push.sndhwm == 10  # a rejected value changes nothing


@pytest.mark.parametrize(
    ("options", "error", "name"),
    [
        ({"sndhwm": -1}, ValueError, "sndhwm"),
        ({"rcvhwm": 1.5}, TypeError, "rcvhwm"),
        ({"linger": "1"}, TypeError, "linger"),
        ({"reconnect_ivl": -3}, ValueError, "reconnect_ivl"),
        ({"handshake_ivl": float("nan")}, ValueError, "handshake_ivl"),
        ({"routing_id": 5}, TypeError, "routing_id"),
        ({"no_such_option": 1}, TypeError, "no_such_option"),
    ],
)
async def test_invalid_options_name_the_option(
    options: dict[str, object], error: type[Exception], name: str
) -> None:
    with pytest.raises(error, match=name):
        async with trio_zmq.open_socket(trio_zmq.PUSH, **options):  # type: ignore[arg-type]
            pass  # pragma: no cover


async def test_unknown_and_unimplemented_socket_types() -> None:
    with pytest.raises(ValueError):
        trio_zmq.open_socket(99)
    with pytest.raises(NotImplementedError, match="SERVER"):
        trio_zmq.open_socket(trio_zmq.SocketType.SERVER)  # a draft type


async def test_type_specific_options() -> None:
    async with trio_zmq.open_socket(
        trio_zmq.ROUTER, router_mandatory=True, probe_router=True
    ) as router:
        assert router.router_mandatory is True
        assert router.router_handover is False
        router.router_handover = True
        assert router.router_handover is True
        with pytest.raises(TypeError, match="req_relaxed"):
            router.req_relaxed = True
        with pytest.raises(TypeError, match="router_mandatory"):
            router.router_mandatory = 1  # type: ignore[assignment]
    with pytest.raises(TypeError, match="router_mandatory"):
        trio_zmq.open_socket(trio_zmq.PUSH, router_mandatory=True)
    with pytest.raises(TypeError, match="req_correlate"):
        trio_zmq.open_socket(trio_zmq.DEALER, req_correlate=True)
    # A context's type-specific defaults apply to the types that have them.
    ctx = trio_zmq.Context(probe_router=True, req_relaxed=True)
    async with ctx.socket(trio_zmq.DEALER) as dealer, ctx.socket(trio_zmq.REQ) as req:
        assert dealer.probe_router is True
        assert req.req_relaxed is True
        assert req.probe_router is True


async def test_context_scopes_default_options() -> None:
    ctx = trio_zmq.Context(sndhwm=7, linger=0)
    async with ctx.socket(trio_zmq.PUSH) as a, ctx.socket(trio_zmq.PUSH, sndhwm=3) as b:
        assert a.sndhwm == 7
        assert a.linger == 0
        assert b.sndhwm == 3
        assert a.context is ctx
    with pytest.raises(TypeError, match="bogus"):
        trio_zmq.Context(bogus=1)
    async with trio_zmq.open_socket(trio_zmq.PUSH) as c, trio_zmq.open_socket(trio_zmq.PULL) as d:
        assert c.context is d.context  # one default context per trio.run
        assert c.sndhwm == 1000


async def test_socket_has_no_public_constructor() -> None:
    with pytest.raises(TypeError):
        trio_zmq.Socket()  # type: ignore[call-arg]


async def test_statistics_counts_messages_and_bytes(transport: str) -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH, transport=transport) as (pull, push):
            await push.send_multipart([b"ab", b"cde"])
            await push.send(b"")
            assert await pull.recv_multipart() == [b"ab", b"cde"]
            s = push.statistics()
            assert (s.messages_sent, s.bytes_sent) == (2, 5)
            assert s.connected_endpoints == 1
            r = pull.statistics()
            assert (r.messages_received, r.bytes_received) == (1, 5)
            assert r.bound_endpoints == 1
            assert r.peers == 1
            assert r.handshakes == 1
            assert r.socket_type is trio_zmq.PULL
            with pytest.raises(AttributeError):
                r.peers = 3  # type: ignore[misc]
