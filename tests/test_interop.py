"""Interoperability with real libzmq (4.3.5, bundled with pyzmq), over tcp on loopback.

Every traffic scenario runs in both directions: trio_zmq binds and libzmq
connects, and libzmq binds and trio_zmq connects. The wire checks at the end
compare, byte for byte, what libzmq and trio_zmq put on a raw TCP connection.
"""

from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import ExitStack, asynccontextmanager
from typing import Any

import pytest
import trio
import zmq

import trio_zmq
from trio_zmq import _zmtp
from trio_zmq._transports import tcp

from .helpers import LOOPBACK, wait_for_peers, wait_until
from .libzmq_peer import (
    LibzmqSocket,
    RawReader,
    greeting,
    libzmq_socket,
    ready,
    tcp_address,
)

DIRECTIONS = ["trio_binds", "libzmq_binds"]
direction_param = pytest.mark.parametrize("direction", DIRECTIONS)
sender_param = pytest.mark.parametrize("sender", ["trio", "libzmq"])

#: Frame sizes around the short/long frame boundary, and large ones.
SIZES = [0, 1, 255, 256, 64 * 1024, 1024 * 1024]


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(f"{size}-{seed}").randbytes(size)


async def link(sock: trio_zmq.Socket, peers: Sequence[LibzmqSocket], direction: str) -> None:
    """Connect ``sock`` with every libzmq peer (who binds: ``direction``); wait for handshakes."""
    if direction == "trio_binds":
        endpoint = await sock.bind(LOOPBACK)
        for peer in peers:
            peer.connect(endpoint)
    else:
        for peer in peers:
            sock.connect(peer.bind())
    await wait_for_peers(sock, len(peers))


@asynccontextmanager
async def linked(
    zctx: zmq.Context[Any],
    trio_type: trio_zmq.SocketType,
    zmq_type: int,
    direction: str,
    *,
    n: int = 1,
    **options: Any,
) -> AsyncIterator[tuple[trio_zmq.Socket, list[LibzmqSocket]]]:
    """A trio_zmq socket linked with ``n`` libzmq sockets, handshakes done."""
    async with trio_zmq.open_socket(trio_type, **options) as sock:
        with ExitStack() as stack:
            peers = [stack.enter_context(libzmq_socket(zctx, zmq_type)) for _ in range(n)]
            await link(sock, peers, direction)
            yield sock, peers


# --- basic traffic, each socket-type pairing --------------------------------


@direction_param
async def test_trio_push_to_libzmq_pull(zctx: zmq.Context[Any], direction: str) -> None:
    with trio.fail_after(10):
        async with linked(zctx, trio_zmq.PUSH, zmq.PULL, direction) as (push, [pull]):
            await push.send(b"hello")
            await push.send_multipart([b"a", b"", b"c"])
            assert await pull.recv_multipart() == [b"hello"]
            assert await pull.recv_multipart() == [b"a", b"", b"c"]


@direction_param
async def test_libzmq_push_to_trio_pull(zctx: zmq.Context[Any], direction: str) -> None:
    with trio.fail_after(10):
        async with linked(zctx, trio_zmq.PULL, zmq.PUSH, direction) as (pull, [push]):
            await push.send(b"hello")
            await push.send_multipart([b"a", b"", b"c"])
            assert await pull.recv() == b"hello"
            assert await pull.recv_multipart() == [b"a", b"", b"c"]


@direction_param
@pytest.mark.parametrize(
    "types",
    [
        (trio_zmq.DEALER, zmq.DEALER),
        (trio_zmq.PAIR, zmq.PAIR),
        (trio_zmq.SUB, zmq.XPUB),
        (trio_zmq.XSUB, zmq.XPUB),
    ],
    ids=["DEALER", "PAIR", "SUB", "XSUB"],
)
async def test_recv_leaves_a_multipart_message_from_libzmq_in_place(
    zctx: zmq.Context[Any], direction: str, types: tuple[trio_zmq.SocketType, int]
) -> None:
    """``recv`` (one frame) takes a libzmq peer's single-frame messages in one step.

    A multipart one raises MultipartMessageError and stays for ``recv_multipart``.
    """
    trio_type, zmq_type = types
    options: dict[str, Any] = {"subscribe": b""} if trio_type == trio_zmq.SUB else {}
    with trio.fail_after(10):
        async with linked(zctx, trio_type, zmq_type, direction, **options) as (sock, [peer]):
            if trio_type == trio_zmq.XSUB:
                await sock.send(b"\x01")
            if zmq_type == zmq.XPUB:
                assert await peer.recv_multipart() == [b"\x01"]  # the subscription arrived
            await peer.send_multipart([b"a", b"b"])
            await peer.send(b"single")
            await wait_until(lambda: sock.statistics().queued_inbound == 2)
            with pytest.raises(trio_zmq.MultipartMessageError):
                await sock.recv()
            assert await sock.recv_multipart() == [b"a", b"b"]
            assert await sock.recv() == b"single"


