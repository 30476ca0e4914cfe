"""Many peers on one ROUTER: memory per idle peer, and throughput across them.

A ROUTER process (trio_zmq or blocking pyzmq) binds on 127.0.0.1; a second
process connects ``peers`` blocking pyzmq DEALERs to it (the peers are the
same for both ROUTERs). Both processes raise their open-files soft limit to
the hard limit first.

1. Memory: the ROUTER reads its resident set size (RSS, from /proc) after
   binding, waits for one ``hello`` from every DEALER (so every handshake is
   done and every peer has sent through the socket once), collects garbage
   and reads it again; the difference over ``peers`` is the memory per idle
   peer. With ``--tracemalloc`` (a separate run: tracing inflates RSS and
   slows everything) the trio_zmq ROUTER also reports the Python heap that
   tracemalloc saw grow over the same span, per peer.
2. Throughput: the ROUTER answers every ``hello`` with ``go``; each DEALER
   then sends ``per_peer`` 64-byte messages (the DEALERs take turns, one
   message each), and the ROUTER answers each message it receives with one
   reply, addressed round-robin over all the peers (reply ``i`` goes to peer
   ``i mod peers``), so every peer gets ``per_peer`` replies. The ROUTER times
   from its first receive to its last reply; the rate is messages received
   (and answered) per second.

Run one end by hand (the driver is ``python -m benchmarks``)::

    python -m benchmarks.router router IMPL PEERS PER_PEER [--tracemalloc]
    python -m benchmarks.router dealers PEERS PER_PEER ENDPOINT
"""

from __future__ import annotations

import gc
import sys
import time
from typing import Any

from benchmarks._runner import emit, raise_nofile_limit, ready, rss_bytes, run_pair

IMPLS = ("trio", "pyzmq")
PAYLOAD = b"x" * 64


def _memory(rss0: int, peers: int) -> dict[str, Any]:
    gc.collect()
    rss1 = rss_bytes()
    return {"rss_before": rss0, "rss_after": rss1, "rss_per_peer": (rss1 - rss0) / peers}


def router_trio(peers: int, per_peer: int, trace: bool) -> None:
    import tracemalloc

    import trio

    import trio_zmq

    async def main() -> dict[str, Any]:
        async with trio_zmq.open_socket(trio_zmq.ROUTER) as router:
            endpoint = await router.bind("tcp://127.0.0.1:*")
            gc.collect()
            rss0 = rss_bytes()
            if trace:
                tracemalloc.start()
            t_ready = time.perf_counter()
            ready(endpoint)
            ids = []
            for _ in range(peers):
                routing_id, _hello = await router.recv_multipart()
                ids.append(routing_id)
            setup = time.perf_counter() - t_ready
            result: dict[str, Any] = {}
            if trace:
                gc.collect()
                result["traced_per_peer"] = tracemalloc.get_traced_memory()[0] / peers
                tracemalloc.stop()
            result.update(_memory(rss0, peers), setup_s=setup, peers=router.statistics().peers)
            for routing_id in ids:
                await router.send_multipart([routing_id, b"go"])
            recv, send = router.recv_multipart, router.send_multipart
            total = peers * per_peer
            _routing_id, body = await recv()
            t0 = time.perf_counter()
            await send([ids[0], body])
            for i in range(1, total):
                _routing_id, body = await recv()
                await send([ids[i % peers], body])
            t1 = time.perf_counter()
            await recv()  # "done": every DEALER has all its replies
        if total > 1:
            result["rate"] = (total - 1) / (t1 - t0)
        return result

    emit(trio.run(main))


def router_pyzmq(peers: int, per_peer: int, trace: bool) -> None:
    import zmq

    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    gc.collect()
    rss0 = rss_bytes()
    t_ready = time.perf_counter()
    ready(f"tcp://127.0.0.1:{port}")
    ids = []
    for _ in range(peers):
        routing_id, _hello = router.recv_multipart()
        ids.append(routing_id)
    setup = time.perf_counter() - t_ready
    result: dict[str, Any] = {**_memory(rss0, peers), "setup_s": setup, "peers": peers}
    for routing_id in ids:
        router.send_multipart([routing_id, b"go"])
    recv, send = router.recv_multipart, router.send_multipart
    total = peers * per_peer
    _routing_id, body = recv()
    t0 = time.perf_counter()
    send([ids[0], body])
    for i in range(1, total):
        _routing_id, body = recv()
        send([ids[i % peers], body])
    t1 = time.perf_counter()
    recv()  # "done"
    if total > 1:
        result["rate"] = (total - 1) / (t1 - t0)
    router.close()
    ctx.term()
    emit(result)


def dealers(peers: int, per_peer: int, endpoint: str) -> None:
    import zmq

    raise_nofile_limit()
    ctx = zmq.Context()
    ctx.setsockopt(zmq.MAX_SOCKETS, peers + 64)
    socks = []
    for _ in range(peers):
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 1000)
        dealer.connect(endpoint)
        socks.append(dealer)
    for dealer in socks:
        dealer.send(b"hello")
    for dealer in socks:
        dealer.recv()  # "go"
    for _ in range(per_peer):
        for dealer in socks:
            dealer.send(PAYLOAD)
    for dealer in socks:
        for _ in range(per_peer):
            dealer.recv()
    socks[0].send(b"done")
    for dealer in socks:
        dealer.close()
    ctx.term()
    emit({"replies": peers * per_peer})


ROUTERS = {"trio": router_trio, "pyzmq": router_pyzmq}


def measure(impl: str, peers: int, per_peer: int, trace: bool = False) -> dict[str, Any]:
    """One run: the ROUTER and the DEALERs in their own processes."""
    router, _dealers = run_pair(
        "benchmarks.router",
        ["router", impl, str(peers), str(per_peer), *(["--tracemalloc"] if trace else [])],
        ["dealers", str(peers), str(per_peer)],
        timeout=180,
    )
    return router


def main(argv: list[str]) -> None:
    raise_nofile_limit()
    if argv[0] == "router":
        ROUTERS[argv[1]](int(argv[2]), int(argv[3]), "--tracemalloc" in argv[4:])
    elif argv[0] == "dealers":
        dealers(int(argv[1]), int(argv[2]), argv[3])
    else:
        raise SystemExit(f"unknown role {argv[0]!r}; run the suite with: python -m benchmarks")


if __name__ == "__main__":
    main(sys.argv[1:])
