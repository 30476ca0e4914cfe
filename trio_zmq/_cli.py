"""The ``trio-zmq`` command line (also ``python -m trio_zmq``).

``trio-zmq demo`` runs real sockets over loopback tcp in one process and
shows messages flowing through every pattern built so far, with a short
report. ``trio-zmq bench`` runs the benchmark suite of a source checkout
(``benchmarks/``, next to pyzmq) with the arguments given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import trio

import trio_zmq

LOOPBACK = "tcp://127.0.0.1:*"


def _say(text: str = "") -> None:
    print(text, flush=True)


async def demo_pipeline(tasks: int, workers: int) -> None:
    """Ventilator -> workers -> sink: PUSH round-robins, PULL fair-queues."""
    _say(f"pipeline  PUSH -> {workers} x (PULL -> PUSH) -> PULL, over tcp")
    done_by: Counter[str] = Counter()
    async with (
        trio_zmq.open_socket(trio_zmq.PUSH) as ventilator,
        trio_zmq.open_socket(trio_zmq.PULL) as sink,
    ):
        tasks_endpoint = await ventilator.bind(LOOPBACK)
        results_endpoint = await sink.bind(LOOPBACK)
        _say(f"          ventilator bound {tasks_endpoint}, sink bound {results_endpoint}")

        async def worker(name: str, task_status: trio.TaskStatus[None]) -> None:
            async with (
                trio_zmq.open_socket(trio_zmq.PULL) as inbox,
                trio_zmq.open_socket(trio_zmq.PUSH) as outbox,
            ):
                inbox.connect(tasks_endpoint)
                outbox.connect(results_endpoint)
                task_status.started()
                async for task_id, payload in inbox:
                    if task_id == b"stop":
                        return
                    await outbox.send_multipart([name.encode(), task_id, payload.upper()])

        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for i in range(workers):
                await nursery.start(worker, f"worker-{i}")
            # Wait until every worker is connected, so the round-robin shares come
            # out even (polling: the socket monitor that would tell is not built yet).
            while ventilator.statistics().peers < workers:  # noqa: ASYNC110
                await trio.sleep(0.001)
            for t in range(tasks):
                await ventilator.send_multipart([b"%d" % t, b"task %d" % t])
            for _ in range(tasks):
                name, _task_id, result = await sink.recv_multipart()
                assert result.startswith(b"TASK")
                done_by[name.decode()] += 1
            for _ in range(workers):
                await ventilator.send_multipart([b"stop", b""])
        elapsed = trio.current_time() - start
    shares = ", ".join(f"{name} {count}" for name, count in sorted(done_by.items()))
    _say(f"          {tasks} tasks in {elapsed:.2f} s, round-robin shares: {shares}")


async def demo_pair(round_trips: int) -> None:
    """Two PAIR sockets play ping-pong; a big multipart message crosses intact."""
    _say("pair      PAIR <-> PAIR, over tcp")
    async with (
        trio_zmq.open_socket(trio_zmq.PAIR) as left,
        trio_zmq.open_socket(trio_zmq.PAIR) as right,
    ):
        right.connect(await left.bind(LOOPBACK))

        async def echo() -> None:
            async for message in right:
                await right.send_multipart(message)
                if message == [b"bye"]:
                    return

        times = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(echo)
            for i in range(round_trips):
                start = trio.current_time()
                await left.send(b"ping %d" % i)
                assert await left.recv() == b"ping %d" % i
                times.append(trio.current_time() - start)
            frames = [b"", b"x" * 255, b"y" * 65536, b"z" * (1 << 20)]
            await left.send_multipart(frames)
            assert await left.recv_multipart() == frames
            await left.send(b"bye")
            await left.recv()
    median_us = statistics.median(times) * 1e6
    _say(f"          {round_trips} round trips, median {median_us:.0f} us")
    _say("          multipart [0 B, 255 B, 64 KiB, 1 MiB] echoed back intact")


async def demo_request_reply(round_trips: int) -> None:
    """REQ/REP round trips, then clients and workers through a ROUTER/DEALER broker."""
    _say("reqrep    REQ <-> REP, over tcp")
    async with (
        trio_zmq.open_socket(trio_zmq.REP) as server,
        trio_zmq.open_socket(trio_zmq.REQ) as client,
    ):
        client.connect(await server.bind(LOOPBACK))
        times = []
        for i in range(round_trips):
            start = trio.current_time()
            await client.send(b"request %d" % i)
            await server.send(await server.recv() + b" answered")
            assert await client.recv() == b"request %d answered" % i
            times.append(trio.current_time() - start)
    _say(
        f"          {round_trips} requests answered, median {statistics.median(times) * 1e6:.0f} us"
    )

    _say("broker    4 x REQ -> ROUTER | broker | DEALER -> 2 x REP, over tcp")
    served: Counter[str] = Counter()
    async with (
        trio_zmq.open_socket(trio_zmq.ROUTER) as frontend,
        trio_zmq.open_socket(trio_zmq.DEALER) as backend,
        trio.open_nursery() as nursery,
    ):
        frontend_endpoint = await frontend.bind(LOOPBACK)
        backend_endpoint = await backend.bind(LOOPBACK)

        async def forward(source: trio_zmq.Socket, destination: trio_zmq.Socket) -> None:
            async for message in source:
                await destination.send_multipart(message)

        async def run_worker(name: str) -> None:
            async with trio_zmq.open_socket(trio_zmq.REP) as rep:
                rep.connect(backend_endpoint)
                async for (request,) in rep:
                    await rep.send(request + b"|" + name.encode())

        async def run_client(name: str) -> None:
            async with trio_zmq.open_socket(trio_zmq.REQ) as req:
                req.connect(frontend_endpoint)
                for i in range(round_trips // 4):
                    await req.send(b"%s %d" % (name.encode(), i))
                    request, worker_name = (await req.recv()).split(b"|")
                    assert request == b"%s %d" % (name.encode(), i)  # each reply finds its client
                    served[worker_name.decode()] += 1

        nursery.start_soon(forward, frontend, backend)
        nursery.start_soon(forward, backend, frontend)
        for w in range(2):
            nursery.start_soon(run_worker, f"worker-{w}")
        while backend.statistics().peers < 2:  # noqa: ASYNC110 - no monitor yet
            await trio.sleep(0.001)
        async with trio.open_nursery() as clients:
            for c in range(4):
                clients.start_soon(run_client, f"client-{c}")
        nursery.cancel_scope.cancel()
    shares = ", ".join(f"{name} {count}" for name, count in sorted(served.items()))
    _say(f"          {sum(served.values())} requests, each reply back at its client; {shares}")


async def demo_pubsub(updates: int) -> None:
    """PUB fans out by topic; an XSUB/XPUB forwarder passes subscriptions up."""
    _say("pubsub    PUB -> XSUB | forwarder | XPUB -> 3 x SUB, over tcp")
    topics = [b"weather.", b"news.", b"sports."]
    wanted = {"weather": b"weather.", "news": b"news.", "everything": b""}
    got: Counter[str] = Counter()
    async with (
        trio_zmq.open_socket(trio_zmq.PUB) as publisher,
        trio_zmq.open_socket(trio_zmq.XSUB) as upstream,
        trio_zmq.open_socket(trio_zmq.XPUB) as downstream,
        trio.open_nursery() as nursery,
    ):
        upstream.connect(await publisher.bind(LOOPBACK))
        endpoint = await downstream.bind(LOOPBACK)
        nursery.start_soon(trio_zmq.proxy, upstream, downstream)
        heard: dict[str, trio.Event] = {name: trio.Event() for name in wanted}

        async def subscriber(name: str) -> None:
            prefix = wanted[name]
            async with trio_zmq.open_socket(
                trio_zmq.SUB, subscribe=[prefix, b"probe", b"end"]
            ) as sub:
                sub.connect(endpoint)
                async for topic, _body in sub:
                    if topic == b"end":
                        return
                    if topic == b"probe":
                        heard[name].set()
                        continue
                    assert topic.startswith(prefix)  # the filter held
                    got[name] += 1

        async with trio.open_nursery() as subscribers:
            for name in wanted:
                subscribers.start_soon(subscriber, name)
            # Subscriptions reach the publisher in the background, through the
            # forwarder: publish probes until every subscriber has heard one.
            while not all(event.is_set() for event in heard.values()):
                await publisher.send_multipart([b"probe", b""])
                await trio.sleep(0.005)
            for i in range(updates):
                await publisher.send_multipart([topics[i % 3] + b"%d" % i, b"update %d" % i])
            await publisher.send_multipart([b"end", b""])
        nursery.cancel_scope.cancel()
    counts = ", ".join(f"{name} {got[name]}" for name in wanted)
    _say(f"          {updates} updates published; each SUB got its topics only: {counts}")


async def demo_backpressure() -> None:
    """A PUSH whose peer does not read fills up to its high-water marks, then waits."""
    _say("hwm       PUSH (sndhwm=10) -> PULL (rcvhwm=10) that does not read")
    async with (
        trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=10) as pull,
        trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=10) as push,
    ):
        push.connect(await pull.bind(LOOPBACK))
        sent = 0
        payload = b"." * 100_000
        with trio.move_on_after(0.5):
            while True:
                await push.send(payload)
                sent += 1
        queued = pull.statistics().queued_inbound
        _say(f"          send blocked after {sent} messages ({queued} waiting at the PULL);")
        for _ in range(sent):
            await pull.recv()
        _say(f"          reading them all resumed the flow: {sent} of {sent} received")


async def run_demo(messages: int) -> None:
    _say(f"trio_zmq {trio_zmq.__version__}: ZeroMQ in pure Python on Trio (ZMTP 3.1)")
    _say()
    await demo_pipeline(messages, workers=3)
    await demo_pair(max(1, messages // 10))
    await demo_request_reply(max(4, messages // 10))
    await demo_pubsub(max(3, messages // 10 * 3))
    await demo_backpressure()
    _say()
    _say(
        "every pattern built so far works: "
        "PUSH, PULL, PAIR, REQ, REP, DEALER, ROUTER, PUB, SUB, XPUB, XSUB"
    )


def find_benchmarks(candidates: Iterable[Path]) -> Path | None:
    """The first of ``candidates`` that is a trio_zmq checkout with its benchmark suite.

    Another project's ``benchmarks/`` is not taken: the directory must hold
    the ``trio_zmq`` package beside it.
    """
    for root in candidates:
        if (root / "benchmarks" / "__main__.py").is_file() and (
            root / "trio_zmq" / "__init__.py"
        ).is_file():
            return root
    return None


def run_bench(args: Sequence[str]) -> int:
    """Run ``python -m benchmarks ARGS`` in the source checkout; return its exit status.

    The suite is not part of the installed package: it is looked for in the
    current directory, then next to the ``trio_zmq`` package (an editable
    install).
    """
    package_parent = Path(trio_zmq.__file__).resolve().parent.parent
    root = find_benchmarks([Path.cwd(), package_parent])
    if root is None:
        print(
            "trio-zmq bench: the benchmark suite (benchmarks/) comes with the source "
            "checkout, not the installed package; run this from the checkout, with pyzmq "
            "installed (pip install pyzmq)",
            file=sys.stderr,
        )
        return 2
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.call([sys.executable, "-m", "benchmarks", *args], cwd=root, env=env)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``trio-zmq`` and ``python -m trio_zmq``."""
    parser = argparse.ArgumentParser(prog="trio-zmq", description=__doc__)
    parser.add_argument("--version", action="version", version=trio_zmq.__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="show messages flowing through every pattern")
    demo.add_argument("--messages", type=int, default=1000, help="tasks in the pipeline")
    commands.add_parser(
        "bench",
        help="run the benchmark suite against pyzmq (source checkout); "
        "arguments go to python -m benchmarks (--quick, --only ..., --help)",
        add_help=False,
    )
    # "bench" is listed for --help; its arguments go to the suite untouched.
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        return run_bench(argv[1:])
    args = parser.parse_args(argv)
    trio.run(run_demo, args.messages)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
