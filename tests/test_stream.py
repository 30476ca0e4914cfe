"""STREAM: raw TCP and ipc connections, with libzmq 4.3's semantics (stream.cpp, raw_engine.cpp).

The STREAM under test is trio_zmq's. Its peers are plain trio byte streams
(an HTTP client, a TCP server), ZMTP sockets that see only bytes (trio_zmq's
and libzmq's DEALER, as in libzmq's test_stream and test_stream_timeout),
and libzmq's own STREAM through pyzmq, with either side binding.

libzmq finishes closing a connection (``[id, b""]``) only when its socket
processes commands, that is when the application calls into it: the tests
"poke" a libzmq STREAM (``ZMQ_EVENTS``) while they wait for such a close.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from tests.helpers import LOOPBACK, free_endpoint, release_endpoint, wait_until
from tests.libzmq_peer import (
    LibzmqSocket,
    RawReader,
    frame,
    greeting,
    libzmq_socket,
    ready,
    tcp_address,
)

STREAM = trio_zmq.STREAM
DEALER = trio_zmq.DEALER
IMPLS = ["trio", "libzmq"]

RESPONSE = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nHello, World!"


@pytest.fixture(scope="module")
def zctx() -> Iterator[zmq.Context[Any]]:
    ctx: zmq.Context[Any] = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


# --- helpers ---------------------------------------------------------------------------


async def expect(sock: trio_zmq.Socket, routing_id: bytes | None, data: bytes) -> bytes:
    """Receive ``[id, data]`` exactly (``data == b""``: a notification); return the id."""
    got_id, got = await sock.recv_multipart()
    if routing_id is not None:
        assert got_id == routing_id
    assert got == data
    return got_id


async def recv_bytes(sock: trio_zmq.Socket, routing_id: bytes, size: int) -> bytes:
    """Join the chunks from ``routing_id`` until ``size`` bytes have come."""
    data = bytearray()
    while len(data) < size:
        got_id, chunk = await sock.recv_multipart()
        assert got_id == routing_id
        assert chunk, "unexpected notification"
        data += chunk
    return bytes(data)


async def recv_bytes_libzmq(sock: LibzmqSocket, routing_id: bytes, size: int) -> bytes:
    data = b""
    while len(data) < size:
        got_id, chunk = await sock.recv_multipart()
        assert got_id == routing_id
        assert chunk, "unexpected notification"
        data += chunk
    return data


async def read_until_eof(stream: trio.abc.ReceiveStream) -> bytes:
    data = b""
    while chunk := await stream.receive_some():
        data += chunk
    return data


def poke(sock: LibzmqSocket) -> bool:
    """Make libzmq process its commands (as any call into the socket does); False."""
    sock.sock.getsockopt(zmq.EVENTS)
    return False


# --- with plain TCP peers ------------------------------------------------------------------


async def test_http_server_for_a_plain_client() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(STREAM) as server:
            endpoint = await server.bind(LOOPBACK)
            async with await trio.open_tcp_stream(*tcp_address(endpoint)) as client:
                await client.send_all(b"GET / HTTP/1.0\r\n\r\n")
                rid = await expect(server, None, b"")  # connected
                assert len(rid) == 5
                assert rid[0] == 0
                request = b""
                while not request.endswith(b"\r\n\r\n"):
                    request += await recv_bytes(server, rid, 1)
                assert request == b"GET / HTTP/1.0\r\n\r\n"
                await server.send_multipart([rid, RESPONSE])
                await server.send_multipart([rid, b""])  # close
                assert await read_until_eof(client) == RESPONSE
            await wait_until(lambda: server.statistics().peers == 0)
            # A close the application asked for is not notified; the id is gone.
            with pytest.raises(trio.WouldBlock):
                server.recv_multipart_nowait()
            with pytest.raises(trio_zmq.HostUnreachable):
                await server.send_multipart([rid, b"more"])
            stats = server.statistics()
            assert stats.socket_type is STREAM
            assert (stats.handshakes, stats.disconnections) == (1, 1)
            assert stats.messages_sent == 2
            assert stats.bytes_sent == 2 * len(rid) + len(RESPONSE)
            assert stats.messages_received >= 2
            assert stats.bytes_received == stats.messages_received * len(rid) + len(request)
            assert (stats.queued_inbound, stats.queued_outbound) == (0, 0)
            assert stats.messages_dropped == 0
            assert stats.protocol_errors == 0
            assert stats.peer_details == ()


async def test_connect_and_disconnect_notifications() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(STREAM) as server:
            endpoint = await server.bind(LOOPBACK)
            address = tcp_address(endpoint)
            async with await trio.open_tcp_stream(*address) as one:
                rid1 = await expect(server, None, b"")
                assert server.routing_id == rid1  # as libzmq: the last peer's id
                async with await trio.open_tcp_stream(*address) as two:
                    rid2 = await expect(server, None, b"")
                    assert rid2 != rid1
                    assert server.statistics().peers == 2
                    await two.send_all(b"from two")
                    assert await recv_bytes(server, rid2, 8) == b"from two"
                    await server.send_multipart([rid1, b"to one"])
                    assert await one.receive_some() == b"to one"
                # two closed: its notification comes, then its id is unknown.
                await expect(server, rid2, b"")
                with pytest.raises(trio_zmq.HostUnreachable):
                    server.send_multipart_nowait([rid2, b"x"])
                await one.send_all(b"last words")
            assert await recv_bytes(server, rid1, 10) == b"last words"
            await expect(server, rid1, b"")
            stats = server.statistics()
            assert (stats.peers, stats.handshakes, stats.disconnections) == (0, 2, 2)


async def test_peer_gone_with_unread_data_is_unreachable_at_once() -> None:
    # libzmq says EAGAIN until the socket has read everything from it and
    # processed the pipe's end; trio_zmq says HostUnreachable at once.
    with trio.fail_after(10):
        async with trio_zmq.open_socket(STREAM) as server:
            endpoint = await server.bind(LOOPBACK)
            async with await trio.open_tcp_stream(*tcp_address(endpoint)) as client:
                await client.send_all(b"abc")
            await wait_until(lambda: server.statistics().disconnections == 1)
            rid = server.routing_id
            with pytest.raises(trio_zmq.HostUnreachable):
                await server.send_multipart([rid, b"x"])
            with pytest.raises(trio_zmq.HostUnreachable):
                await server.send_multipart([rid, b""])
            await expect(server, rid, b"")
            assert await recv_bytes(server, rid, 3) == b"abc"
            await expect(server, rid, b"")


async def test_half_closed_peer_is_gone() -> None:
    # As libzmq: an end of stream ends the connection, both ways.
    with trio.fail_after(10):
        async with trio_zmq.open_socket(STREAM) as server:
            endpoint = await server.bind(LOOPBACK)
            async with await trio.open_tcp_stream(*tcp_address(endpoint)) as client:
                rid = await expect(server, None, b"")
                await client.send_all(b"GET /\r\n\r\n")
                await client.send_eof()
                assert await recv_bytes(server, rid, 9) == b"GET /\r\n\r\n"
                await expect(server, rid, b"")
                with pytest.raises(trio_zmq.HostUnreachable):
                    await server.send_multipart([rid, b"response"])
                assert await read_until_eof(client) == b""


async def test_send_to_unknown_id_and_malformed_messages() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(STREAM) as sock:
            with pytest.raises(trio_zmq.HostUnreachable):
                await sock.send_multipart([b"\x00\x00\x00\x00\x01", b"data"])
            with pytest.raises(trio_zmq.HostUnreachable):
                sock.send_multipart_nowait([b"nobody", b""])
            for message in ([b"\x00abcd"], [b"\x00abcd", b"a", b"b"]):
                with pytest.raises(ValueError, match="routing_id, data"):
                    await sock.send_multipart(message)
            with pytest.raises(ValueError, match="routing_id, data"):
                await sock.send(b"just data")
            stats = sock.statistics()
            assert (stats.messages_sent, stats.messages_dropped) == (0, 0)
            with pytest.raises(trio_zmq.OperationNotSupported):
                sock.subscribe(b"")
            with pytest.raises(TypeError, match="router_mandatory"):
                sock.router_mandatory = True


async def test_single_frame_recv_refuses_stream_messages() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(STREAM) as server:
            endpoint = await server.bind(LOOPBACK)
            async with await trio.open_tcp_stream(*tcp_address(endpoint)):
                await wait_until(lambda: server.statistics().queued_inbound == 1)
                with pytest.raises(trio_zmq.MultipartMessageError):
                    await server.recv()
                await expect(server, None, b"")  # still there


async def test_close_drops_unread_bytes_and_writes_queued_ones() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(STREAM) as server:
            endpoint = await server.bind(LOOPBACK)
            async with await trio.open_tcp_stream(*tcp_address(endpoint)) as client:
                rid = await expect(server, None, b"")
                await client.send_all(b"never read")
                await wait_until(lambda: server.statistics().queued_inbound == 1)
                big = bytes(range(256)) * 4096  # 1 MiB, more than the socket buffers take
                await server.send_multipart([rid, big])
                await server.send_multipart([rid, b"tail"])
                await server.send_multipart([rid, b""])
                assert server.statistics().queued_inbound == 0
                assert await read_until_eof(client) == big + b"tail"
            await wait_until(lambda: server.statistics().peers == 0)
            assert server.statistics().messages_dropped == 1
            with pytest.raises(trio.WouldBlock):
                server.recv_multipart_nowait()


async def test_connect_to_a_plain_server_reconnects_with_the_same_id() -> None:
    # As libzmq: a connected STREAM's id exists from connect() on (read it from
    # routing_id), data sent before the connection waits for it, a peer that
    # closes is notified, and the connection is remade, with the same id.
    with trio.fail_after(10):
        listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
        port = listener.socket.getsockname()[1]
        async with listener, trio_zmq.open_socket(STREAM, reconnect_ivl=0.05) as sock:
            sock.connect(f"tcp://127.0.0.1:{port}")
            rid = sock.routing_id
            assert len(rid) == 5
            await sock.send_multipart([rid, b"early"])
            async with await listener.accept() as first:
                assert await RawReader(first).read_exactly(5) == b"early"
                await expect(sock, rid, b"")  # connected
                await first.send_all(b"hello")
                assert await recv_bytes(sock, rid, 5) == b"hello"
            await expect(sock, rid, b"")  # the server closed it
            await sock.send_multipart([rid, b"while away"])
            async with await listener.accept() as second:
                await expect(sock, rid, b"")  # connected again, same id
                assert await RawReader(second).read_exactly(10) == b"while away"
                await sock.send_multipart([rid, b"bye"])
                await sock.send_multipart([rid, b""])
                assert await read_until_eof(second) == b"bye"
            # Closed by the application: not remade, and the endpoint is done.
            await wait_until(lambda: sock.statistics().connected_endpoints == 0)
            stats = sock.statistics()
            assert (stats.handshakes, stats.disconnections, stats.peers) == (2, 2, 0)
            with pytest.raises(trio_zmq.HostUnreachable):
                await sock.send_multipart([rid, b"x"])


async def test_close_before_the_connection_is_made() -> None:
    # As libzmq: the close waits in the queue behind what was sent; when the
    # connection comes, those bytes are written, then it is closed for good.
    with trio.fail_after(10):
        endpoint = await free_endpoint()
        async with trio_zmq.open_socket(STREAM, reconnect_ivl=0.05) as sock:
            sock.connect(endpoint)
            rid = sock.routing_id
            await sock.send_multipart([rid, b"queued"])
            await sock.send_multipart([rid, b""])
            with pytest.raises(trio_zmq.HostUnreachable):
                await sock.send_multipart([rid, b"too late"])
            host, port = tcp_address(release_endpoint(endpoint))
            listener = (await trio.open_tcp_listeners(port, host=host))[0]
            async with listener, await listener.accept() as stream:
                assert await read_until_eof(stream) == b"queued"
            await wait_until(lambda: sock.statistics().connected_endpoints == 0)
            with pytest.raises(trio.WouldBlock):
                sock.recv_multipart_nowait()  # nothing, not even "connected"


async def test_full_connection_blocks_send_but_never_a_close() -> None:
    with trio.fail_after(10):
        endpoint = await free_endpoint()
        async with trio_zmq.open_socket(STREAM, sndhwm=1, linger=0) as sock:
            sock.connect(endpoint)  # nobody there: what is sent stays queued
            rid = sock.routing_id
            await sock.send_multipart([rid, b"one"])
            with pytest.raises(trio.WouldBlock):
                sock.send_multipart_nowait([rid, b"two"])
            with trio.move_on_after(0.05) as scope:
                await sock.send_multipart([rid, b"two"])
            assert scope.cancelled_caught
            assert sock.statistics().queued_outbound == 1  # the cancelled send did nothing
            sock.send_multipart_nowait([rid, b""])  # libzmq would make this wait
            assert sock.statistics().queued_outbound == 2


async def test_immediate_connect_gets_an_id_per_connection() -> None:
    with trio.fail_after(10):
        listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
        port = listener.socket.getsockname()[1]
        async with (
            listener,
            trio_zmq.open_socket(STREAM, immediate=True, reconnect_ivl=0.05) as sock,
        ):
            sock.connect(f"tcp://127.0.0.1:{port}")
            async with await listener.accept():
                rid1 = await expect(sock, None, b"")
            await expect(sock, rid1, b"")
            async with await listener.accept() as second:
                rid2 = await expect(sock, None, b"")
                assert rid2 != rid1
                await sock.send_multipart([rid2, b""])
                assert await read_until_eof(second) == b""
            await wait_until(lambda: sock.statistics().connected_endpoints == 0)


async def test_rcvhwm_pushes_back_on_the_peer() -> None:
    total = 16 * 1024 * 1024
    payload = bytes(range(256)) * (total // 256)
    with trio.fail_after(20):
        async with trio_zmq.open_socket(STREAM, rcvhwm=2) as server:
            endpoint = await server.bind(LOOPBACK)
            async with (
                await trio.open_tcp_stream(*tcp_address(endpoint)) as client,
                trio.open_nursery() as nursery,
            ):
                # A small send buffer: what TCP holds stays far below ``total``.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
                sent = trio.Event()

                async def send_everything() -> None:
                    await client.send_all(payload)
                    sent.set()

                nursery.start_soon(send_everything)
                await wait_until(lambda: server.statistics().queued_inbound >= 2)
                await trio.testing.wait_all_tasks_blocked()
                assert server.statistics().queued_inbound <= 2
                assert not sent.is_set()  # TCP pushed back on the sender
                rid = await expect(server, None, b"")
                assert await recv_bytes(server, rid, total) == payload
                await sent.wait()


async def test_ipc(tmp_path: Any) -> None:
    path = tmp_path / "stream.sock"
    with trio.fail_after(10):
        async with trio_zmq.open_socket(STREAM) as server:
            await server.bind(f"ipc://{path}")
            async with await trio.open_unix_socket(str(path)) as client:
                rid = await expect(server, None, b"")
                await client.send_all(b"ping")
                assert await recv_bytes(server, rid, 4) == b"ping"
                await server.send_multipart([rid, b"pong"])
                await server.send_multipart([rid, b""])
                assert await read_until_eof(client) == b"pong"


async def test_unbind_and_disconnect_end_connections_without_notification() -> None:
    with trio.fail_after(10):
        listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
        port = listener.socket.getsockname()[1]
        async with listener, trio_zmq.open_socket(STREAM) as sock:
            endpoint = await sock.bind(LOOPBACK)
            async with await trio.open_tcp_stream(*tcp_address(endpoint)) as client:
                await expect(sock, None, b"")
                sock.unbind(endpoint)
                assert await read_until_eof(client) == b""
            sock.connect(f"tcp://127.0.0.1:{port}")
            async with await listener.accept() as server_side:
                rid = await expect(sock, None, b"")
                await sock.send_multipart([rid, b"queued"])
                sock.disconnect(f"tcp://127.0.0.1:{port}")
                assert await read_until_eof(server_side) == b"queued"  # linger
            await wait_until(lambda: sock.statistics().peers == 0)
            with pytest.raises(trio.WouldBlock):
                sock.recv_multipart_nowait()


# --- with ZMTP sockets, which see only bytes -----------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
async def test_stream_speaks_zmtp_by_hand_to_a_dealer(zctx: zmq.Context[Any], impl: str) -> None:
    # libzmq's test_stream_to_dealer: the application plays ZMTP over STREAM.
    with trio.fail_after(10):
        async with trio_zmq.open_socket(STREAM) as stream:
            endpoint = await stream.bind(LOOPBACK)
            if impl == "trio":
                async with trio_zmq.open_socket(DEALER) as dealer:
                    dealer.connect(endpoint)
                    await dealer.send(b"Hello")
                    await play_router(stream)
                    assert await dealer.recv() == b"World"
            else:
                with libzmq_socket(zctx, zmq.DEALER) as ldealer:
                    ldealer.connect(endpoint)
                    await ldealer.send(b"Hello")
                    await play_router(stream)
                    assert await ldealer.recv() == b"World"


async def play_router(stream: trio_zmq.Socket) -> None:
    """Answer a DEALER's greeting and READY as a ROUTER would, read its "Hello", say "World"."""
    rid = await expect(stream, None, b"")
    # The DEALER's greeting (64 bytes), then its READY and the message.
    their_greeting = await recv_bytes(stream, rid, 10)
    await stream.send_multipart([rid, greeting()])
    their_ready = b"\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER"
    data = their_greeting
    while their_ready not in data:
        data += await recv_bytes(stream, rid, 1)
    assert data[:1] == b"\xff"
    await stream.send_multipart([rid, ready(b"ROUTER", Identity=b"")])
    hello = frame(b"Hello")  # sent once our READY has come (RFC 37)
    while not data.endswith(hello):
        data += await recv_bytes(stream, rid, 1)
    await stream.send_multipart([rid, frame(b"World")])


