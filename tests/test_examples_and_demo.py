"""The examples and the demo run as they are."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import trio

import trio_zmq

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_push_pull_example_runs() -> None:
    result = _run("examples/push_pull.py")
    assert result.returncode == 0, result.stderr
    expected = sum(i * i for i in range(100))
    assert f"sum of the squares of 0..99: {expected}" in result.stdout


def _load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_push_pull_example_main() -> None:
    push_pull = _load_example("push_pull")
    with trio.fail_after(20):
        assert await push_pull.main(n=50, workers=3) == sum(i * i for i in range(50))


def test_demo_runs_and_reports_every_pattern() -> None:
    result = _run("-m", "trio_zmq", "demo", "--messages", "300")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "300 tasks in" in out
    assert "round-robin shares: worker-0 100, worker-1 100, worker-2 100" in out
    assert "30 round trips" in out
    assert "echoed back intact" in out
    assert "of" in out and "received" in out
    assert "30 requests answered" in out
    assert "28 requests, each reply back at its client" in out
    assert (
        "90 updates published; each SUB got its topics only: weather 30, news 30, everything 90"
        in out
    )
    assert "PUSH, PULL, PAIR, REQ, REP, DEALER, ROUTER, PUB, SUB, XPUB, XSUB" in out


def test_cli_version() -> None:
    result = _run("-m", "trio_zmq", "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == trio_zmq.__version__
