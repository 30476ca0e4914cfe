"""The benchmarks run (tiny sizes; no timing is asserted, only that every row completes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pubsub_benchmark_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.pubsub", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "10 subscribers: trio_zmq" in result.stdout
    assert "1,000 subscriptions: trio_zmq" in result.stdout
    assert "ratios" in result.stdout