@pytest.mark.parametrize("impl", IMPLS)
async def test_zmtp_peer_drops_a_silent_stream(zctx: zmq.Context[Any], impl: str) -> None:
    # libzmq's test_stream_timeout: a STREAM that sends nothing never
    # completes a ZMTP handshake; the DEALER's handshake_ivl ends it.
    with trio.fail_after(10):
        async with trio_zmq.open_socket(STREAM, reconnect_ivl=None) as stream:
            if impl == "trio":
                async with trio_zmq.open_socket(DEALER, handshake_ivl=0.1) as dealer:
                    stream.connect(await dealer.bind(LOOPBACK))
                    await watch_silent_connection(stream)
                    assert dealer.statistics().handshake_timeouts == 1
            else:
                with libzmq_socket(zctx, zmq.DEALER, handshake_ivl=100) as ldealer:
                    stream.connect(ldealer.bind())
                    await watch_silent_connection(stream)


async def watch_silent_connection(stream: trio_zmq.Socket) -> None:
    rid = await expect(stream, None, b"")
    data = b""
    while True:  # the peer's greeting, as bytes, then the end
        got_id, chunk = await stream.recv_multipart()
        assert got_id == rid
        if not chunk:
            break
        data += chunk
    assert data[:1] == b"\xff"
    assert stream.statistics().protocol_errors == 0
    await wait_until(lambda: stream.statistics().connected_endpoints == 0)  # reconnect_ivl=None


