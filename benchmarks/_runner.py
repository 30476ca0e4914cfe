"""Run the two ends of a benchmark in separate processes and collect their results.

The first process prints ``READY <endpoint>`` once bound; the second gets the
endpoint as an argument; each prints one JSON line with its results. Every
run is killed after ``timeout`` seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def ready(endpoint: str) -> None:
    print(f"READY {endpoint}", flush=True)


def run_pair(
    module: str, first: list[str], second: list[str], timeout: float = 60.0
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start ``python -m module *first``, then ``*second <endpoint>``; return both results."""
    deadline = time.monotonic() + timeout
    procs: list[subprocess.Popen[str]] = []
    try:
        a = subprocess.Popen(
            [sys.executable, "-m", module, *first], stdout=subprocess.PIPE, text=True
        )
        procs.append(a)
        assert a.stdout is not None
        line = a.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"{module} {first}: no READY line, got {line!r}")
        endpoint = line.split()[1]
        b = subprocess.Popen(
            [sys.executable, "-m", module, *second, endpoint], stdout=subprocess.PIPE, text=True
        )
        procs.append(b)
        out_b, _ = b.communicate(timeout=max(1.0, deadline - time.monotonic()))
        out_a, _ = a.communicate(timeout=max(1.0, deadline - time.monotonic()))
        return _last_json(out_a), _last_json(out_b)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise RuntimeError(f"no result in {text[-300:]!r}")
