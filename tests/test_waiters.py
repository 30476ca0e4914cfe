"""``Waiters``: the parking lot of trio_zmq's waits (park, unpark_all, cancellation)."""

from __future__ import annotations

import trio
import trio.testing

from trio_zmq._waiters import Waiters


async def test_unpark_all_wakes_every_parked_task() -> None:
    lot = Waiters()
    woken: list[int] = []

    async def wait(i: int) -> None:
        await lot.park()
        woken.append(i)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            for i in range(3):
                nursery.start_soon(wait, i)
                await trio.testing.wait_all_tasks_blocked()
            assert len(lot) == 3 and bool(lot)
            lot.unpark_all()
            assert not lot
        assert sorted(woken) == [0, 1, 2]  # trio's scheduler decides their order
        lot.unpark_all()  # nobody parked: nothing happens


async def test_a_cancelled_task_leaves_the_lot() -> None:
    lot = Waiters()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lot.park)
            await trio.testing.wait_all_tasks_blocked()
            assert lot
            nursery.cancel_scope.cancel()
        assert not lot


async def test_park_is_a_checkpoint_even_when_already_cancelled() -> None:
    lot = Waiters()
    with trio.CancelScope() as scope:
        scope.cancel()
        await lot.park()
    assert scope.cancelled_caught
    assert not lot
