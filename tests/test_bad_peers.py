"""Misbehaving peers: raw TCP peers that break ZMTP, and libzmq sockets of the wrong type.

The accepting side: a trio_zmq PULL is bound, a good libzmq PUSH is connected
and sending; a bad peer connects and misbehaves. trio_zmq must close the bad
connection, count it (``protocol_errors`` or ``handshake_timeouts``), log it,
let nothing from it reach ``recv``, and keep the good peer's messages coming.

The connecting side: after a protocol error libzmq does not reconnect
(digest 1.12); after a plain close it does. trio_zmq and libzmq are run
against the same scripted listener.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio
import zmq

import trio_zmq

from .helpers import LOOPBACK, wait_for_peers, wait_until
from .libzmq_peer import (
    RawReader,
    command,
    greeting,
    libzmq_socket,
    message,
    ready,
    tcp_address,
)

#: maxmsgsize of the trio_zmq PULL under attack.
MAXMSGSIZE = 1000

Act = Callable[[trio.SocketStream, RawReader], Awaitable[None]]


async def send_quietly(stream: trio.SocketStream, data: bytes) -> None:
    """Send, ignoring a reset: trio_zmq may hang up before we are done."""
    try:
        await stream.send_all(data)
    except trio.BrokenResourceError:
        pass


# --- the accepting side ------------------------------------------------------------


@dataclass(frozen=True)
class BadPeer:
    name: str
    act: Act
    #: The statistic that must go up by one.
    counter: str = "protocol_errors"
    #: Whether the bad peer gets as far as a completed handshake.
    handshake_completes: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def sends(data: bytes) -> Act:
    async def act(stream: trio.SocketStream, reader: RawReader) -> None:
        await send_quietly(stream, data)

    return act


async def oversize_frame_after_handshake(stream: trio.SocketStream, reader: RawReader) -> None:
    # A proper handshake first: our greeting and READY, then trio_zmq's, and
    # only then a message (digest 1.6.4) whose frame is over maxmsgsize.
    await stream.send_all(greeting() + ready(b"PUSH"))
    assert (await reader.read_exactly(64))[:1] == b"\xff"
    assert b"READY" in await reader.read_frame()
    await send_quietly(stream, message(b"evil" * (2 * MAXMSGSIZE // 4)))


EVIL = message(b"evil")

BAD_PEERS = [
    BadPeer("http_request", sends(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")),
    BadPeer("binary_garbage", sends(b"\xff" + random.Random(7).randbytes(300))),
    BadPeer("mechanism_curve", sends(greeting(b"CURVE"))),
    BadPeer("mechanism_foo", sends(greeting(b"FOO") + ready(b"PUSH") + EVIL)),
    BadPeer("socket_type_pull", sends(greeting() + ready(b"PULL") + EVIL)),
    BadPeer("socket_type_pub", sends(greeting() + ready(b"PUB") + EVIL)),
    BadPeer("socket_type_unknown", sends(greeting() + ready(b"FOO") + EVIL)),
    # ZMTP 2.0: revision 01, socket type PUSH, an empty identity frame, a message.
    BadPeer("zmtp_2_0", sends(b"\xff" + bytes(8) + b"\x7f\x01\x08" + b"\x00\x00\x00\x04evil")),
    # ZMTP 1.0: an empty identity frame (length 1 counts the flags), a message.
    BadPeer("zmtp_1_0", sends(b"\x01\x00\x05\x00evil")),
    BadPeer("message_before_ready", sends(greeting() + EVIL)),
    # The Socket-Type value claims 9 bytes and has 4.
    BadPeer(
        "truncated_ready",
        sends(greeting() + command(b"READY", b"\x0bSocket-Type\x00\x00\x00\x09PUSH") + EVIL),
    ),
    BadPeer("oversize_frame", oversize_frame_after_handshake, handshake_completes=True),
    BadPeer("silent", sends(b""), counter="handshake_timeouts", options={"handshake_ivl": 0.2}),
    BadPeer(
        "partial_greeting",
        sends(greeting()[:10]),
        counter="handshake_timeouts",
        options={"handshake_ivl": 0.2},
    ),
    BadPeer(
        "greeting_without_ready",
        sends(greeting()),
        counter="handshake_timeouts",
        options={"handshake_ivl": 0.2},
    ),
]


@pytest.mark.parametrize("bad", BAD_PEERS, ids=lambda bad: bad.name)
async def test_bad_peer_is_dropped(
    zctx: zmq.Context[Any], caplog: pytest.LogCaptureFixture, bad: BadPeer
) -> None:
    caplog.set_level(logging.INFO, logger="trio_zmq")
    with trio.fail_after(10):
        async with trio_zmq.open_socket(
            trio_zmq.PULL, maxmsgsize=MAXMSGSIZE, **bad.options
        ) as pull:
            endpoint = await pull.bind(LOOPBACK)
            with libzmq_socket(zctx, zmq.PUSH) as good:
                good.connect(endpoint)
                await wait_for_peers(pull, 1)
                await good.send(b"before")
                assert await pull.recv() == b"before"

                async with await trio.open_tcp_stream(*tcp_address(endpoint)) as stream:
                    reader = RawReader(stream)
                    await bad.act(stream, reader)
                    await good.send(b"during")
                    opened = trio.current_time()
                    await reader.read_until_closed()  # trio_zmq hangs up
                    open_for = trio.current_time() - opened
                await wait_until(lambda: getattr(pull.statistics(), bad.counter) == 1)

                await good.send(b"after")
                assert await pull.recv() == b"during"
                assert await pull.recv() == b"after"
                with pytest.raises(trio.WouldBlock):
                    pull.recv_nowait()  # nothing from the bad peer
                stats = pull.statistics()

    assert stats.peers == 1
    assert stats.handshakes == (2 if bad.handshake_completes else 1)
    assert stats.messages_received == 3
    if bad.counter == "protocol_errors":
        assert (stats.protocol_errors, stats.handshake_timeouts) == (1, 0)
        warnings = [
            r for r in caplog.records if r.name == "trio_zmq" and r.levelno == logging.WARNING
        ]
        assert len(warnings) == 1, caplog.text
    else:
        assert (stats.protocol_errors, stats.handshake_timeouts) == (0, 1)
        # Closed once handshake_ivl (0.2 s) has passed: not before, nor much later.
        assert 0.1 < open_for < 2.0
        assert any(
            r.name == "trio_zmq" and r.levelno >= logging.INFO and "handshake" in r.getMessage()
            for r in caplog.records
        ), caplog.text


async def test_oversize_frame_from_libzmq_drops_it_and_it_reconnects(
    zctx: zmq.Context[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """maxmsgsize is per frame; the connecting libzmq peer just sees a close, and reconnects."""
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PULL, maxmsgsize=MAXMSGSIZE) as pull:
            with libzmq_socket(zctx, zmq.PUSH) as push:
                push.connect(await pull.bind(LOOPBACK))
                await wait_for_peers(pull, 1)
                at_limit = [b"a" * MAXMSGSIZE, b"b" * MAXMSGSIZE]
                await push.send_multipart(at_limit)
                assert await pull.recv_multipart() == at_limit
                await push.send_multipart([b"small", b"x" * (MAXMSGSIZE + 1)])
                await wait_until(lambda: pull.statistics().protocol_errors == 1)
                await wait_until(lambda: pull.statistics().handshakes == 2)
                await wait_for_peers(pull, 1)
                await push.send(b"after")
                assert await pull.recv() == b"after"
    assert any(r.name == "trio_zmq" and r.levelno == logging.WARNING for r in caplog.records)


TOLERATED_GREETINGS = {
    "zmtp_3_0": greeting(minor=0),
    "zmtp_4_0": greeting(major=4, minor=0),  # "MUST accept higher protocol versions"
    "nonzero_padding": greeting(padding=bytes(7) + b"\x03"),  # as libzmq with a 2-byte id
    "as_server_set": greeting()[:32] + b"\x01" + bytes(31),  # ignored, as by libzmq
}


@pytest.mark.parametrize("server", ["trio_zmq", "libzmq"])
@pytest.mark.parametrize("variant", TOLERATED_GREETINGS)
async def test_tolerated_greetings(zctx: zmq.Context[Any], server: str, variant: str) -> None:
    """Greetings that are odd but valid: both implementations complete the handshake."""
    with trio.fail_after(10):
        async with open_pull(zctx, server) as (endpoint, pull):
            async with await trio.open_tcp_stream(*tcp_address(endpoint)) as stream:
                await stream.send_all(TOLERATED_GREETINGS[variant] + ready(b"PUSH"))
                reader = RawReader(stream)
                await reader.read_exactly(64)
                assert b"READY" in await reader.read_frame()
                await stream.send_all(message(b"ok"))
                assert await pull.recv() == b"ok"
            if isinstance(pull, trio_zmq.Socket):
                assert pull.statistics().protocol_errors == 0


# --- libzmq sockets of an incompatible type ------------------------------------------------


async def test_trio_connecting_to_incompatible_libzmq_gives_up(zctx: zmq.Context[Any]) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PUB) as pub:
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            pull.connect(pub.bind())
            await wait_until(lambda: pull.statistics().protocol_errors == 1)
            await wait_until(lambda: pull.statistics().connected_endpoints == 0)
            assert pull.statistics().peers == 0


@pytest.mark.parametrize("server", ["trio_zmq", "libzmq"])
async def test_incompatible_libzmq_peer_does_not_reconnect(
    zctx: zmq.Context[Any], server: str
) -> None:
    """A libzmq PUB connecting to a PULL gets a protocol error and gives up.

    With a libzmq PULL (the control case) both sides have sent READY before
    reading the other's, so the PUB sees the PULL's READY, fails the
    socket-type check itself and never reconnects. Against trio_zmq it must
    be the same, which needs trio_zmq to have sent its READY before it hangs
    up on the PUB. (libzmq sends the rest of its greeting and its READY in
    one burst once it has trio_zmq's 64-byte greeting; if trio_zmq rejects
    that READY without flushing its own, queued in the same ``receive_data``
    call, the PUB sees only a close, reconnects every 100-200 ms, and each
    attempt is another protocol error and warning.)
    """
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PUB) as pub:
        events = zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECT_RETRIED | zmq.EVENT_HANDSHAKE_SUCCEEDED
        with pub.monitor(events) as monitor, libzmq_socket(zctx, zmq.PUSH) as good:
            async with open_pull(zctx, server) as (endpoint, pull):
                good.connect(endpoint)
                pub.connect(endpoint)
                seen: list[int] = []

                def disconnected() -> bool:
                    seen.extend(event for event, _ in monitor.events_nowait())
                    return zmq.EVENT_DISCONNECTED in seen

                await wait_until(disconnected)
                # Checking for the absence of a reconnect: libzmq's first retry
                # comes 100-200 ms after the disconnect (reconnect_ivl 0.1 + jitter).
                await trio.sleep(0.5)
                seen.extend(event for event, _ in monitor.events_nowait())
                await good.send(b"still fine")
                assert await pull.recv() == b"still fine"
                if isinstance(pull, trio_zmq.Socket):
                    errors = pull.statistics().protocol_errors
                    assert errors == 1, f"the PUB reconnected; libzmq monitor events: {seen}"
                    assert pull.statistics().peers == 1
        assert seen.count(zmq.EVENT_DISCONNECTED) == 1, seen
        assert zmq.EVENT_CONNECT_RETRIED not in seen, seen
        assert zmq.EVENT_HANDSHAKE_SUCCEEDED not in seen, seen


@asynccontextmanager
async def open_pull(zctx: zmq.Context[Any], server: str) -> AsyncIterator[tuple[str, Any]]:
    """A bound PULL of either implementation, with an async ``recv``."""
    if server == "trio_zmq":
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            yield await pull.bind(LOOPBACK), pull
    else:
        with libzmq_socket(zctx, zmq.PULL) as zpull:
            yield zpull.bind(), zpull


# --- the connecting side -----------------------------------------------------------------------

Answer = Callable[[trio.SocketStream, RawReader], Awaitable[None]]


async def answer_incompatible_ready(stream: trio.SocketStream, reader: RawReader) -> None:
    await stream.send_all(greeting() + ready(b"PUSH"))  # the client is a PUSH too


async def answer_error_command(stream: trio.SocketStream, reader: RawReader) -> None:
    # As a libzmq server refusing by ZAP (digest 1.6.5, 1.7): ERROR "400" in
    # answer to the client's READY. (libzmq's NULL client does not act on an
    # ERROR that arrives before it has sent its own READY: it then waits for
    # handshake_ivl.)
    await stream.send_all(greeting())
    await reader.read_exactly(64)
    assert b"READY" in await reader.read_frame()
    await stream.send_all(command(b"ERROR", b"\x03400"))


async def answer_mechanism_mismatch(stream: trio.SocketStream, reader: RawReader) -> None:
    await stream.send_all(greeting(b"PLAIN"))


async def answer_close_after_greeting(stream: trio.SocketStream, reader: RawReader) -> None:
    await stream.send_all(greeting())
    await reader.read_exactly(64)
    await stream.aclose()  # a plain close, not a protocol error


@asynccontextmanager
async def scripted_listener(answer: Answer) -> AsyncIterator[tuple[str, list[int]]]:
    """A raw listener answering each connection with ``answer``, then reading until closed.

    Yields its endpoint and ``[accepted, closed]`` counts.
    """
    counts = [0, 0]
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]

    async def serve(stream: trio.SocketStream) -> None:
        counts[0] += 1
        async with stream:
            reader = RawReader(stream)
            try:
                await answer(stream, reader)
                await reader.read_until_closed()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
        counts[1] += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, serve, [listener])
        yield f"tcp://127.0.0.1:{port}", counts
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def open_push(zctx: zmq.Context[Any], client: str) -> AsyncIterator[Any]:
    if client == "trio_zmq":
        async with trio_zmq.open_socket(trio_zmq.PUSH, linger=0) as push:
            yield push
    else:
        with libzmq_socket(zctx, zmq.PUSH) as zpush:
            yield zpush


@pytest.mark.parametrize("client", ["trio_zmq", "libzmq"])
@pytest.mark.parametrize(
    "answer",
    [answer_incompatible_ready, answer_error_command, answer_mechanism_mismatch],
    ids=["incompatible_ready", "error_command", "mechanism_mismatch"],
)
async def test_connecter_gives_up_after_protocol_error(
    zctx: zmq.Context[Any], client: str, answer: Answer, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(10):
        async with scripted_listener(answer) as (endpoint, counts), open_push(zctx, client) as push:
            push.connect(endpoint)
            await wait_until(lambda: counts[1] == 1)  # the client hung up
            if isinstance(push, trio_zmq.Socket):
                await wait_until(lambda: push.statistics().connected_endpoints == 0)
                assert push.statistics().protocol_errors == 1
                assert any(r.levelno == logging.WARNING for r in caplog.records)
            # Checking for the absence of a reconnect (libzmq's comes within 200 ms).
            await trio.sleep(0.5)
            assert counts[0] == 1


@pytest.mark.parametrize("client", ["trio_zmq", "libzmq"])
async def test_connecter_retries_after_plain_close(zctx: zmq.Context[Any], client: str) -> None:
    with trio.fail_after(10):
        async with (
            scripted_listener(answer_close_after_greeting) as (endpoint, counts),
            open_push(zctx, client) as push,
        ):
            push.connect(endpoint)
            await wait_until(lambda: counts[0] >= 3)  # reconnected, twice
            if isinstance(push, trio_zmq.Socket):
                stats = push.statistics()
                assert (stats.protocol_errors, stats.handshake_timeouts) == (0, 0)
                assert stats.connected_endpoints == 1
