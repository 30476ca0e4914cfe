"""DESIGN section 3: checkpoints and cancellation, each rule with a test."""

from __future__ import annotations

import inspect
import random
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

import trio_zmq
from tests.helpers import LOOPBACK, linked, wait_for_peers, wait_until

# --- rule 3: a cancelled receive never loses a message ----------------------


@pytest.mark.parametrize("seed", range(4))
async def test_randomly_cancelled_recvs_lose_nothing(seed: int) -> None:
    rng = random.Random(seed)
    n = 3000
    with trio.fail_after(30):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=50) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=50) as push,
        ):
            push.connect(await pull.bind(LOOPBACK))
            received: list[int] = []
            cancelled = 0

            async def sender() -> None:
                for i in range(n):
                    await push.send_multipart([b"seq", b"%d" % i, b"x" * rng.choice((0, 10, 300))])

            async with trio.open_nursery() as nursery:
                nursery.start_soon(sender)
                while len(received) < n:
                    with trio.move_on_after(rng.choice((0, 0, 1e-6, 1e-5, 1e-4, 1e-3))) as scope:
                        if rng.random() < 0.5:
                            msg = await pull.recv_multipart()
                        else:
                            msg = await pull.__anext__()
                        assert msg[0] == b"seq"
                        received.append(int(msg[1]))
                    cancelled += scope.cancelled_caught
            assert received == list(range(n))
            assert cancelled > 0  # the test did cancel receives


async def test_recv_cancelled_from_another_task_while_parked() -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            async with trio.open_nursery() as nursery:

                async def parked_recv() -> None:
                    await pull.recv()
                    raise AssertionError("recv should have been cancelled")  # pragma: no cover

                nursery.start_soon(parked_recv)
                await trio.testing.wait_all_tasks_blocked()
                nursery.cancel_scope.cancel()
            await push.send(b"after")
            assert await pull.recv() == b"after"


async def test_recv_in_cancelled_scope_takes_nothing() -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            await push.send(b"kept")
            await wait_until(lambda: pull.statistics().queued_inbound == 1)
            for op in (pull.recv, pull.recv_multipart, pull.recv_string):
                with trio.CancelScope() as scope:
                    scope.cancel()
                    await op()
                assert scope.cancelled_caught
            assert pull.statistics().queued_inbound == 1
            assert await pull.recv() == b"kept"


# --- rule 4: a cancelled send has had no effect ------------------------------


async def test_cancelled_send_has_no_effect() -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=1) as push,
        ):
            endpoint = await pull.bind(LOOPBACK)
            pull.unbind(endpoint)  # the port is free again: push's peer is away
            push.connect(endpoint)
            push.send_nowait(b"1")  # fills the connect pipe (SNDHWM 1)
            with trio.move_on_after(0.05) as scope:
                await push.send_multipart([b"2", b"never"])
            assert scope.cancelled_caught
            with pytest.raises(trio.WouldBlock):
                push.send_nowait(b"2")
            stats = push.statistics()
            assert (stats.queued_outbound, stats.messages_sent) == (1, 1)
            await pull.bind(endpoint)  # the peer comes back on the same port
            assert await pull.recv() == b"1"
            await push.send(b"3")
            assert await pull.recv() == b"3"


async def test_send_in_cancelled_scope_sends_nothing() -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            await wait_for_peers(push, 1)
            ops: list[Callable[[], Awaitable[None]]] = [
                lambda: push.send(b"x"),
                lambda: push.send_string("x"),
                lambda: push.send_json("x"),
            ]
            for op in ops:
                with trio.CancelScope() as scope:
                    scope.cancel()
                    await op()
                assert scope.cancelled_caught
            assert push.statistics().messages_sent == 0
            await push.send(b"only")
            assert await pull.recv() == b"only"
            assert pull.statistics().messages_received == 1


@pytest.mark.parametrize("seed", range(3))
async def test_randomly_cancelled_sends_are_all_or_nothing(seed: int) -> None:
    rng = random.Random(seed)
    with trio.fail_after(30):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=5) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=5) as push,
        ):
            push.connect(await pull.bind(LOOPBACK))
            sent: list[int] = []
            done = trio.Event()

            async def sender() -> None:
                for i in range(2000):
                    with trio.move_on_after(rng.choice((0, 1e-6, 1e-5, 1e-4))):
                        await push.send_multipart([b"%d" % i, b"tail"])
                        sent.append(i)
                await push.send_multipart([b"end", b"tail"])
                done.set()

            received: list[int] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(sender)
                while True:
                    head, tail = await pull.recv_multipart()
                    assert tail == b"tail"  # never half a message
                    if head == b"end":
                        break
                    received.append(int(head))
            assert received == sent
            assert 0 < len(sent) < 2000  # some sends were cancelled, some were not


