"""16-byte messages inside one process: trio_zmq inproc, pyzmq inproc, a trio memory channel.

* ``trio``: a trio_zmq PUSH and PULL of one Context linked by ``inproc://``,
  a sender task and a receiver task, one ``await send`` / ``await recv`` per
  message;
* ``pyzmq``: blocking pyzmq PUSH and PULL over ``inproc://``, a sender thread
  and the receiving main thread;
* ``channel``: ``trio.open_memory_channel(1000)``, a sender task and a
  receiver task, one ``await send`` / ``await receive`` per message: the
  reference the inproc target is stated against.

The sender sends for ``duration`` seconds, then an empty stop message; the
receiver times from its first message to the stop message. Each measurement
runs in a fresh process (the driver starts it)::

    python -m benchmarks.inproc IMPL DURATION
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from benchmarks._runner import emit, run_one

MESSAGE = b"0123456789abcdef"  # 16 bytes
CHUNK = 1000  # messages between two looks at the clock
IMPLS = ("trio", "pyzmq", "channel")


def _result(n: int, t0: float, t1: float) -> dict[str, Any]:
    return {"received": n, "rate": (n - 1) / max(t1 - t0, 1e-9)}


def run_trio(duration: float) -> dict[str, Any]:
    import trio

    import trio_zmq

    async def main() -> dict[str, Any]:
        ctx = trio_zmq.Context()
        async with ctx.socket(trio_zmq.PULL) as pull, ctx.socket(trio_zmq.PUSH) as push:
            await pull.bind("inproc://benchmark")
            push.connect("inproc://benchmark")

            async def sender() -> None:
                send, clock = push.send, time.perf_counter
                deadline = clock() + duration
                while clock() < deadline:
                    for _ in range(CHUNK):
                        await send(MESSAGE)
                await send(b"")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(sender)
                recv = pull.recv
                await recv()
                t0 = time.perf_counter()
                n = 1
                while await recv():
                    n += 1
                t1 = time.perf_counter()
        return _result(n, t0, t1)

    return trio.run(main)


def run_pyzmq(duration: float) -> dict[str, Any]:
    import zmq

    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://benchmark")
    push = ctx.socket(zmq.PUSH)
    push.connect("inproc://benchmark")

    def sender() -> None:
        send, clock = push.send, time.perf_counter
        deadline = clock() + duration
        while clock() < deadline:
            for _ in range(CHUNK):
                send(MESSAGE)
        send(b"")

    thread = threading.Thread(target=sender)
    thread.start()
    recv = pull.recv
    recv()
    t0 = time.perf_counter()
    n = 1
    while recv():
        n += 1
    t1 = time.perf_counter()
    thread.join()
    push.close()
    pull.close()
    ctx.term()
    return _result(n, t0, t1)


def run_channel(duration: float) -> dict[str, Any]:
    import trio

    async def main() -> dict[str, Any]:
        send_channel, receive_channel = trio.open_memory_channel[bytes](1000)

        async def sender() -> None:
            send, clock = send_channel.send, time.perf_counter
            deadline = clock() + duration
            while clock() < deadline:
                for _ in range(CHUNK):
                    await send(MESSAGE)
            await send(b"")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            receive = receive_channel.receive
            await receive()
            t0 = time.perf_counter()
            n = 1
            while await receive():
                n += 1
            t1 = time.perf_counter()
        return _result(n, t0, t1)

    return trio.run(main)


RUNNERS = {"trio": run_trio, "pyzmq": run_pyzmq, "channel": run_channel}


def measure(impl: str, duration: float) -> dict[str, Any]:
    """One run in a fresh process."""
    return run_one("benchmarks.inproc", [impl, str(duration)], timeout=60 + 20 * duration)


def main(argv: list[str]) -> None:
    emit(RUNNERS[argv[0]](float(argv[1])))


if __name__ == "__main__":
    main(sys.argv[1:])
