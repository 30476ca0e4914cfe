"""PUSH -> PULL throughput over loopback tcp, the two ends in separate processes.

The receiver binds a PULL socket on 127.0.0.1 and the sender connects a PUSH
socket to it. The sender sends the same pre-built payload for ``duration``
seconds (it looks at the clock once per chunk of messages), then one empty
message that tells the receiver to stop. The receiver times from the arrival
of the first message to the arrival of the stop message and reports the
messages that came after the first one, so connection set-up and process
start-up are never timed. Both ends use each library's defaults (HWM 1000,
linger until delivered).

Implementations:

* ``trio``: trio_zmq, one ``await send`` / one ``await recv`` per message;
* ``asyncio``: zmq.asyncio, one ``await send`` / one ``await recv`` per message;
* ``pyzmq``: blocking pyzmq;
* ``trio-batch``: trio_zmq with ``send_many`` (lists of ``BATCH`` messages;
  it may take only part of a list, so the sender sends the rest) and
  ``recv_many(RECV_BATCH)`` (only if ``trio_zmq.Socket`` has them).

Run one end by hand (the driver is ``python -m benchmarks``)::

    python -m benchmarks.throughput recv IMPL SIZE
    python -m benchmarks.throughput send IMPL SIZE DURATION ENDPOINT
"""

from __future__ import annotations

import sys
import time
from typing import Any, cast

from benchmarks._runner import emit, ready, run_pair

SIZES = (16, 256, 4096, 65536, 1048576)
IMPLS = ("trio", "asyncio", "pyzmq")
#: Messages per ``send_many`` call, and at most per ``recv_many`` call, in ``trio-batch``.
BATCH = 100
RECV_BATCH = 1000


def has_batch_api() -> bool:
    """Whether trio_zmq's Socket has ``send_many`` and ``recv_many`` (checked at run time)."""
    import trio_zmq

    return hasattr(trio_zmq.Socket, "send_many") and hasattr(trio_zmq.Socket, "recv_many")


