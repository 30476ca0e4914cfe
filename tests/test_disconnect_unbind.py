"""disconnect and unbind end their connections as libzmq ends a session.

libzmq 4.3 (zmq_disconnect(3)): nothing more is received from the endpoint,
and what was queued for it still gets up to the linger period to go out.
An unbind ends the sessions accepted on that endpoint the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from tests.helpers import (
    LOOPBACK,
    free_endpoint,
    linked,
    release_endpoint,
    wait_for_peers,
    wait_until,
)
from tests.libzmq_peer import LibzmqSocket, libzmq_socket


async def test_disconnect_lets_queued_messages_go_out_within_linger() -> None:
    with trio.fail_after(10):
        endpoint = await free_endpoint()
        async with trio_zmq.open_socket(trio_zmq.PUSH, reconnect_ivl=0.01) as push:
            push.connect(endpoint)
            await push.send(b"queued 1")
            await push.send(b"queued 2")
            push.disconnect(endpoint)
            assert push.statistics().connected_endpoints == 0
            # No new message can go to that peer any more...
            with trio.move_on_after(0.02) as scope:
                await push.send(b"refused")
            assert scope.cancelled_caught
            # ...but what was queued is still delivered when the peer comes (linger=None).
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                await pull.bind(release_endpoint(endpoint))
                assert await pull.recv() == b"queued 1"
                assert await pull.recv() == b"queued 2"
                await wait_until(lambda: push.statistics().peers == 0)  # then it closed
            assert push.statistics().messages_dropped == 0


async def test_disconnect_with_linger_zero_drops_at_once() -> None:
    with trio.fail_after(10):
        endpoint = await free_endpoint()
        async with trio_zmq.open_socket(trio_zmq.PUSH, linger=0, reconnect_ivl=0.01) as push:
            push.connect(endpoint)
            await push.send(b"dropped")
            push.disconnect(endpoint)
            assert push.statistics().messages_dropped == 1
            assert push.statistics().queued_outbound == 0
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                await pull.bind(release_endpoint(endpoint))
                await trio.sleep(0.1)  # checking that nothing comes
                assert pull.statistics().peers == 0


async def test_disconnect_linger_expires_then_drops() -> None:
    with trio.fail_after(10):
        endpoint = await free_endpoint()
        async with trio_zmq.open_socket(trio_zmq.PUSH, linger=0.05) as push:
            push.connect(endpoint)
            await push.send(b"late")
            push.disconnect(endpoint)
            await wait_until(lambda: push.statistics().messages_dropped == 1)
            assert push.statistics().queued_outbound == 0


async def test_disconnect_drops_unread_messages_from_that_peer() -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PUSH, trio_zmq.PULL) as (push, pull):
            for i in range(5):
                await push.send(b"%d" % i)
            await wait_until(lambda: pull.statistics().queued_inbound == 5)
            assert pull.last_endpoint is not None
            pull.disconnect(pull.last_endpoint)
            stats = pull.statistics()
            assert (stats.queued_inbound, stats.messages_dropped) == (0, 5)
            with trio.move_on_after(0.02) as scope:
                await pull.recv()
            assert scope.cancelled_caught


async def test_unbind_drops_unread_messages_and_refuses_new_connections() -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            for i in range(5):
                await push.send(b"%d" % i)
            await wait_until(lambda: pull.statistics().queued_inbound == 5)
            assert pull.last_endpoint is not None
            pull.unbind(pull.last_endpoint)
            assert pull.statistics().queued_inbound == 0
            assert pull.statistics().messages_dropped == 5
            await wait_for_peers(pull, 0)


async def test_unbind_lets_queued_messages_go_out_within_linger() -> None:
    payload = b"u" * 200_000
    with trio.fail_after(20):
        async with linked(trio_zmq.PUSH, trio_zmq.PULL, connect_options={"rcvhwm": 1}) as (
            push,
            pull,
        ):
            await wait_for_peers(push, 1)
            sent = 0
            with trio.move_on_after(0.2):  # fill everything: the PULL does not read
                while True:
                    await push.send(b"%d:" % sent + payload)
                    sent += 1
            assert push.statistics().queued_outbound > 0
            assert push.last_endpoint is not None
            push.unbind(push.last_endpoint)
            got = [await pull.recv() for _ in range(sent)]
            assert got == [b"%d:" % i + payload for i in range(sent)]
            await wait_for_peers(push, 0)  # and then the connection was closed


async def test_aclose_lingers_on_accepted_connections() -> None:
    payload = b"a" * 200_000
    with trio.fail_after(20):
        async with trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=1) as pull:
            async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
                pull.connect(await push.bind(LOOPBACK))
                await wait_for_peers(push, 1)
                sent = 0
                with trio.move_on_after(0.2):
                    while True:
                        await push.send(b"%d:" % sent + payload)
                        sent += 1
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(push.aclose)  # lingers: nothing was dropped
                    await trio.testing.wait_all_tasks_blocked()
                    got = [await pull.recv() for _ in range(sent)]
            assert got == [b"%d:" % i + payload for i in range(sent)]
            assert push.statistics().messages_dropped == 0


# --- with libzmq peers, over tcp and ipc ---------------------------------------------


def stream_endpoint(transport: str, tmp_path: Path, name: str) -> str:
    """An endpoint for a libzmq peer to bind: a loopback port or a socket file."""
    if transport == "ipc":
        return f"ipc://{tmp_path / name}"
    return "tcp://127.0.0.1:*"


def libzmq_bind(sock: LibzmqSocket, endpoint: str) -> str:
    if endpoint.startswith("tcp://"):
        return sock.bind()
    sock.bind_to(endpoint)
    return endpoint


stream_transports = pytest.mark.parametrize("transport", ["tcp", "ipc"])


@stream_transports
async def test_disconnect_leaves_a_push_with_its_remaining_libzmq_peers(
    zctx: zmq.Context[Any], transport: str, tmp_path: Path
) -> None:
    with (
        trio.fail_after(10),
        libzmq_socket(zctx, zmq.PULL) as kept,
        libzmq_socket(zctx, zmq.PULL) as gone,
    ):
        kept_endpoint = libzmq_bind(kept, stream_endpoint(transport, tmp_path, "kept"))
        gone_endpoint = libzmq_bind(gone, stream_endpoint(transport, tmp_path, "gone"))
        async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
            push.connect(kept_endpoint)
            push.connect(gone_endpoint)
            await wait_for_peers(push, 2)
            push.disconnect(gone_endpoint)
            assert push.statistics().connected_endpoints == 1
            await wait_for_peers(push, 1)
            for i in range(20):
                await push.send(b"%d" % i)
            # Every message goes to the peer that is left, none to the other.
            assert [await kept.recv() for _ in range(20)] == [b"%d" % i for i in range(20)]
            with pytest.raises(zmq.Again):
                gone.sock.recv(zmq.NOBLOCK)


@stream_transports
async def test_unbind_ends_libzmq_connections_and_refuses_new_ones(
    zctx: zmq.Context[Any], transport: str, tmp_path: Path
) -> None:
    bind_to = "tcp://127.0.0.1:*" if transport == "tcp" else f"ipc://{tmp_path / 'pull'}"
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PUSH, reconnect_ivl=10) as push:
        monitor = push.monitor(zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED)
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            endpoint = await pull.bind(bind_to)
            push.connect(endpoint)
            await push.send(b"before")
            assert await pull.recv() == b"before"
            assert await monitor.next_event() == (zmq.EVENT_HANDSHAKE_SUCCEEDED, 0)
            pull.unbind(endpoint)
            # libzmq sees its connection end ...
            event, _ = await monitor.next_event()
            assert event == zmq.EVENT_DISCONNECTED
            assert pull.statistics().bound_endpoints == 0
            await wait_until(lambda: pull.statistics().peers == 0)
            # ... and nobody accepts a new one: a fresh libzmq PUSH cannot get through.
            with libzmq_socket(zctx, zmq.PUSH) as late:
                late_monitor = late.monitor(zmq.EVENT_HANDSHAKE_SUCCEEDED)
                late.connect(endpoint)
                await trio.sleep(0.2)  # checking that nothing comes
                assert late_monitor.events_nowait() == []
                late_monitor.close()
            monitor.close()
            assert pull.statistics().handshakes == 1


@stream_transports
async def test_a_libzmq_peer_that_disconnects_is_counted(
    zctx: zmq.Context[Any], transport: str, tmp_path: Path
) -> None:
    bind_to = "tcp://127.0.0.1:*" if transport == "tcp" else f"ipc://{tmp_path / 'pull'}"
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PUSH) as push:
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            endpoint = await pull.bind(bind_to)
            push.connect(endpoint)
            await wait_for_peers(pull, 1)
            push.sock.disconnect(endpoint)

            def gone() -> bool:
                # libzmq's socket finishes the pipe's termination only when its
                # application thread calls it: poke it while waiting.
                push.sock.getsockopt(zmq.EVENTS)
                return pull.statistics().peers == 0

            await wait_until(gone)
            stats = pull.statistics()
            assert stats.disconnections == 1
            assert stats.bound_endpoints == 1
