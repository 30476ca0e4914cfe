"""The benchmarks run (tiny sizes; no timing is asserted, only that every row completes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trio_zmq import _cli
from trio_zmq._cli import find_benchmarks

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_pubsub_benchmark_runs() -> None:
    result = _run("benchmarks.pubsub", "--smoke", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "10 subscribers: trio_zmq" in result.stdout
    assert "1,000 subscriptions: trio_zmq" in result.stdout
    assert "ratios" in result.stdout


def test_benchmark_suite_smoke_runs_every_row(tmp_path: Path) -> None:
    saved = tmp_path / "results.json"
    result = _run("benchmarks", "--smoke", "--json", str(saved), timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    out = result.stdout
    # The header names the versions and the commit.
    assert "Python " in out
    assert "pyzmq " in out
    assert "commit " in out
    # Row 1: every size, with both ratios.
    assert "1. PUSH -> PULL throughput" in out
    for size in ("| 16 B ", "| 256 B ", "| 4 KiB ", "| 64 KiB ", "| 1 MiB "):
        assert size in out
    assert "trio_zmq / zmq.asyncio" in out
    assert "trio_zmq / pyzmq" in out
    # Row 2.
    assert "2. REQ/REP round trip" in out
    assert "trio_zmq median / zmq.asyncio median:" in out
    # Row 3, through benchmarks/pubsub.py.
    assert "3. PUB/SUB fan-out" in out
    for fanout in ("| 1 subscriber ", "| 10 subscribers ", "| 100 subscribers "):
        assert fanout in out
    # Row 4.
    assert "4. inproc PUSH/PULL" in out
    assert "trio memory channel" in out
    # Row 5.
    assert "5. " in out
    assert "| trio_zmq ROUTER " in out
    assert "| pyzmq ROUTER " in out
    # Row 6: measured if trio_zmq has the batch API, "n/a" otherwise.
    assert "6. PUSH -> PULL 16 B with send_many / recv_many" in out
    assert "n/a (no batch API)" in out or "send_many/recv_many (batches of" in out
    # The targets, each with a verdict.
    assert "Targets" in out
    assert out.count("| met ") + out.count("| not met ") == 7
    assert "error" not in out
    # --report prints the same tables again from the JSON, measuring nothing.
    report = _run("benchmarks", "--report", str(saved), timeout=60)
    assert report.returncode == 0, report.stderr
    tables = [line for line in out.splitlines() if line.startswith("| ")]
    assert tables == [line for line in report.stdout.splitlines() if line.startswith("| ")]


def test_benchmark_suite_only_and_unknown_row() -> None:
    result = _run("benchmarks", "--smoke", "--only", "inproc", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "4. inproc PUSH/PULL" in result.stdout
    assert "1. PUSH -> PULL" not in result.stdout
    assert "not measured" in result.stdout
    bad = _run("benchmarks", "--only", "nonsense", timeout=60)
    assert bad.returncode != 0
    assert "unknown row" in bad.stderr


def test_trio_zmq_bench_runs_the_suite_of_the_checkout() -> None:
    result = _run("trio_zmq", "bench", "--smoke", "--only", "latency", timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "2. REQ/REP round trip" in result.stdout
    assert "1. PUSH -> PULL throughput" not in result.stdout  # --only reached the suite


def test_the_suite_is_found_in_the_first_directory_that_has_it(tmp_path: Path) -> None:
    empty, other, checkout = tmp_path / "empty", tmp_path / "other", tmp_path / "checkout"
    empty.mkdir()
    for root in (other, checkout):
        (root / "benchmarks").mkdir(parents=True)
        (root / "benchmarks" / "__main__.py").write_text("")
    (checkout / "trio_zmq").mkdir()
    (checkout / "trio_zmq" / "__init__.py").write_text("")
    assert find_benchmarks([empty]) is None
    assert find_benchmarks([other]) is None  # another project's benchmarks/
    assert find_benchmarks([empty, other, checkout]) == checkout


def test_bench_without_a_checkout_says_where_the_suite_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_cli, "find_benchmarks", lambda candidates: None)
    assert _cli.main(["bench", "--quick"]) == 2
    assert "source checkout" in capsys.readouterr().err