def _chunk(size: int) -> int:
    """Messages sent between two looks at the clock: about 64 KiB of payload."""
    return max(1, 65536 // size)


def _result(
    received: int, timed: int, t0: float, t1: float, c0: float, c1: float
) -> dict[str, Any]:
    """``received`` data messages, ``timed`` of them after the clock started; CPU use."""
    wall = max(t1 - t0, 1e-9)
    return {"received": received, "timed": timed, "seconds": wall, "cpu": (c1 - c0) / wall}


# --- the receiving end ------------------------------------------------------------


def recv_pyzmq(size: int) -> None:
    import zmq

    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    ready(f"tcp://127.0.0.1:{port}")
    recv = pull.recv
    recv()
    t0, c0 = time.perf_counter(), time.process_time()
    n = 1
    while recv():
        n += 1
    t1, c1 = time.perf_counter(), time.process_time()
    emit(_result(n, n - 1, t0, t1, c0, c1))
    pull.close()
    ctx.term()


def recv_asyncio(size: int) -> None:
    import asyncio

    import zmq
    import zmq.asyncio

    async def main() -> dict[str, Any]:
        ctx = zmq.asyncio.Context()
        pull = ctx.socket(zmq.PULL)
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        ready(f"tcp://127.0.0.1:{port}")
        recv = pull.recv
        await recv()
        t0, c0 = time.perf_counter(), time.process_time()
        n = 1
        while await recv():
            n += 1
        t1, c1 = time.perf_counter(), time.process_time()
        pull.close()
        ctx.term()
        return _result(n, n - 1, t0, t1, c0, c1)

    emit(asyncio.run(main()))


def recv_trio(size: int) -> None:
    import trio

    import trio_zmq

    async def main() -> dict[str, Any]:
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            ready(await pull.bind("tcp://127.0.0.1:*"))
            recv = pull.recv
            await recv()
            t0, c0 = time.perf_counter(), time.process_time()
            n = 1
            while await recv():
                n += 1
            t1, c1 = time.perf_counter(), time.process_time()
        return _result(n, n - 1, t0, t1, c0, c1)

    emit(trio.run(main))


def _is_stop(message: Any) -> bool:
    """The empty stop message, whether ``recv_many`` gives frame lists or bytes."""
    if isinstance(message, (bytes, bytearray, memoryview)):
        return len(message) == 0
    return len(message) == 1 and len(message[0]) == 0


def recv_trio_batch(size: int) -> None:
    import trio

    import trio_zmq

    async def main() -> dict[str, Any]:
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            ready(await pull.bind("tcp://127.0.0.1:*"))
            recv_many = cast(Any, pull).recv_many
            first = await recv_many(RECV_BATCH)
            t0, c0 = time.perf_counter(), time.process_time()
            n = len(first)
            stopped = _is_stop(first[-1])
            while not stopped:
                messages = await recv_many(RECV_BATCH)
                n += len(messages)
                stopped = _is_stop(messages[-1])
            t1, c1 = time.perf_counter(), time.process_time()
        # The stop message is not counted.
        return _result(n - 1, n - 1 - len(first), t0, t1, c0, c1)

    emit(trio.run(main))


# --- the sending end --------------------------------------------------------------


def send_pyzmq(size: int, duration: float, endpoint: str) -> None:
    import zmq

    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(endpoint)
    payload, chunk, send, clock = b"x" * size, _chunk(size), push.send, time.perf_counter
    sent = 0
    deadline = clock() + duration
    while clock() < deadline:
        for _ in range(chunk):
            send(payload)
        sent += chunk
    send(b"")
    push.close()  # default linger: term() waits until everything is delivered
    ctx.term()
    emit({"sent": sent})


def send_asyncio(size: int, duration: float, endpoint: str) -> None:
    import asyncio

    import zmq
    import zmq.asyncio

    async def main() -> int:
        ctx = zmq.asyncio.Context()
        push = ctx.socket(zmq.PUSH)
        push.connect(endpoint)
        payload, chunk, send, clock = b"x" * size, _chunk(size), push.send, time.perf_counter
        sent = 0
        deadline = clock() + duration
        while clock() < deadline:
            for _ in range(chunk):
                await send(payload)
            sent += chunk
        await send(b"")
        push.close()
        ctx.term()
        return sent

    emit({"sent": asyncio.run(main())})


def send_trio(size: int, duration: float, endpoint: str) -> None:
    import trio

    import trio_zmq

    async def main() -> int:
        async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
            push.connect(endpoint)
            payload, chunk, send, clock = b"x" * size, _chunk(size), push.send, time.perf_counter
            sent = 0
            deadline = clock() + duration
            while clock() < deadline:
                for _ in range(chunk):
                    await send(payload)
                sent += chunk
            await send(b"")
        return sent  # leaving the block waited (linger) until everything was written

    emit({"sent": trio.run(main)})


def send_trio_batch(size: int, duration: float, endpoint: str) -> None:
    import trio

    import trio_zmq

    async def main() -> int:
        async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
            push.connect(endpoint)
            payload, clock = b"x" * size, time.perf_counter
            send_many = cast(Any, push).send_many
            batch = [[payload] for _ in range(BATCH)]
            per_look = max(1, _chunk(size) // BATCH)
            sent = 0
            deadline = clock() + duration
            while clock() < deadline:
                for _ in range(per_look):
                    # send_many takes as many as fit (at least one) and says how many.
                    done = await send_many(batch)
                    while done < BATCH:
                        done += await send_many(batch[done:])
                sent += per_look * BATCH
            await push.send(b"")
        return sent

    emit({"sent": trio.run(main)})


RECEIVERS = {
    "trio": recv_trio,
    "asyncio": recv_asyncio,
    "pyzmq": recv_pyzmq,
    "trio-batch": recv_trio_batch,
}
SENDERS = {
    "trio": send_trio,
    "asyncio": send_asyncio,
    "pyzmq": send_pyzmq,
    "trio-batch": send_trio_batch,
}


# --- the driver -----------------------------------------------------------------


def measure(impl: str, size: int, duration: float) -> dict[str, Any]:
    """One run: both ends in their own process; messages/s and MB/s at the receiver."""
    rx, tx = run_pair(
        "benchmarks.throughput",
        ["recv", impl, str(size)],
        ["send", impl, str(size), str(duration)],
        timeout=60 + 20 * duration,
    )
    # The receiver counts the first message and not the stop message; the sender the reverse.
    if rx["received"] != tx["sent"]:
        raise RuntimeError(f"{impl} {size} B: {rx['received']} of {tx['sent']} delivered")
    rate = rx["timed"] / rx["seconds"]
    return {"rate": rate, "mb_s": rate * size / 1e6, "messages": rx["received"], **rx}


def main(argv: list[str]) -> None:
    role, impl, size = argv[0], argv[1], int(argv[2])
    if role == "recv":
        RECEIVERS[impl](size)
    elif role == "send":
        SENDERS[impl](size, float(argv[3]), argv[4])
    else:
        raise SystemExit(f"unknown role {role!r}; run the suite with: python -m benchmarks")


if __name__ == "__main__":
    main(sys.argv[1:])
