"""Publish-subscribe benchmark: trio_zmq and pyzmq side by side, as ratios.

    python -m benchmarks.pubsub            # every row, both implementations
    python -m benchmarks.pubsub --quick    # fewer messages

Each row gives trio_zmq, zmq.asyncio and blocking pyzmq, then trio_zmq's
ratio to each (zmq.asyncio first).

Rows:
* fan-out: one publisher, 1 / 10 / 100 subscribers (all subscribed to
  everything), M messages of 64 B; deliveries per second counted at the
  subscribers, from the first message received to the last.
* matching: one publisher, one subscriber holding 10 / 1,000 / 100,000
  subscriptions; each message matches one of them; messages per second
  through the publisher's subscription matching.

Both ends run in separate processes over loopback tcp. The publisher is an
XPUB with verbose notifications so it can wait until every subscription has
arrived before it starts (no slow-joiner losses), and neither side drops
(high-water marks off), so both implementations move exactly the same
messages. trio_zmq's trie costs are also shown per match, in process.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from benchmarks._runner import emit, ready, run_pair

PAYLOAD = b"x" * 64


def topic_of(i: int) -> bytes:
    return b"topic/%06d/" % i


# --- the publisher side -------------------------------------------------------


def publish_pyzmq(subscriptions: int, count: int, topics: int) -> None:
    import zmq

    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.XPUB_VERBOSE, 1)
    pub.setsockopt(zmq.SNDHWM, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    ready(f"tcp://127.0.0.1:{port}")
    for _ in range(subscriptions):
        pub.recv()
    start = time.perf_counter()
    for i in range(count):
        pub.send_multipart([topic_of(i % topics), PAYLOAD])
    pub.send_multipart([b"END", b""])
    emit({"send_seconds": time.perf_counter() - start})
    pub.close(linger=-1)
    ctx.term()


def publish_asyncio(subscriptions: int, count: int, topics: int) -> None:
    import asyncio

    import zmq
    import zmq.asyncio

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        pub = ctx.socket(zmq.XPUB)
        pub.setsockopt(zmq.XPUB_VERBOSE, 1)
        pub.setsockopt(zmq.SNDHWM, 0)
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        ready(f"tcp://127.0.0.1:{port}")
        for _ in range(subscriptions):
            await pub.recv()
        start = time.perf_counter()
        for i in range(count):
            await pub.send_multipart([topic_of(i % topics), PAYLOAD])
        await pub.send_multipart([b"END", b""])
        emit({"send_seconds": time.perf_counter() - start})
        pub.close(linger=-1)
        ctx.term()

    asyncio.run(main())


def publish_trio(subscriptions: int, count: int, topics: int) -> None:
    import trio

    import trio_zmq

    async def main() -> None:
        async with trio_zmq.open_socket(trio_zmq.XPUB, xpub_verbose=True, sndhwm=0) as pub:
            ready(await pub.bind("tcp://127.0.0.1:*"))
            for _ in range(subscriptions):
                await pub.recv()
            start = time.perf_counter()
            for i in range(count):
                await pub.send_multipart([topic_of(i % topics), PAYLOAD])
            await pub.send_multipart([b"END", b""])
            emit({"send_seconds": time.perf_counter() - start})

    trio.run(main)


# --- the subscriber side ------------------------------------------------------


def subscribe_pyzmq(endpoint: str, sockets: int, topics: int, count: int) -> None:
    import zmq

    ctx = zmq.Context()
    subs = []
    for _ in range(sockets):
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.setsockopt(zmq.SNDHWM, 0)  # subscriptions queue before the connection
        sub.connect(endpoint)
        for t in range(topics):
            sub.setsockopt(zmq.SUBSCRIBE, topic_of(t) if topics > 1 else b"")
        sub.setsockopt(zmq.SUBSCRIBE, b"END")
        subs.append(sub)
    poller = zmq.Poller()
    for sub in subs:
        poller.register(sub, zmq.POLLIN)
    received = 0
    first = last = 0.0
    open_ = len(subs)
    while open_:
        for sock, _ in poller.poll():
            while True:
                try:
                    msg = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if msg[0] == b"END":
                    poller.unregister(sock)
                    open_ -= 1
                    break
                if not received:
                    first = time.perf_counter()
                received += 1
                last = time.perf_counter()
    emit({"received": received, "seconds": last - first})
    for sub in subs:
        sub.close(0)
    ctx.term()


def subscribe_asyncio(endpoint: str, sockets: int, topics: int, count: int) -> None:
    import asyncio

    import zmq
    import zmq.asyncio

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        received = 0
        first = last = 0.0

        async def one(sub: zmq.asyncio.Socket) -> None:
            nonlocal received, first, last
            while True:
                msg = await sub.recv_multipart()
                if msg[0] == b"END":
                    return
                if not received:
                    first = time.perf_counter()
                received += 1
                last = time.perf_counter()

        subs = []
        for _ in range(sockets):
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.RCVHWM, 0)
            sub.setsockopt(zmq.SNDHWM, 0)
            sub.connect(endpoint)
            for t in range(topics):
                sub.setsockopt(zmq.SUBSCRIBE, topic_of(t) if topics > 1 else b"")
            sub.setsockopt(zmq.SUBSCRIBE, b"END")
            subs.append(sub)
        await asyncio.gather(*(one(sub) for sub in subs))
        emit({"received": received, "seconds": last - first})
        for sub in subs:
            sub.close(0)
        ctx.term()

    asyncio.run(main())


def subscribe_trio(endpoint: str, sockets: int, topics: int, count: int) -> None:
    import trio

    import trio_zmq

    async def main() -> None:
        received = 0
        first = last = 0.0

        async def one(task_status: trio.TaskStatus[None]) -> None:
            nonlocal received, first, last
            async with trio_zmq.open_socket(trio_zmq.SUB, rcvhwm=0) as sub:
                sub.connect(endpoint)
                for t in range(topics):
                    sub.subscribe(topic_of(t) if topics > 1 else b"")
                sub.subscribe(b"END")
                task_status.started()
                async for msg in sub:
                    if msg[0] == b"END":
                        return
                    if not received:
                        first = time.perf_counter()
                    received += 1
                    last = time.perf_counter()

        async with trio.open_nursery() as nursery:
            for _ in range(sockets):
                await nursery.start(one)
        emit({"received": received, "seconds": last - first})

    trio.run(main)


# --- the driver -----------------------------------------------------------------


def run_row(impl: str, sockets: int, topics: int, count: int) -> dict[str, Any]:
    subscriptions = sockets * (topics + 1)  # + the END subscription of each socket
    _pub, sub = run_pair(
        "benchmarks.pubsub",
        ["publish", impl, str(subscriptions), str(count), str(topics)],
        ["subscribe", impl, str(sockets), str(topics), str(count)],
        timeout=300,
    )
    expected = count * sockets
    if sub["received"] != expected:
        raise RuntimeError(f"{impl}: {sub['received']} of {expected} delivered")
    return {"rate": sub["received"] / sub["seconds"]}


def fanout_count(sockets: int, scale: float = 1.0) -> int:
    """Messages to publish in a fan-out row (fewer for the 100-subscriber row)."""
    return max(2, int(50_000 * scale / max(1, sockets // 10)))


IMPLS = ("trio", "asyncio", "pyzmq")
PUBLISHERS = {"trio": publish_trio, "asyncio": publish_asyncio, "pyzmq": publish_pyzmq}
SUBSCRIBERS = {"trio": subscribe_trio, "asyncio": subscribe_asyncio, "pyzmq": subscribe_pyzmq}


def _print_row(label: str, rows: dict[str, dict[str, Any]]) -> None:
    trio_rate, asyncio_rate, pyzmq_rate = (rows[i]["rate"] for i in IMPLS)
    print(
        f"  {label}: trio_zmq {trio_rate:>9,.0f}/s  zmq.asyncio {asyncio_rate:>9,.0f}/s"
        f"  pyzmq {pyzmq_rate:>9,.0f}/s"
        f"  ratios {trio_rate / asyncio_rate:.2f} / {trio_rate / pyzmq_rate:.2f}"
    )


def trie_costs() -> list[tuple[int, float]]:
    from trio_zmq._strategies import PrefixTrie

    rows = []
    for n in (10, 1_000, 100_000):
        trie: PrefixTrie[int] = PrefixTrie(counted=False)
        for i in range(n):
            trie.add(topic_of(i), i % 10)
        topic = topic_of(n // 2) + b"payload"
        loops = 200_000
        start = time.perf_counter()
        for _ in range(loops):
            trie.match(topic)
        rows.append((n, (time.perf_counter() - start) / loops * 1e9))
    return rows


def main(argv: list[str]) -> None:
    if argv and argv[0] == "publish":
        impl, subscriptions, count, topics = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
        PUBLISHERS[impl](subscriptions, count, topics)
        return
    if argv and argv[0] == "subscribe":
        impl, sockets, topics, count, endpoint = argv[1], *map(int, argv[2:5]), argv[5]
        SUBSCRIBERS[impl](endpoint, sockets, topics, count)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages")
    parser.add_argument("--smoke", action="store_true", help="a tiny run, to check it works")
    args = parser.parse_args(argv)
    scale = 0.004 if args.smoke else 0.2 if args.quick else 1.0
    fanouts: tuple[int, ...] = (10,) if args.smoke else (1, 10, 100)
    topic_counts: tuple[int, ...] = (1_000,) if args.smoke else (10, 1_000, 100_000)
    print("fan-out: deliveries per second, 64 B messages")
    for sockets in fanouts:
        count = fanout_count(sockets, scale)
        _print_row(f"{sockets:>3} subscribers", {i: run_row(i, sockets, 1, count) for i in IMPLS})
    print("matching: messages per second through one subscriber's N subscriptions")
    for topics in topic_counts:
        count = int(50_000 * scale)
        _print_row(f"{topics:>7,} subscriptions", {i: run_row(i, 1, topics, count) for i in IMPLS})
    print("trio_zmq's trie alone, in process: time per match")
    for n, ns in trie_costs():
        print(f"  {n:>7,} subscriptions: {ns / 1000:.2f} us")


if __name__ == "__main__":
    main(sys.argv[1:])
