"""The request-reply examples run as they are, with trio_zmq and with pyzmq peers."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import trio
import zmq

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hwserver = _load("hwserver")
hwclient = _load("hwclient")
broker = _load("broker")


def test_hello_world_scripts_run_as_they_are() -> None:
    server = subprocess.Popen(
        [sys.executable, "examples/hwserver.py", "tcp://127.0.0.1:*"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("server: listening on tcp://127.0.0.1:")
        endpoint = first.rsplit(" ", 1)[1].strip()
        client = subprocess.run(
            [sys.executable, "examples/hwclient.py", endpoint],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert client.returncode == 0, client.stderr
        assert client.stdout.count("got b'World'") == 10
    finally:
        server.kill()
        server.wait()


async def test_hello_world_in_process() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            endpoint = await nursery.start(hwserver.serve, "tcp://127.0.0.1:*")
            assert await hwclient.main(endpoint, 5) == [b"World"] * 5
            nursery.cancel_scope.cancel()


async def test_pyzmq_client_talks_to_the_trio_server(zctx: zmq.Context[Any]) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            endpoint = await nursery.start(hwserver.serve, "tcp://127.0.0.1:*")

            def pyzmq_client() -> list[bytes]:
                sock = zctx.socket(zmq.REQ)
                sock.setsockopt(zmq.RCVTIMEO, 5000)
                sock.connect(endpoint)
                replies = []
                for _ in range(3):
                    sock.send(b"Hello")
                    replies.append(sock.recv())
                sock.close(0)
                return replies

            assert await trio.to_thread.run_sync(pyzmq_client) == [b"World"] * 3
            nursery.cancel_scope.cancel()


async def test_trio_client_talks_to_a_pyzmq_server(zctx: zmq.Context[Any]) -> None:
    server = zctx.socket(zmq.REP)
    server.setsockopt(zmq.RCVTIMEO, 5000)
    port = server.bind_to_random_port("tcp://127.0.0.1")

    def pyzmq_server() -> None:
        for _ in range(4):
            assert server.recv() == b"Hello"
            server.send(b"World")

    thread = threading.Thread(target=pyzmq_server)
    thread.start()
    try:
        with trio.fail_after(10):
            assert await hwclient.main(f"tcp://127.0.0.1:{port}", 4) == [b"World"] * 4
    finally:
        thread.join(timeout=10)
        server.close(0)


def test_broker_script_runs_as_it_is() -> None:
    result = subprocess.run(
        [sys.executable, "examples/broker.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("handled by worker-") == 4 * 5


async def test_broker_in_process() -> None:
    with trio.fail_after(20):
        results = await broker.main(clients=3, workers=2, requests=4)
    assert sorted(results) == ["client-0", "client-1", "client-2"]
    for name, replies in results.items():
        assert [r.split(b" handled by ")[0] for r in replies] == [
            f"{name} request {i}".encode() for i in range(4)
        ]


async def test_broker_serves_pyzmq_clients_and_workers_with_trio_ones(
    zctx: zmq.Context[Any],
) -> None:
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            frontend, backend = await nursery.start(
                broker.broker, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"
            )
            nursery.start_soon(broker.worker, backend, "trio-worker")
            stop = threading.Event()

            def pyzmq_worker() -> None:
                sock = zctx.socket(zmq.REP)
                sock.connect(backend)
                poller = zmq.Poller()
                poller.register(sock, zmq.POLLIN)
                while not stop.is_set():
                    if poller.poll(50):
                        sock.send(sock.recv() + b" handled by pyzmq-worker")
                sock.close(0)

            def pyzmq_client(name: str) -> list[bytes]:
                sock = zctx.socket(zmq.REQ)
                sock.setsockopt(zmq.RCVTIMEO, 10000)
                sock.connect(frontend)
                replies = []
                for i in range(6):
                    sock.send(f"{name} request {i}".encode())
                    replies.append(sock.recv())
                sock.close(0)
                return replies

            worker_thread = threading.Thread(target=pyzmq_worker)
            worker_thread.start()
            try:
                # Requests until both workers have answered (they connect in the
                # background; the broker's DEALER round-robins once both are there).
                handled_by: set[bytes] = set()
                while len(handled_by) < 2:
                    (reply,) = await broker.client(frontend, "warm-up", 1)
                    handled_by.add(reply.split(b" handled by ")[1])
                assert handled_by == {b"trio-worker", b"pyzmq-worker"}
                results: dict[str, list[bytes]] = {}

                async def run_pyzmq_client(name: str) -> None:
                    results[name] = await trio.to_thread.run_sync(pyzmq_client, name)

                async def run_trio_client(name: str) -> None:
                    results[name] = await broker.client(frontend, name, 6)

                async with trio.open_nursery() as clients:
                    clients.start_soon(run_pyzmq_client, "pyzmq-client")
                    clients.start_soon(run_trio_client, "trio-client")
            finally:
                stop.set()
                await trio.to_thread.run_sync(worker_thread.join)
            nursery.cancel_scope.cancel()
    assert sorted(results) == ["pyzmq-client", "trio-client"]
    for name, replies in results.items():
        assert len(replies) == 6
        for i, reply in enumerate(replies):
            request, worker = reply.split(b" handled by ")
            assert request == f"{name} request {i}".encode()
            assert worker in (b"trio-worker", b"pyzmq-worker")