# --- with libzmq's STREAM ------------------------------------------------------------------


async def test_libzmq_stream_binds_trio_stream_connects(zctx: zmq.Context[Any]) -> None:
    with trio.fail_after(15):
        async with trio_zmq.open_socket(STREAM) as ours:
            with libzmq_socket(zctx, zmq.STREAM) as theirs:
                ours.connect(theirs.bind())
                rid = ours.routing_id
                lid, empty = await theirs.recv_multipart()  # connected
                assert empty == b""
                assert len(lid) == 5
                await expect(ours, rid, b"")
                await ours.send_multipart([rid, b"GET /\n\n"])
                assert await recv_bytes_libzmq(theirs, lid, 7) == b"GET /\n\n"
                big = bytes(range(256)) * 1024
                await theirs.send_multipart([lid, big])
                assert await recv_bytes(ours, rid, len(big)) == big
                # We close: libzmq is told, and we do not come back.
                await ours.send_multipart([rid, b""])
                assert await theirs.recv_multipart() == [lid, b""]
                await wait_until(lambda: ours.statistics().connected_endpoints == 0)


async def test_trio_stream_binds_libzmq_stream_connects(zctx: zmq.Context[Any]) -> None:
    with trio.fail_after(15):
        async with trio_zmq.open_socket(STREAM) as ours:
            endpoint = await ours.bind(LOOPBACK)
            with libzmq_socket(zctx, zmq.STREAM, reconnect_ivl=50) as theirs:
                theirs.connect(endpoint)
                lid = theirs.sock.getsockopt(zmq.ROUTING_ID)  # libzmq's way, as ours
                assert isinstance(lid, bytes)
                rid = await expect(ours, None, b"")
                assert await theirs.recv_multipart() == [lid, b""]
                await theirs.send_multipart([lid, b"request"])
                assert await recv_bytes(ours, rid, 7) == b"request"
                await ours.send_multipart([rid, b"reply"])
                assert await recv_bytes_libzmq(theirs, lid, 5) == b"reply"
                # We close it: libzmq is told, and (a connecting libzmq STREAM)
                # reconnects, with the same id on its side and a new one here.
                await ours.send_multipart([rid, b""])
                assert await theirs.recv_multipart() == [lid, b""]
                assert await theirs.recv_multipart() == [lid, b""]
                rid2 = await expect(ours, None, b"")
                assert rid2 != rid
                # libzmq closes it: we are told; libzmq does not come back.
                await theirs.send_multipart([lid, b""])
                with trio.fail_after(5):
                    await wait_until(lambda: poke(theirs) or ours.statistics().queued_inbound > 0)
                await expect(ours, rid2, b"")
                stats = ours.statistics()
                assert (stats.handshakes, stats.disconnections, stats.peers) == (2, 2, 0)


