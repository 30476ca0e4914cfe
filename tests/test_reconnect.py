"""Connecting before the peer exists, reconnecting, and libzmq's backoff."""

from __future__ import annotations

import itertools

import pytest
import trio

import trio_zmq
from tests.helpers import LOOPBACK, free_endpoint, release_endpoint, wait_for_peers, wait_until
from trio_zmq._endpoints import Backoff
from trio_zmq._options import Options


async def test_connect_before_bind_keeps_retrying() -> None:
    with trio.fail_after(10):
        endpoint = await free_endpoint()
        async with trio_zmq.open_socket(trio_zmq.PUSH, reconnect_ivl=0.01) as push:
            push.connect(endpoint)
            await push.send(b"early")  # queued on the connect pipe
            await trio.sleep(0.05)  # several connection attempts are refused meanwhile
            assert push.statistics().peers == 0
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                await pull.bind(release_endpoint(endpoint))
                assert await pull.recv() == b"early"


async def test_reconnect_after_peer_restarts_on_same_port() -> None:
    with trio.fail_after(15):
        async with trio_zmq.open_socket(trio_zmq.PUSH, reconnect_ivl=0.01) as push:
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                endpoint = await pull.bind(LOOPBACK)
                push.connect(endpoint)
                await push.send(b"one")
                assert await pull.recv() == b"one"
            await wait_for_peers(push, 0)
            # Messages sent while the peer is away wait in the connect pipe.
            for i in range(5):
                await push.send(b"away %d" % i)
            assert push.statistics().queued_outbound == 5
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                await pull.bind(endpoint)
                assert [await pull.recv() for _ in range(5)] == [b"away %d" % i for i in range(5)]
                await push.send(b"back")
                assert await pull.recv() == b"back"
            stats = push.statistics()
            assert stats.handshakes == 2
            assert stats.disconnections >= 1


async def test_pair_reconnects_both_ways() -> None:
    with trio.fail_after(15):
        async with trio_zmq.open_socket(trio_zmq.PAIR, reconnect_ivl=0.01) as client:
            async with trio_zmq.open_socket(trio_zmq.PAIR) as server:
                endpoint = await server.bind(LOOPBACK)
                client.connect(endpoint)
                await client.send(b"ping")
                assert await server.recv() == b"ping"
            await wait_for_peers(client, 0)
            async with trio_zmq.open_socket(trio_zmq.PAIR) as server:
                await server.bind(endpoint)
                await server.send(b"new server")  # blocks until the client is back
                assert await client.recv() == b"new server"


async def test_reconnect_ivl_minus_one_never_reconnects() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PUSH, reconnect_ivl=-1, linger=0) as push:
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                endpoint = await pull.bind(LOOPBACK)
                push.connect(endpoint)
                await wait_for_peers(push, 1)
            await wait_until(lambda: push.statistics().connected_endpoints == 0)
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                await pull.bind(endpoint)
                await trio.sleep(0.2)  # checking that something does NOT happen
                assert pull.statistics().peers == 0


async def _accept_times(listener: trio.SocketListener, times: list[float], n: int) -> None:
    """Accept ``n`` connections, closing each at once; record when they came."""
    for _ in range(n):
        stream = await listener.accept()
        times.append(trio.current_time())
        await stream.aclose()


async def test_reconnect_backoff_doubles_up_to_the_max() -> None:
    with trio.fail_after(15):
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        times: list[float] = []
        async with trio_zmq.open_socket(
            trio_zmq.PUSH, reconnect_ivl=0.02, reconnect_ivl_max=0.08
        ) as push:
            push.connect(f"tcp://127.0.0.1:{port}")
            await _accept_times(listeners[0], times, 6)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # Lower bounds only: a reconnect can be late on a busy machine, never early.
        for gap, expected in zip(gaps, [0.02, 0.04, 0.08, 0.08, 0.08], strict=True):
            assert gap >= expected * 0.9, (gaps, expected)
        for listener in listeners:
            await listener.aclose()


def test_backoff_matches_libzmq() -> None:
    backoff = Backoff(Options(reconnect_ivl=0.1, reconnect_ivl_max=0.5))
    assert [backoff.next() for _ in range(6)] == [0.1, 0.2, 0.4, 0.5, 0.5, 0.5]
    backoff.reset()
    assert backoff.next() == 0.1
    # A max below the interval caps it (libzmq uses the max; its manual says otherwise).
    assert Backoff(Options(reconnect_ivl=0.1, reconnect_ivl_max=0.05)).next() == 0.05
    # Without a max: the interval plus a random part below it.
    jittered = Backoff(Options(reconnect_ivl=0.1, reconnect_ivl_max=0))
    values = [jittered.next() for _ in range(200)]
    assert all(0.1 <= v < 0.2 for v in values)
    assert len(set(values)) > 1


@pytest.mark.parametrize("ivl", [0, 0.0])
async def test_zero_reconnect_ivl_is_refused(ivl: float) -> None:
    # libzmq takes a random jitter modulo the interval (undefined for 0);
    # here it would be a busy loop. -1 and None mean "never".
    with pytest.raises(ValueError, match="reconnect_ivl"):
        trio_zmq.Context(reconnect_ivl=ivl)
    async with trio_zmq.open_socket(trio_zmq.PUSH, reconnect_ivl=-1) as push:
        assert push.reconnect_ivl is None
        with pytest.raises(ValueError, match="reconnect_ivl"):
            push.reconnect_ivl = ivl
