"""The publish-subscribe examples run as they are, with trio_zmq and with pyzmq peers.

The weather server publishes for ever, so the subscribers' slow joining
needs no synchronisation: a client just waits for its updates.
"""

from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio
import zmq

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "tcp://127.0.0.1:*"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wuserver = _load("wuserver")
wuclient = _load("wuclient")
wuproxy = _load("wuproxy")


def check_updates(updates: list[str], zipcode: str, count: int) -> None:
    """``count`` well-formed updates, every one for ``zipcode``."""
    assert len(updates) == count
    for update in updates:
        code, temperature, relhumidity = update.split(" ")
        assert code == zipcode
        assert -80 <= int(temperature) < 135
        assert 10 <= int(relhumidity) < 60


# --- as they are: separate processes -------------------------------------------------


@contextmanager
def _running(*args: str) -> Iterator[str]:
    """Run an example that runs for ever; yield the endpoint its first line ends with."""
    with subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            endpoint = first.rsplit(" ", 1)[-1].strip()
            assert endpoint.startswith("tcp://127.0.0.1:"), first
            yield endpoint
        finally:
            process.kill()


def _run_client(endpoint: str, zipcode: str, updates: int) -> str:
    client = subprocess.run(
        [sys.executable, "examples/wuclient.py", endpoint, zipcode, str(updates)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert client.returncode == 0, client.stderr
    return client.stdout


def _check_client_output(out: str, zipcode: str, updates: int) -> None:
    lines = out.splitlines()
    assert lines[0].startswith(f"wuclient: collecting updates for zipcode {zipcode} from ")
    check_updates([line.removeprefix("wuclient: ") for line in lines[1:-1]], zipcode, updates)
    assert lines[-1].startswith(f"wuclient: average temperature for zipcode {zipcode} was ")
    assert lines[-1].endswith(f"F over {updates} updates")


def test_weather_scripts_run_as_they_are() -> None:
    with _running("examples/wuserver.py", LOOPBACK) as endpoint:
        _check_client_output(_run_client(endpoint, "10001", 20), "10001", 20)


def test_weather_forwarder_script_runs_as_it_is() -> None:
    with (
        _running("examples/wuserver.py", LOOPBACK) as server_endpoint,
        _running("examples/wuproxy.py", server_endpoint, LOOPBACK) as endpoint,
    ):
        _check_client_output(_run_client(endpoint, "10042", 20), "10042", 20)


# --- in process, and with pyzmq peers --------------------------------------------------


async def test_weather_in_process() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            endpoint = await nursery.start(wuserver.serve, LOOPBACK)
            check_updates(await wuclient.receive_updates(endpoint, "10001", 10), "10001", 10)
            assert -80 <= await wuclient.main(endpoint, "10099", 5) < 135
            nursery.cancel_scope.cancel()


class PyzmqServer:
    """The weather server written with pyzmq, publishing from a thread until stopped."""

    def __init__(self, zctx: zmq.Context[Any]) -> None:
        self.sock = zctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.endpoint = f"tcp://127.0.0.1:{self.sock.bind_to_random_port('tcp://127.0.0.1')}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._publish)

    def _publish(self) -> None:
        rng = random.Random()
        while not self._stop.is_set():
            for _ in range(100):
                self.sock.send_string(wuserver.weather_update(rng))
            self._stop.wait(0.001)  # the pace: leaves the GIL to the trio thread

    def __enter__(self) -> PyzmqServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.sock.close(linger=0)


def pyzmq_client(zctx: zmq.Context[Any], endpoint: str, zipcode: str, count: int) -> list[str]:
    """The weather client written with pyzmq (blocking: run it in a thread)."""
    sock = zctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    sock.setsockopt_string(zmq.SUBSCRIBE, f"{zipcode} ")
    sock.connect(endpoint)
    try:
        return [sock.recv_string() for _ in range(count)]
    finally:
        sock.close(linger=0)


async def test_weather_client_against_a_pyzmq_server(zctx: zmq.Context[Any]) -> None:
    with trio.fail_after(10), PyzmqServer(zctx) as server:
        check_updates(await wuclient.receive_updates(server.endpoint, "10001", 10), "10001", 10)


async def test_pyzmq_client_against_the_weather_server(zctx: zmq.Context[Any]) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            endpoint = await nursery.start(wuserver.serve, LOOPBACK)
            updates = await trio.to_thread.run_sync(pyzmq_client, zctx, endpoint, "10001", 10)
            check_updates(updates, "10001", 10)
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("server_impl", ["trio", "pyzmq"])
async def test_forwarder_carries_updates_to_trio_and_pyzmq_clients(
    zctx: zmq.Context[Any], server_impl: str
) -> None:
    """Server -> forwarder -> a trio_zmq client and a pyzmq client, each with its zipcode."""
    results: dict[str, list[str]] = {}
    with trio.fail_after(15), ExitStack() as stack:
        async with trio.open_nursery() as nursery:
            if server_impl == "trio":
                server_endpoint = await nursery.start(wuserver.serve, LOOPBACK)
            else:
                server_endpoint = stack.enter_context(PyzmqServer(zctx)).endpoint
            endpoint = await nursery.start(wuproxy.forward, server_endpoint, LOOPBACK)

            async def trio_client() -> None:
                results["10001"] = await wuclient.receive_updates(endpoint, "10001", 10)

            async def threaded_pyzmq_client() -> None:
                results["10002"] = await trio.to_thread.run_sync(
                    pyzmq_client, zctx, endpoint, "10002", 10
                )

            async with trio.open_nursery() as clients:
                clients.start_soon(trio_client)
                clients.start_soon(threaded_pyzmq_client)
            nursery.cancel_scope.cancel()
    for zipcode, updates in results.items():
        check_updates(updates, zipcode, 10)
    assert sorted(results) == ["10001", "10002"]