async def test_stream_refuses_inproc_at_once() -> None:
    async with trio_zmq.open_socket(trio_zmq.STREAM) as stream:
        with pytest.raises(trio_zmq.EndpointError):
            await stream.bind("inproc://raw")
        with pytest.raises(trio_zmq.EndpointError):
            stream.connect("inproc://raw")


@pytest.mark.parametrize("impl", IMPLS)
async def test_stream_notify_off_gives_only_data(zctx: zmq.Context[Any], impl: str) -> None:
    """``stream_notify=False`` (libzmq's ZMQ_STREAM_NOTIFY 0): no empty messages, only data.

    Run against libzmq's STREAM with the same option too, as the reference.
    """
    with trio.fail_after(10):
        if impl == "trio":
            async with trio_zmq.open_socket(STREAM, stream_notify=False) as server:
                assert server.stream_notify is False
                address = tcp_address(await server.bind(LOOPBACK))
                async with await trio.open_tcp_stream(*address) as client:
                    await client.send_all(b"hello")
                    rid, data = await server.recv_multipart()
                    assert data == b"hello"  # not a connect notification first
                    await server.send_multipart([rid, b"bye"])
                    assert await client.receive_some() == b"bye"
                async with await trio.open_tcp_stream(*address) as second:
                    await second.send_all(b"second")
                    # The first client's close was not announced either.
                    assert (await server.recv_multipart())[1] == b"second"
        else:
            with libzmq_socket(zctx, zmq.STREAM, stream_notify=0) as server:
                address = tcp_address(server.bind())
                async with await trio.open_tcp_stream(*address) as client:
                    await client.send_all(b"hello")
                    rid, data = await server.recv_multipart()
                    assert data == b"hello"
                async with await trio.open_tcp_stream(*address) as second:
                    await second.send_all(b"second")
                    assert (await server.recv_multipart())[1] == b"second"


async def test_stream_notify_is_a_stream_option() -> None:
    with pytest.raises(TypeError, match="stream_notify"):
        trio_zmq.open_socket(trio_zmq.ROUTER, stream_notify=False)
    with pytest.raises(TypeError, match="stream_notify"):
        async with trio_zmq.open_socket(STREAM, stream_notify=1):
            pass
