"""REQ/REP round-trip latency over loopback tcp, client and server in separate processes.

The server binds a REP socket on 127.0.0.1 and echoes every request; the
client connects a REQ socket, makes ``warmup`` round trips that are not
recorded, then ``count`` that are (each timed with ``perf_counter_ns`` around
one ``send`` + ``recv``), and stops early after ``cap`` seconds of them. An
empty request ends the server. Messages are 64 bytes.

Implementations: ``trio`` (trio_zmq), ``asyncio`` (zmq.asyncio), ``pyzmq``
(blocking).

Run one end by hand (the driver is ``python -m benchmarks``)::

    python -m benchmarks.latency server IMPL
    python -m benchmarks.latency client IMPL COUNT WARMUP CAP ENDPOINT
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from benchmarks._runner import emit, ready, run_pair

SIZE = 64
IMPLS = ("trio", "asyncio", "pyzmq")


def percentile(ordered: list[int], q: float) -> int:
    """Nearest-rank percentile of a sorted list, ``q`` in 0..100."""
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return ordered[min(len(ordered), int(rank)) - 1]


def _stats(latencies_ns: list[int]) -> dict[str, Any]:
    ordered = sorted(latencies_ns)
    return {
        "n": len(ordered),
        "median_us": statistics.median(ordered) / 1000,
        "p99_us": percentile(ordered, 99) / 1000,
        "min_us": ordered[0] / 1000,
    }


# --- the server (REP) -------------------------------------------------------------


def server_pyzmq() -> None:
    import zmq

    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    ready(f"tcp://127.0.0.1:{port}")
    while True:
        request = rep.recv()
        rep.send(request)
        if not request:
            break
    rep.close()
    ctx.term()
    emit({})


def server_asyncio() -> None:
    import asyncio

    import zmq
    import zmq.asyncio

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        rep = ctx.socket(zmq.REP)
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        ready(f"tcp://127.0.0.1:{port}")
        while True:
            request = await rep.recv()
            await rep.send(request)
            if not request:
                break
        rep.close()
        ctx.term()

    asyncio.run(main())
    emit({})


def server_trio() -> None:
    import trio

    import trio_zmq

    async def main() -> None:
        async with trio_zmq.open_socket(trio_zmq.REP) as rep:
            ready(await rep.bind("tcp://127.0.0.1:*"))
            while True:
                request = await rep.recv()
                await rep.send(request)
                if not request:
                    break

    trio.run(main)
    emit({})


# --- the client (REQ) -------------------------------------------------------------


def client_pyzmq(count: int, warmup: int, cap: float, endpoint: str) -> None:
    import zmq

    ctx = zmq.Context()
    req = ctx.socket(zmq.REQ)
    req.connect(endpoint)
    message, send, recv, clock = b"x" * SIZE, req.send, req.recv, time.perf_counter_ns
    for _ in range(warmup):
        send(message)
        recv()
    latencies = []
    stop = clock() + int(cap * 1e9)
    for _ in range(count):
        t = clock()
        send(message)
        recv()
        latencies.append(clock() - t)
        if t > stop:
            break
    send(b"")
    recv()
    req.close()
    ctx.term()
    emit(_stats(latencies))


def client_asyncio(count: int, warmup: int, cap: float, endpoint: str) -> None:
    import asyncio

    import zmq
    import zmq.asyncio

    async def main() -> list[int]:
        ctx = zmq.asyncio.Context()
        req = ctx.socket(zmq.REQ)
        req.connect(endpoint)
        message, send, recv, clock = b"x" * SIZE, req.send, req.recv, time.perf_counter_ns
        for _ in range(warmup):
            await send(message)
            await recv()
        latencies = []
        stop = clock() + int(cap * 1e9)
        for _ in range(count):
            t = clock()
            await send(message)
            await recv()
            latencies.append(clock() - t)
            if t > stop:
                break
        await send(b"")
        await recv()
        req.close()
        ctx.term()
        return latencies

    emit(_stats(asyncio.run(main())))


def client_trio(count: int, warmup: int, cap: float, endpoint: str) -> None:
    import trio

    import trio_zmq

    async def main() -> list[int]:
        async with trio_zmq.open_socket(trio_zmq.REQ) as req:
            req.connect(endpoint)
            message, send, recv, clock = b"x" * SIZE, req.send, req.recv, time.perf_counter_ns
            for _ in range(warmup):
                await send(message)
                await recv()
            latencies = []
            stop = clock() + int(cap * 1e9)
            for _ in range(count):
                t = clock()
                await send(message)
                await recv()
                latencies.append(clock() - t)
                if t > stop:
                    break
            await send(b"")
            await recv()
        return latencies

    emit(_stats(trio.run(main)))


SERVERS = {"trio": server_trio, "asyncio": server_asyncio, "pyzmq": server_pyzmq}
CLIENTS = {"trio": client_trio, "asyncio": client_asyncio, "pyzmq": client_pyzmq}


def measure(impl: str, count: int, warmup: int, cap: float) -> dict[str, Any]:
    """One run: server and client in their own process; the client's statistics."""
    _server, client = run_pair(
        "benchmarks.latency",
        ["server", impl],
        ["client", impl, str(count), str(warmup), str(cap)],
        timeout=60 + 2 * cap,
    )
    return client


def main(argv: list[str]) -> None:
    role, impl = argv[0], argv[1]
    if role == "server":
        SERVERS[impl]()
    elif role == "client":
        CLIENTS[impl](int(argv[2]), int(argv[3]), float(argv[4]), argv[5])
    else:
        raise SystemExit(f"unknown role {role!r}; run the suite with: python -m benchmarks")


if __name__ == "__main__":
    main(sys.argv[1:])
