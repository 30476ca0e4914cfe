"""Closing: linger, close(), leaving the block, and use after close."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

import trio_zmq
from tests.helpers import LOOPBACK, free_endpoint, release_endpoint, wait_for_peers


async def test_default_linger_delivers_queued_messages_before_closing() -> None:
    with trio.fail_after(10):
        endpoint = await free_endpoint()
        closed = trio.Event()

        async def push_then_leave() -> None:
            async with trio_zmq.open_socket(trio_zmq.PUSH, reconnect_ivl=0.01) as push:
                assert push.linger is None  # the default: wait until everything is sent
                push.connect(endpoint)
                for i in range(3):
                    await push.send(b"%d" % i)
            closed.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(push_then_leave)
            await trio.sleep(0.05)  # the peer is away for a while: leaving must wait
            assert not closed.is_set()
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                await pull.bind(release_endpoint(endpoint))
                assert [await pull.recv() for _ in range(3)] == [b"0", b"1", b"2"]
                await closed.wait()


async def test_linger_logs_what_it_waits_for(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trio_zmq")
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PUSH, linger=0.01) as push:
            push.connect(await free_endpoint())
            await push.send(b"x")
    assert "waiting up to linger=0.01 s for 1 queued messages" in caplog.text


async def test_linger_timeout_drops_and_closes() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PUSH, linger=0.1) as push:
            push.connect(await free_endpoint())
            await push.send(b"x")
            start = trio.current_time()
            await push.aclose()
            assert trio.current_time() - start >= 0.1
            assert push.closed


async def test_linger_zero_and_close_drop_at_once() -> None:
    with trio.fail_after(5):
        async with trio_zmq.open_socket(trio_zmq.PUSH, linger=0) as push:
            push.connect(await free_endpoint())
            await push.send(b"x")
        async with trio_zmq.open_socket(trio_zmq.PUSH) as push:  # linger None...
            push.connect(await free_endpoint())
            await push.send(b"x")
            push.close()  # ...but close() is linger 0
            assert push.closed


async def test_cancelling_the_linger_closes_at_once() -> None:
    with trio.fail_after(5):
        with trio.move_on_after(0.1) as scope:
            async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
                push.connect(await free_endpoint())
                await push.send(b"x")
        assert scope.cancelled_caught
        assert push.closed


async def test_exception_leaves_the_block_unchanged_and_closes_at_once() -> None:
    with trio.fail_after(5):
        with pytest.raises(KeyError) as info:
            async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
                push.connect(await free_endpoint())
                await push.send(b"queued forever")
                raise KeyError("mine")
        assert info.type is KeyError  # not an ExceptionGroup
        assert push.closed


async def test_operations_after_close_raise_closed_resource_error() -> None:
    async with trio_zmq.open_socket(trio_zmq.PAIR) as sock:
        sock.close()
        sock.close()  # idempotent
        with pytest.raises(trio.ClosedResourceError):
            await sock.send(b"x")
        with pytest.raises(trio.ClosedResourceError):
            sock.send_nowait(b"x")
        with pytest.raises(trio.ClosedResourceError):
            await sock.recv()
        with pytest.raises(trio.ClosedResourceError):
            await sock.bind(LOOPBACK)
        with pytest.raises(trio.ClosedResourceError):
            sock.connect("tcp://127.0.0.1:5555")
        with pytest.raises(trio.ClosedResourceError):
            sock.sndhwm = 3
        assert sock.statistics().peers == 0  # still readable after close


async def test_close_wakes_blocked_tasks_with_closed_resource_error() -> None:
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH) as push,
        ):
            errors: list[type[BaseException]] = []

            async def blocked(op: object) -> None:
                try:
                    await op()  # type: ignore[operator]
                except trio.ClosedResourceError as exc:
                    errors.append(type(exc))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(blocked, pull.recv)
                nursery.start_soon(blocked, lambda: push.send(b"x"))
                await trio.testing.wait_all_tasks_blocked()
                pull.close()
                push.close()
            assert errors == [trio.ClosedResourceError] * 2


async def test_aclose_stops_user_operations_while_lingering() -> None:
    with trio.fail_after(5):
        async with trio_zmq.open_socket(trio_zmq.PUSH, linger=0.2) as push:
            push.connect(await free_endpoint())
            await push.send(b"x")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(push.aclose)
                await trio.testing.wait_all_tasks_blocked()
                assert push.closed
                with pytest.raises(trio.ClosedResourceError):
                    push.send_nowait(b"y")


async def test_closing_ends_peer_connections() -> None:
    with trio.fail_after(5):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            endpoint = await pull.bind(LOOPBACK)
            async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
                push.connect(endpoint)
                await wait_for_peers(pull, 1)
            await wait_for_peers(pull, 0)
            assert pull.statistics().disconnections == 1
