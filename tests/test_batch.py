"""``send_many`` / ``recv_many``: many messages for one checkpoint, same guarantees.

Each batch call is one step of the blocking recipe (DESIGN 3.2): it waits
only when not even one message can move, a cancelled call has moved
nothing, and every message moves whole.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq

from .helpers import LOOPBACK, free_endpoint, linked, wait_for_peers, wait_until
from .libzmq_peer import libzmq_socket


async def test_send_many_and_recv_many_move_whole_messages_in_order() -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            await wait_for_peers(push, 1)
            batch = [[b"%d" % i] if i % 3 else [b"%d" % i, b"more"] for i in range(100)]
            assert await push.send_many(batch) == 100
            got: list[list[bytes]] = []
            while len(got) < 100:
                got += await pull.recv_many()
            assert got == batch
            stats = pull.statistics()
            assert stats.messages_received == 100
            assert stats.bytes_received == sum(len(f) for m in batch for f in m)
            assert push.statistics().messages_sent == 100


async def test_send_many_stops_at_the_hwm_and_says_how_many() -> None:
    with trio.fail_after(10):
        await _send_many_stops_at_the_hwm()


async def _send_many_stops_at_the_hwm() -> None:
    async with trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=3, linger=0) as push:
        push.connect(await free_endpoint())  # never answers: the pipe only queues
        assert push.send_many_nowait([[b"a"], [b"b"]]) == 2
        assert await push.send_many([[b"c"], [b"d"], [b"e"]]) == 1
        assert push.statistics().queued_outbound == 3
        with pytest.raises(trio.WouldBlock):
            push.send_many_nowait([[b"f"]])
        # Waiting for the first one to fit is cancellable and sends nothing.
        with trio.move_on_after(0.02) as scope:
            await push.send_many([[b"f"], [b"g"]])
        assert scope.cancelled_caught
        assert push.statistics().messages_sent == 3


async def test_send_many_validates_every_message_before_queuing_any() -> None:
    async with trio_zmq.open_socket(trio_zmq.PUSH, linger=0) as push:
        push.connect(await free_endpoint())
        with pytest.raises(TypeError):
            push.send_many_nowait([[b"fine"], [1234]])  # type: ignore[list-item]
        with pytest.raises(ValueError, match="at least one frame"):
            await push.send_many([[b"fine"], []])
        assert push.statistics().queued_outbound == 0
        assert push.send_many_nowait([]) == 0
        assert await push.send_many([]) == 0


async def test_recv_many_waits_for_one_and_takes_what_is_there() -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            with pytest.raises(trio.WouldBlock):
                pull.recv_many_nowait()
            async with trio.open_nursery() as nursery:
                got: list[list[list[bytes]]] = []

                async def receive() -> None:
                    got.append(await pull.recv_many())

                nursery.start_soon(receive)
                await trio.testing.wait_all_tasks_blocked()
                await push.send(b"one")
            assert got == [[[b"one"]]]
            push.send_many_nowait([[b"%d" % i] for i in range(10)])
            await wait_until(lambda: pull.statistics().queued_inbound == 10)
            assert len(await pull.recv_many(max_messages=4)) == 4
            assert len(pull.recv_many_nowait(max_messages=100)) == 6


async def test_a_cancelled_recv_many_takes_nothing() -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            await push.send_many([[b"a"], [b"b"]])
            await wait_until(lambda: pull.statistics().queued_inbound == 2)
            with trio.CancelScope() as scope:
                scope.cancel()
                await pull.recv_many()
            assert pull.statistics().queued_inbound == 2
            assert await pull.recv_many() == [[b"a"], [b"b"]]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "3"])
async def test_recv_many_max_messages_must_be_positive(bad: object) -> None:
    async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
        with pytest.raises(ValueError, match="max_messages"):
            pull.recv_many_nowait(bad)  # type: ignore[arg-type]


async def test_req_and_rep_batches_hold_one_message() -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.REP, trio_zmq.REQ) as (rep, req):
            assert await req.send_many([[b"q1"], [b"q2"]]) == 1
            assert await rep.recv_many() == [[b"q1"]]
            assert await rep.send_many([[b"r1"], [b"r2"]]) == 1
            assert await req.recv_many() == [[b"r1"]]
            with pytest.raises(trio_zmq.SocketStateError):
                await rep.send_many([[b"not now"]])


async def test_batches_on_other_types_and_type_checks() -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PUB) as pub,
            trio_zmq.open_socket(trio_zmq.SUB, subscribe=b"t") as sub,
        ):
            sub.connect(await pub.bind(LOOPBACK))
            await wait_for_peers(pub, 1)
            await wait_until(lambda: pub.statistics().peers == 1)
            while True:  # the subscription may not be there yet: probe until it is
                await pub.send(b"t-probe")
                with trio.move_on_after(0.05):
                    await sub.recv()
                    break
            assert await pub.send_many([[b"t1"], [b"x"], [b"t2"]]) == 3
            got: list[list[bytes]] = []
            while len(got) < 2:
                got += await sub.recv_many()
            assert [m for m in got if m != [b"t-probe"]] == [[b"t1"], [b"t2"]]
            with pytest.raises(trio_zmq.OperationNotSupported):
                await pub.recv_many()
            with pytest.raises(trio_zmq.OperationNotSupported):
                sub.send_many_nowait([[b"x"]])


@pytest.mark.parametrize("binds", ["trio", "libzmq"])
async def test_batches_to_and_from_libzmq(zctx: zmq.Context[Any], binds: str) -> None:
    batch = [[b"%d" % i, b"x" * (i % 7)] for i in range(300)]
    with (
        trio.fail_after(15),
        libzmq_socket(zctx, zmq.PULL) as zpull,
        libzmq_socket(zctx, zmq.PUSH) as zpush,
    ):
        async with (
            trio_zmq.open_socket(trio_zmq.PUSH) as push,
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
        ):
            if binds == "trio":
                zpull.connect(await push.bind(LOOPBACK))
                zpush.connect(await pull.bind(LOOPBACK))
            else:
                push.connect(zpull.bind())
                pull.connect(zpush.bind())
            rest = batch
            while rest:
                rest = rest[await push.send_many(rest) :]
            assert await zpull.recv_many(len(batch)) == batch
            await zpush.send_many(batch)
            got: list[list[bytes]] = []
            while len(got) < len(batch):
                got += await pull.recv_many()
            assert got == batch