# --- sending with no peer -----------------------------------------------------


async def test_push_with_no_peer_blocks() -> None:
    async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
        with pytest.raises(trio.WouldBlock):
            push.send_nowait(b"x")
        with pytest.raises(trio.WouldBlock):
            push.send_multipart_nowait([b"x", b"y"])
        with trio.move_on_after(0.05) as scope:
            await push.send(b"x")
        assert scope.cancelled_caught
        assert push.statistics().messages_sent == 0


async def test_blocked_send_proceeds_when_a_peer_arrives() -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH) as push,
        ):
            endpoint = await pull.bind(LOOPBACK)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(push.send, b"waited")
                await trio.testing.wait_all_tasks_blocked()
                assert push.statistics().messages_sent == 0
                push.connect(endpoint)
            assert await pull.recv() == b"waited"


async def test_recv_with_no_message_blocks_and_nowait_raises() -> None:
    async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
        with pytest.raises(trio.WouldBlock):
            pull.recv_nowait()
        with pytest.raises(trio.WouldBlock):
            pull.recv_multipart_nowait()
        with trio.move_on_after(0.02) as scope:
            await pull.recv()
        assert scope.cancelled_caught


# --- rule 1: every public async method is a checkpoint, every time ------------


async def test_every_public_async_method_is_checked_here() -> None:
    public_async = {
        name
        for name, fn in inspect.getmembers(trio_zmq.Socket, inspect.iscoroutinefunction)
        if not name.startswith("_") or name == "__anext__"
    }
    assert public_async == set(CHECKPOINT_CASES), (
        "add every public async method of Socket to CHECKPOINT_CASES"
    )


Op = Callable[[trio_zmq.Socket, trio_zmq.Socket], Awaitable[object]]

# Each case: a call on a PAIR socket whose peer is connected, in a state where
# it can complete without blocking (so a missing checkpoint is visible).
CHECKPOINT_CASES: dict[str, Op] = {
    "send": lambda a, b: a.send(b"x"),
    "send_multipart": lambda a, b: a.send_multipart([b"x", b"y"]),
    "send_string": lambda a, b: a.send_string("x"),
    "send_json": lambda a, b: a.send_json([1]),
    "recv": lambda a, b: a.recv(),
    "recv_multipart": lambda a, b: a.recv_multipart(),
    "recv_many": lambda a, b: a.recv_many(),
    "send_many": lambda a, b: a.send_many([[b"x"], [b"y", b"z"]]),
    "recv_string": lambda a, b: a.recv_string(),
    "recv_json": lambda a, b: a.recv_json(),
    "__anext__": lambda a, b: a.__anext__(),
    "bind": lambda a, b: a.bind(LOOPBACK),
    "aclose": lambda a, b: a.aclose(),
}


@pytest.mark.parametrize("name", sorted(CHECKPOINT_CASES))
async def test_public_async_methods_checkpoint(name: str) -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PAIR, trio_zmq.PAIR) as (a, b):
            if name.startswith("recv") or name == "__anext__":
                await b.send(b"[1]")
                await wait_until(lambda: a.statistics().queued_inbound == 1)
            else:
                await wait_for_peers(a, 1)
            with trio.testing.assert_checkpoints():
                await CHECKPOINT_CASES[name](a, b)


async def test_aclose_of_a_closed_socket_still_checkpoints() -> None:
    async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
        push.close()
        with trio.testing.assert_checkpoints():
            await push.aclose()


async def test_sync_methods_never_checkpoint() -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH) as push,
        ):
            endpoint = await pull.bind(LOOPBACK)
            with trio.testing.assert_no_checkpoints():
                push.connect(endpoint)
                push.send_nowait(b"a")
                push.send_multipart_nowait([b"b", b"c"])
                assert push.send_many_nowait([[b"d"], [b"e"]]) == 2
                push.statistics()
                push.sndhwm = 5
            await wait_until(lambda: pull.statistics().queued_inbound == 4)
            with trio.testing.assert_no_checkpoints():
                assert pull.recv_nowait() == b"a"
                assert pull.recv_multipart_nowait() == [b"b", b"c"]
                assert pull.recv_many_nowait() == [[b"d"], [b"e"]]
                push.disconnect(endpoint)
                pull.unbind(endpoint)
                push.close()