@direction_param
async def test_pair_both_ways(zctx: zmq.Context[Any], direction: str) -> None:
    with trio.fail_after(10):
        async with linked(zctx, trio_zmq.PAIR, zmq.PAIR, direction) as (pair, [zpair]):
            for i in range(3):
                await pair.send_multipart([b"ping", b"%d" % i])
                assert await zpair.recv_multipart() == [b"ping", b"%d" % i]
                await zpair.send_multipart([b"pong", b"%d" % i])
                assert await pair.recv_multipart() == [b"pong", b"%d" % i]
            # Both sides sending at once.
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pair.send, b"from trio")
                nursery.start_soon(zpair.send, b"from libzmq")
            assert await pair.recv() == b"from libzmq"
            assert await zpair.recv() == b"from trio"


# --- frame sizes --------------------------------------------------------------


@direction_param
@sender_param
@pytest.mark.parametrize("grouping", ["one_message", "separate_messages"])
async def test_frame_sizes(
    zctx: zmq.Context[Any], direction: str, sender: str, grouping: str
) -> None:
    frames = [payload(size) for size in SIZES]
    messages = [frames] if grouping == "one_message" else [[f] for f in frames]
    trio_type, zmq_type = (
        (trio_zmq.PUSH, zmq.PULL) if sender == "trio" else (trio_zmq.PULL, zmq.PUSH)
    )
    with trio.fail_after(10):
        async with linked(zctx, trio_type, zmq_type, direction) as (sock, [peer]):
            if sender == "trio":
                for msg in messages:
                    await sock.send_multipart(msg)
                received = [await peer.recv_multipart() for _ in messages]
            else:
                await peer.send_many(messages)
                received = [await sock.recv_multipart() for _ in messages]
    assert [list(map(len, m)) for m in received] == [list(map(len, m)) for m in messages]
    assert received == messages


# --- load balancing and fair queuing -------------------------------------------


@direction_param
async def test_round_robin_to_libzmq_pulls(zctx: zmq.Context[Any], direction: str) -> None:
    n, k = 3, 5
    with trio.fail_after(10):
        async with linked(zctx, trio_zmq.PUSH, zmq.PULL, direction, n=n) as (push, pulls):
            assert push.statistics().peers == n
            for i in range(n * k):
                await push.send(b"%d" % i)
            got = [[int(m[0]) for m in await pull.recv_many(k)] for pull in pulls]
    for seq in got:
        assert len(seq) == k
        assert seq == list(range(seq[0], n * k, n)), got  # i, i+n, i+2n ...
    assert sorted(seq[0] for seq in got) == list(range(n)), got


@direction_param
async def test_fair_queuing_from_libzmq_pushes(zctx: zmq.Context[Any], direction: str) -> None:
    n, count = 3, 20
    with trio.fail_after(10):
        async with linked(zctx, trio_zmq.PULL, zmq.PUSH, direction, n=n) as (pull, pushes):
            async with trio.open_nursery() as nursery:
                for s, push in enumerate(pushes):
                    msgs = [[b"%d" % s, b"%d" % i] for i in range(count)]
                    nursery.start_soon(push.send_many, msgs)
            # Everything is queued inbound before the first recv.
            await wait_until(lambda: pull.statistics().queued_inbound == n * count)
            received = [await pull.recv_multipart() for _ in range(n * count)]
            with pytest.raises(trio.WouldBlock):
                pull.recv_multipart_nowait()
    senders = [int(m[0]) for m in received]
    for s in range(n):
        assert [int(m[1]) for m in received if int(m[0]) == s] == list(range(count))
    # One message from each peer in turn, never one peer drained first.
    for i in range(len(senders) - n + 1):
        assert len(set(senders[i : i + n])) == n, senders


