"""PUSH/PULL pipeline: a ventilator hands out work, workers do it, a sink collects it.

Run it as it is: ``python examples/push_pull.py``. Everything runs in one process
here; each part would work the same in its own process, or against libzmq peers.
"""

from __future__ import annotations

import trio

import trio_zmq


async def worker(tasks: str, results: str, task_status: trio.TaskStatus[None]) -> None:
    async with (
        trio_zmq.open_socket(trio_zmq.PULL) as inbox,
        trio_zmq.open_socket(trio_zmq.PUSH) as outbox,
    ):
        inbox.connect(tasks)
        outbox.connect(results)
        task_status.started()
        async for (number,) in inbox:
            if number == b"stop":
                return
            await outbox.send(b"%d" % (int(number) ** 2))


async def main(n: int = 100, workers: int = 4) -> int:
    async with (
        trio_zmq.open_socket(trio_zmq.PUSH) as ventilator,
        trio_zmq.open_socket(trio_zmq.PULL) as sink,
    ):
        tasks = await ventilator.bind("tcp://127.0.0.1:*")
        results = await sink.bind("tcp://127.0.0.1:*")
        async with trio.open_nursery() as nursery:
            for _ in range(workers):
                await nursery.start(worker, tasks, results)
            for i in range(n):
                await ventilator.send(b"%d" % i)
            total = sum([int(await sink.recv()) for _ in range(n)])
            for _ in range(workers):
                await ventilator.send(b"stop")
    print(f"sum of the squares of 0..{n - 1}: {total}")
    return total


if __name__ == "__main__":
    trio.run(main)
