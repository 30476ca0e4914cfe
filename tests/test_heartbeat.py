"""Heartbeats: PINGs on an interval, timeouts, the peer's TTL, against libzmq too."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from tests.helpers import LOOPBACK, wait_for_peers, wait_until
from tests.libzmq_peer import (
    RawReader,
    command,
    greeting,
    libzmq_socket,
    ready,
    tcp_address,
)
from trio_zmq import _zmtp
from trio_zmq._heartbeat import Heartbeat

# --- the timers, on a virtual clock --------------------------------------------


async def test_pings_on_the_interval_and_times_out_without_traffic(
    autojump_clock: trio.testing.MockClock,
) -> None:
    heartbeat = Heartbeat(ivl=1.0, ttl=2.5, timeout=3.0)
    pings: list[tuple[float, float]] = []
    start = trio.current_time()
    with trio.fail_after(60):
        reason = await heartbeat.run(lambda ttl: pings.append((trio.current_time() - start, ttl)))
    assert [t for t, _ in pings] == [1.0, 2.0, 3.0]  # the timer started by the first one...
    assert {ttl for _, ttl in pings} == {2.5}
    assert trio.current_time() - start == 4.0  # ...runs out 3 s after it
    assert "after a PING" in reason


async def test_traffic_after_each_ping_keeps_the_connection(
    autojump_clock: trio.testing.MockClock,
) -> None:
    heartbeat = Heartbeat(ivl=1.0, ttl=None, timeout=1.5)
    pings = 0

    def ping(ttl: float) -> None:
        nonlocal pings
        pings += 1

    async def peer_answers() -> None:
        while True:
            await trio.sleep(1.2)  # a PONG (or anything) arrives after each PING
            heartbeat.received(None)

    with trio.move_on_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer_answers)
            await heartbeat.run(ping)
            raise AssertionError("the heartbeat timed out")  # pragma: no cover
    assert pings >= 19


async def test_peer_ttl_starts_a_timer_that_traffic_stops(
    autojump_clock: trio.testing.MockClock,
) -> None:
    heartbeat = Heartbeat(ivl=None, ttl=None, timeout=None)  # we send no PINGs
    ping = _zmtp.Ping(ttl=2.0, context=b"")
    pings: list[float] = []
    with trio.fail_after(60):
        await _ttl_scenario(heartbeat, ping, pings)
    assert pings == []


async def _ttl_scenario(heartbeat: Heartbeat, ping: _zmtp.Ping, pings: list[float]) -> None:
    async with trio.open_nursery() as nursery:

        async def run() -> None:
            reason = await heartbeat.run(pings.append)
            assert "TTL" in reason
            assert trio.current_time() - start == pytest.approx(3.0 + 2.0)

        start = trio.current_time()
        nursery.start_soon(run)
        await trio.sleep(1.0)
        heartbeat.received([ping])  # timer: 2 s
        await trio.sleep(1.0)
        heartbeat.received(None)  # anything after it stops it
        await trio.sleep(1.0)  # (the task wakes at the old deadline, at 3.0, too)
        heartbeat.received([ping])  # a new timer, and silence after it


# --- on the wire ------------------------------------------------------------------


async def _raw_peer(endpoint: str, socket_type: bytes) -> tuple[trio.SocketStream, RawReader]:
    stream = await trio.open_tcp_stream(*tcp_address(endpoint))
    await stream.send_all(greeting() + ready(socket_type))
    reader = RawReader(stream)
    await reader.read_exactly(64)
    await reader.read_frame()  # its READY
    return stream, reader


async def test_pings_go_out_with_the_ttl_and_a_silent_peer_is_dropped() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(
            trio_zmq.PULL, heartbeat_ivl=0.05, heartbeat_ttl=0.5, heartbeat_timeout=0.2
        ) as pull:
            assert (pull.heartbeat_ivl, pull.heartbeat_ttl, pull.heartbeat_timeout) == (
                0.05,
                0.5,
                0.2,
            )
            stream, reader = await _raw_peer(await pull.bind(LOOPBACK), b"PUSH")
            # libzmq's bytes: 04 07 04 PING <ttl in deciseconds, u16>, no context.
            assert await reader.read_frame() == b"\x04\x07\x04PING\x00\x05"
            rest = await reader.read_until_closed()  # we say nothing: dropped
            assert rest in (b"", b"\x04\x07\x04PING\x00\x05" * (len(rest) // 9))
            await wait_until(lambda: pull.statistics().heartbeat_timeouts == 1)
            assert pull.statistics().peers == 0
            await stream.aclose()


async def test_a_peer_that_answers_is_kept() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(
            trio_zmq.PULL, heartbeat_ivl=0.03, heartbeat_timeout=0.1
        ) as pull:
            stream, reader = await _raw_peer(await pull.bind(LOOPBACK), b"PUSH")
            for _ in range(10):  # 0.3 s: three timeouts' worth
                assert await reader.read_frame() == b"\x04\x07\x04PING\x00\x00"
                await stream.send_all(command(b"PONG"))
            assert pull.statistics().heartbeat_timeouts == 0
            assert pull.statistics().peers == 1
            await stream.aclose()


async def test_the_peers_ttl_is_honoured() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:  # no heartbeats of our own
            stream, reader = await _raw_peer(await pull.bind(LOOPBACK), b"PUSH")
            start = trio.current_time()
            await stream.send_all(command(b"PING", b"\x00\x02ctx"))  # TTL 0.2 s
            assert await reader.read_frame() == command(b"PONG", b"ctx")
            await reader.read_until_closed()  # and then silence: dropped
            assert trio.current_time() - start >= 0.2
            await wait_until(lambda: pull.statistics().heartbeat_timeouts == 1)
            await stream.aclose()


async def test_connect_side_reconnects_after_a_heartbeat_timeout() -> None:
    with trio.fail_after(10):
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        async with trio_zmq.open_socket(
            trio_zmq.PUSH, heartbeat_ivl=0.05, heartbeat_timeout=0.1, reconnect_ivl=0.01, linger=0
        ) as push:
            push.connect(f"tcp://127.0.0.1:{port}")
            for _ in range(2):  # a silent listener, twice
                stream = await listeners[0].accept()
                await stream.send_all(greeting() + ready(b"PULL"))
                await RawReader(stream).read_until_closed()
                await stream.aclose()
            await wait_until(lambda: push.statistics().heartbeat_timeouts >= 2)
        for listener in listeners:
            await listener.aclose()


@pytest.mark.parametrize("direction", ["trio_binds", "libzmq_binds"])
async def test_libzmq_pings_are_answered(zctx: zmq.Context[Any], direction: str) -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            with libzmq_socket(zctx, zmq.PUSH, heartbeat_ivl=30, heartbeat_timeout=100) as push:
                monitor = push.monitor(zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED)
                if direction == "trio_binds":
                    push.connect(await pull.bind(LOOPBACK))
                else:
                    pull.connect(push.bind())
                await wait_for_peers(pull, 1)
                await trio.sleep(0.5)  # many heartbeats: none may time out
                assert monitor.events_nowait() == []
                await push.send(b"still here")
                assert await pull.recv() == b"still here"
                monitor.close()


@pytest.mark.parametrize("direction", ["trio_binds", "libzmq_binds"])
async def test_libzmq_answers_our_pings(zctx: zmq.Context[Any], direction: str) -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(
            trio_zmq.PUSH, heartbeat_ivl=0.03, heartbeat_timeout=0.1
        ) as push:
            with libzmq_socket(zctx, zmq.PULL) as pull:
                if direction == "trio_binds":
                    pull.connect(await push.bind(LOOPBACK))
                else:
                    push.connect(pull.bind())
                await wait_for_peers(push, 1)
                await trio.sleep(0.5)  # many heartbeats: libzmq answers each
                assert push.statistics().heartbeat_timeouts == 0
                await push.send(b"still here")
                assert await pull.recv() == b"still here"


async def test_heartbeat_options_validate() -> None:
    for name in ("heartbeat_ivl", "heartbeat_ttl", "heartbeat_timeout"):
        with pytest.raises(ValueError, match=name):
            trio_zmq.Context(**{name: -1})