# --- volume ---------------------------------------------------------------------


@direction_param
@sender_param
async def test_many_messages_in_order(zctx: zmq.Context[Any], direction: str, sender: str) -> None:
    count = 10_000
    messages = [[b"%05d" % i] for i in range(count)]
    trio_type, zmq_type = (
        (trio_zmq.PUSH, zmq.PULL) if sender == "trio" else (trio_zmq.PULL, zmq.PUSH)
    )
    received: list[list[bytes]] = []
    with trio.fail_after(20):
        async with linked(zctx, trio_type, zmq_type, direction) as (sock, [peer]):
            if sender == "trio":

                async def receive() -> None:
                    received.extend(await peer.recv_many(count))

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(receive)
                    for msg in messages:
                        await sock.send_multipart(msg)
            else:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(peer.send_many, messages)
                    received.extend([await sock.recv_multipart() for _ in range(count)])
    assert received == messages


@direction_param
async def test_bursts_of_every_size_arrive_whole_at_libzmq(
    zctx: zmq.Context[Any], direction: str
) -> None:
    """Each burst's tail goes out on its own, nothing sent after it needed.

    Short bursts when the program idles; longer ones by the writer's stream
    deadline, as its idle detection only watches a batch's first messages
    (``PeerWriter._gather``).
    """
    with trio.fail_after(20):
        async with linked(zctx, trio_zmq.PUSH, zmq.PULL, direction) as (push, [pull]):
            for burst in (1, 2, 5, 17, 40, 300, 1000, 3, 100):
                messages = [[b"%d-%d" % (burst, i)] for i in range(burst)]
                for msg in messages:
                    await push.send_multipart(msg)
                assert await pull.recv_many(burst) == messages


# --- connecting before the peer binds ------------------------------------------------


def unused_endpoint() -> str:
    """A loopback endpoint on a port the kernel just chose and nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


async def test_libzmq_connects_before_trio_binds(zctx: zmq.Context[Any]) -> None:
    endpoint = unused_endpoint()
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PUSH) as push:
        monitor = push.monitor(zmq.EVENT_CONNECT_RETRIED)
        with monitor:
            push.connect(endpoint)
            await push.send(b"queued before bind")  # libzmq queues it (no ZMQ_IMMEDIATE)
            event, _ = await monitor.next_event()  # libzmq tried, failed, and will retry
            assert event == zmq.EVENT_CONNECT_RETRIED
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            assert await pull.bind(endpoint) == endpoint
            assert await pull.recv() == b"queued before bind"
            await push.send(b"after")
            assert await pull.recv() == b"after"


async def test_trio_connects_before_libzmq_binds(
    zctx: zmq.Context[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = unused_endpoint()
    attempts = 0
    real_connect = tcp.connect

    async def counting_connect(address: Any, options: Any) -> trio.SocketStream:
        nonlocal attempts
        attempts += 1
        return await real_connect(address, options)

    monkeypatch.setattr(tcp, "connect", counting_connect)
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
            push.connect(endpoint)
            await push.send(b"queued before bind")
            await wait_until(lambda: attempts >= 2)  # it failed and tried again
            assert push.statistics().peers == 0
            assert push.statistics().queued_outbound == 1
            with libzmq_socket(zctx, zmq.PULL) as pull:
                pull.bind_to(endpoint)
                assert await pull.recv() == b"queued before bind"
                await push.send(b"after")
                assert await pull.recv() == b"after"


# --- on the wire: libzmq and trio_zmq send the same bytes ------------------------------

#: READY as libzmq 4.3.5 sends it (digest 1.6.2), written out independently.
EXPECTED_READY = {
    "PUSH": bytes.fromhex("041a") + b"\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH",
    "PULL": bytes.fromhex("041a") + b"\x05READY\x0bSocket-Type\x00\x00\x00\x04PULL",
    "PAIR": bytes.fromhex("041a") + b"\x05READY\x0bSocket-Type\x00\x00\x00\x04PAIR",
}


async def open_raw(
    role: str, bind: Callable[[], Awaitable[str]], connect: Callable[[str], None]
) -> trio.SocketStream:
    """A raw TCP connection with a socket, given its (async) ``bind`` and ``connect``.

    ``role`` says whether the raw side connects to the socket's bound
    endpoint or listens and is connected to.
    """
    if role == "raw_connects":
        return await trio.open_tcp_stream(*tcp_address(await bind()))
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    try:
        connect(f"tcp://127.0.0.1:{listener.socket.getsockname()[1]}")
        return await listener.accept()
    finally:
        await listener.aclose()


@asynccontextmanager
async def raw_connection(
    zctx: zmq.Context[Any], impl: str, type_name: str, role: str
) -> AsyncIterator[tuple[trio.SocketStream, LibzmqSocket | trio_zmq.Socket]]:
    """A raw TCP connection to a libzmq or trio_zmq socket of type ``type_name``."""
    if impl == "libzmq":
        with libzmq_socket(zctx, getattr(zmq, type_name)) as zsock:

            async def zbind() -> str:
                return zsock.bind()

            async with await open_raw(role, zbind, zsock.connect) as stream:
                yield stream, zsock
    else:
        socket_type = trio_zmq.SocketType[type_name]
        async with trio_zmq.open_socket(socket_type, linger=0) as tsock:  # noqa: SIM117
            async with await open_raw(role, lambda: tsock.bind(LOOPBACK), tsock.connect) as stream:
                yield stream, tsock


async def capture_handshake(
    zctx: zmq.Context[Any], impl: str, type_name: str, role: str
) -> tuple[bytes, bytes]:
    """The greeting and READY that ``impl``'s socket sends to a raw NULL peer."""
    async with raw_connection(zctx, impl, type_name, role) as (stream, _):
        await stream.send_all(greeting())  # all 64 bytes: libzmq waits for ours in stages
        reader = RawReader(stream)
        return await reader.read_exactly(64), await reader.read_frame()


