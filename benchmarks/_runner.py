"""Run the two ends of a benchmark in separate processes and collect their results.

The first process prints ``READY <endpoint>`` once bound; the second gets the
endpoint as an argument; each prints one JSON line with its results. Every
run is killed after ``timeout`` seconds. A child that fails (non-zero exit,
no result) makes ``run_pair`` raise with the end of its stderr.

Also here: the small helpers every child process shares (resident memory,
the open-files limit).
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

#: The project root: children run there so ``python -m benchmarks.x`` finds the package.
ROOT = Path(__file__).resolve().parent.parent


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def ready(endpoint: str) -> None:
    print(f"READY {endpoint}", flush=True)


def rss_bytes() -> int:
    """This process's resident set size now (not the peak), from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def raise_nofile_limit() -> int:
    """Raise the soft limit on open files to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return int(soft)


def _spawn(module: str, args: list[str], stderr: IO[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        cwd=ROOT,
    )


def _read_ready(proc: subprocess.Popen[str], timeout: float) -> str:
    """The first line of ``proc``'s stdout, or "" if none came within ``timeout``."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            return ""
    return proc.stdout.readline()


def run_pair(
    module: str, first: list[str], second: list[str], timeout: float = 60.0
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start ``python -m module *first``, then ``*second <endpoint>``; return both results."""
    deadline = time.monotonic() + timeout
    procs: list[subprocess.Popen[str]] = []
    with tempfile.TemporaryFile("w+") as err_a, tempfile.TemporaryFile("w+") as err_b:

        def failure(what: str) -> RuntimeError:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            tails = []
            for name, f in (("first", err_a), ("second", err_b)):
                f.seek(0)
                text = f.read().strip()
                if text:
                    tails.append(f"--- {name} process stderr:\n{text[-2000:]}")
            return RuntimeError("\n".join([f"{module} {first}: {what}", *tails]))

        try:
            a = _spawn(module, first, err_a)
            procs.append(a)
            line = _read_ready(a, timeout)
            if not line.startswith("READY "):
                raise failure(f"no READY line, got {line!r}")
            endpoint = line.split()[1]
            b = _spawn(module, [*second, endpoint], err_b)
            procs.append(b)
            try:
                out_b, _ = b.communicate(timeout=max(1.0, deadline - time.monotonic()))
                out_a, _ = a.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise failure(f"killed after {timeout:.0f} s") from None
            if a.returncode or b.returncode:
                raise failure(f"exit status {a.returncode} / {b.returncode}")
            try:
                return _last_json(out_a), _last_json(out_b)
            except RuntimeError as exc:
                raise failure(str(exc)) from None
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()


def run_one(module: str, args: list[str], timeout: float = 60.0) -> dict[str, Any]:
    """Run ``python -m module *args`` alone; return its JSON result."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", module, *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{module} {args}: killed after {timeout:.0f} s") from None
    if proc.returncode:
        raise RuntimeError(
            f"{module} {args}: exit status {proc.returncode}\n{proc.stderr.strip()[-2000:]}"
        )
    return _last_json(proc.stdout)


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise RuntimeError(f"no result in {text[-300:]!r}")