@pytest.mark.parametrize("role", ["raw_connects", "raw_listens"])
@pytest.mark.parametrize("type_name", ["PUSH", "PULL", "PAIR"])
async def test_greeting_and_ready_match_libzmq(
    zctx: zmq.Context[Any], type_name: str, role: str
) -> None:
    with trio.fail_after(10):
        lz_greeting, lz_ready = await capture_handshake(zctx, "libzmq", type_name, role)
        tz_greeting, tz_ready = await capture_handshake(zctx, "trio_zmq", type_name, role)

    # READY: identical, byte for byte.
    assert lz_ready == EXPECTED_READY[type_name]
    assert tz_ready == lz_ready
    # Greeting: libzmq's padding is u64 BE (routing-id length + 1); RFC 37 and
    # the digest (1.2, 6) let trio_zmq send zeros there. Every other byte,
    # (signature, version 3.1, mechanism, as-server, filler) is identical.
    assert lz_greeting[1:9] == (1).to_bytes(8, "big")
    assert tz_greeting[1:9] == bytes(8)
    assert tz_greeting[0] == lz_greeting[0] == 0xFF
    assert tz_greeting[9:] == lz_greeting[9:]
    assert lz_greeting[9:12] == b"\x7f\x03\x01"
    assert lz_greeting[12:32] == b"NULL".ljust(20, b"\x00")
    assert lz_greeting[32:] == bytes(32)

    # The sans-IO Connection produces the same bytes as the socket did.
    conn = _zmtp.Connection(_zmtp.SocketType[type_name])
    assert conn.data_to_send() == tz_greeting
    conn.receive_data(lz_greeting)
    assert conn.data_to_send() == tz_ready


@pytest.mark.parametrize("role", ["raw_connects", "raw_listens"])
async def test_message_frames_match_libzmq(zctx: zmq.Context[Any], role: str) -> None:
    """A PUSH's multipart message around the short/long boundary, as raw bytes."""
    msg = [payload(size, seed=1) for size in [0, 1, 255, 256, 70_000]]

    async def capture(impl: str) -> bytes:
        async with raw_connection(zctx, impl, "PUSH", role) as (stream, sock):
            await stream.send_all(greeting() + ready(b"PULL"))
            reader = RawReader(stream)
            await reader.read_exactly(64)
            assert await reader.read_frame() == EXPECTED_READY["PUSH"]
            await sock.send_multipart(msg)
            frames: list[bytes] = []
            while not frames or frames[-1][0] & 1:  # until a frame without MORE
                frames.append(await reader.read_frame())
            return b"".join(frames)

    with trio.fail_after(10):
        lz_bytes = await capture("libzmq")
        tz_bytes = await capture("trio_zmq")
    assert lz_bytes[:2] == b"\x01\x00"  # short, MORE, empty
    assert lz_bytes[2 + 3 + 257 : 2 + 3 + 257 + 9] == b"\x03" + (256).to_bytes(8, "big")
    assert tz_bytes == lz_bytes


# --- PAIR talks to its first peer only -------------------------------------------


async def test_trio_pair_serves_only_its_first_peer(zctx: zmq.Context[Any]) -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PAIR) as pair:
            endpoint = await pair.bind(LOOPBACK)
            with (
                libzmq_socket(zctx, zmq.PAIR) as first,
                libzmq_socket(zctx, zmq.PAIR) as second,
            ):
                first.connect(endpoint)
                await wait_for_peers(pair, 1)
                second.connect(endpoint)
                await wait_for_peers(pair, 2)  # accepted and handshaken, as libzmq does...
                await second.send(b"from the second")  # ...but nothing passes through it
                await first.send(b"from the first")
                assert await pair.recv() == b"from the first"
                await pair.send(b"to the first")
                assert await first.recv() == b"to the first"
                await wait_until(lambda: pair.statistics().messages_dropped == 1)
                with trio.move_on_after(0.05) as scope:
                    await pair.recv()
                assert scope.cancelled_caught


async def test_libzmq_pair_serves_only_its_first_trio_peer(zctx: zmq.Context[Any]) -> None:
    with trio.fail_after(10):
        with libzmq_socket(zctx, zmq.PAIR) as zpair:
            endpoint = zpair.bind()
            async with trio_zmq.open_socket(trio_zmq.PAIR) as first:
                first.connect(endpoint)
                await first.send(b"from the first")
                assert await zpair.recv() == b"from the first"
                async with trio_zmq.open_socket(trio_zmq.PAIR) as second:
                    second.connect(endpoint)
                    await wait_for_peers(second, 1)  # libzmq completes the handshake...
                    second.send_nowait(b"from the second")  # ...and ignores what comes
                    await zpair.send(b"to the first")
                    assert await first.recv() == b"to the first"
                    await first.send(b"again")
                    assert await zpair.recv() == b"again"
                    second.close()


# --- back-pressure across implementations ----------------------------------------


async def test_libzmq_push_is_pushed_back_by_a_trio_pull_that_does_not_read(
    zctx: zmq.Context[Any],
) -> None:
    payload = b"b" * 100_000
    with trio.fail_after(20):
        async with trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=5) as pull:
            with libzmq_socket(zctx, zmq.PUSH, sndhwm=5) as push:
                push.connect(await pull.bind(LOOPBACK))
                await wait_for_peers(pull, 1)

                def fill() -> int:  # libzmq's NOBLOCK sends, until it says EAGAIN
                    sent = 0
                    while True:
                        try:
                            push.sock.send(b"%d:" % sent + payload, zmq.NOBLOCK)
                        except zmq.Again:
                            if not push.sock.poll(200, zmq.POLLOUT):
                                return sent
                        else:
                            sent += 1

                sent = await trio.to_thread.run_sync(fill)
                # Our reader stopped at RCVHWM, TCP filled up, libzmq's pipe filled up.
                assert pull.statistics().queued_inbound == 5
                assert sent < 1000
                for i in range(sent):
                    assert await pull.recv() == b"%d:" % i + payload


async def test_trio_push_is_pushed_back_by_a_libzmq_pull_that_does_not_read(
    zctx: zmq.Context[Any],
) -> None:
    payload = b"b" * 100_000
    with trio.fail_after(20):
        async with trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=5) as push:
            with libzmq_socket(zctx, zmq.PULL, rcvhwm=5) as pull:
                push.connect(pull.bind())
                await wait_for_peers(push, 1)
                sent = 0
                with trio.move_on_after(0.5):
                    while True:
                        await push.send(b"%d:" % sent + payload)
                        sent += 1
                assert push.statistics().queued_outbound == 5  # send blocked at SNDHWM
                assert sent < 1000
                got = await pull.recv_many(sent)
                assert got == [[b"%d:" % i + payload] for i in range(sent)]
