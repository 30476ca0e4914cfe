"""The benchmark suite: trio_zmq against pyzmq (zmq.asyncio and blocking), as ratios.

    python -m benchmarks                         # every row, 3 repetitions (~5 min, 2 cores)
    python -m benchmarks --quick                 # shorter runs, 1 repetition
    python -m benchmarks --smoke                 # seconds: does every row still work?
    python -m benchmarks --only latency,inproc   # some rows
    python -m benchmarks --json results.json     # also keep every figure

Rows (names for ``--only``):

1. ``throughput``: PUSH -> PULL over loopback tcp, 16 B .. 1 MiB (benchmarks/throughput.py)
2. ``latency``: REQ/REP round trip, 64 B, loopback tcp (benchmarks/latency.py)
3. ``fanout``: PUB/SUB fan-out to 1, 10, 100 subscribers (benchmarks/pubsub.py)
4. ``inproc``: PUSH/PULL 16 B in one process, with a trio memory channel as the
   reference (benchmarks/inproc.py)
5. ``router``: 1,000 DEALERs on one ROUTER: memory per idle peer, throughput
   (benchmarks/router.py)
6. ``batch``: PUSH -> PULL 16 B with ``send_many`` / ``recv_many``, if trio_zmq
   has them (benchmarks/throughput.py)

Every network measurement runs its two ends in separate processes over
127.0.0.1; every in-process one runs in a fresh process. Within a row the
implementations take turns (trio_zmq, zmq.asyncio, blocking pyzmq, then
again) and each figure is the median of the repetitions. The targets the
project states are checked at the end against ratios measured in this run.
No figure here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Any

from benchmarks import inproc, latency, pubsub, router, throughput
from benchmarks._runner import ROOT

ROWS = ("throughput", "latency", "fanout", "inproc", "router", "batch")
ALIASES = {"pubsub": "fanout", "reqrep": "latency", "pushpull": "throughput"}
NAMES = {"trio": "trio_zmq", "asyncio": "zmq.asyncio", "pyzmq": "pyzmq"}


@dataclass(frozen=True)
class Settings:
    """How long and how often each row runs."""

    mode: str
    repeat: int
    #: Seconds each PUSH/PULL sender sends for (tcp and inproc rows).
    send_seconds: float
    sizes: tuple[int, ...]
    latency_count: int
    latency_warmup: int
    latency_cap: float
    #: Multiplies benchmarks.pubsub's message counts.
    fanout_scale: float
    fanouts: tuple[int, ...]
    router_peers: int
    router_per_peer: int


MODES = {
    "default": Settings(
        mode="default",
        repeat=3,
        send_seconds=1.5,
        sizes=throughput.SIZES,
        latency_count=10_000,
        latency_warmup=1_000,
        latency_cap=4.0,
        fanout_scale=0.3,
        fanouts=(1, 10, 100),
        router_peers=1_000,
        router_per_peer=20,
    ),
    "quick": Settings(
        mode="quick",
        repeat=1,
        send_seconds=0.5,
        sizes=throughput.SIZES,
        latency_count=3_000,
        latency_warmup=300,
        latency_cap=1.5,
        fanout_scale=0.1,
        fanouts=(1, 10, 100),
        router_peers=1_000,
        router_per_peer=10,
    ),
    "smoke": Settings(
        mode="smoke",
        repeat=1,
        send_seconds=0.02,
        sizes=throughput.SIZES,
        latency_count=200,
        latency_warmup=20,
        latency_cap=0.5,
        fanout_scale=0.004,
        fanouts=(1, 10, 100),
        router_peers=20,
        router_per_peer=5,
    ),
}


class Suite:
    """Runs the rows, prints their tables, and remembers every figure."""

    def __init__(self, settings: Settings, replay: dict[str, Any] | None = None) -> None:
        self.s = settings
        #: Each row's medians and ratios, by row name.
        self.results: dict[str, Any] = {}
        #: Every run's raw figures, by measurement (what ``--report`` replays).
        self.measurements: dict[str, Any] = {}
        self.replay = replay
        self.errors: list[str] = []

    # --- helpers --------------------------------------------------------------

    def attempt(self, what: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """One measurement; a failure is reported and remembered, and the suite goes on."""
        try:
            return run()
        except Exception as exc:
            message = f"{what}: {exc}"
            self.errors.append(message)
            print(f"  ! {message}", file=sys.stderr, flush=True)
            return None

    def once(self, what: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """One measurement, recorded (or replayed) under ``what``."""
        if self.replay is not None:
            result: dict[str, Any] | None = self.replay.get(what)
        else:
            result = self.attempt(what, run)
        self.measurements[what] = result
        return result

    def alternate(
        self, impls: Sequence[str], what: str, run: Callable[[str], dict[str, Any]]
    ) -> dict[str, list[dict[str, Any]]]:
        """``repeat`` rounds, each running every implementation once, in turn."""
        runs: dict[str, list[dict[str, Any]]] = {impl: [] for impl in impls}
        if self.replay is not None:
            runs.update(self.replay.get(what, {}))
        else:
            for _ in range(self.s.repeat):
                for impl in impls:
                    result = self.attempt(f"{what} {impl}", partial(run, impl))
                    if result is not None:
                        runs[impl].append(result)
        self.measurements[what] = runs
        return runs

    # --- rows -------------------------------------------------------------------

    def row_throughput(self) -> None:
        print(title("1. PUSH -> PULL throughput, loopback tcp, two processes", self.s))
        print(
            f"one await send / await recv per message (pyzmq: blocking calls); the sender sends"
            f" for {self.s.send_seconds} s, the receiver times first to last message;"
            f" MB = 10^6 B of payload"
        )
        out: dict[str, Any] = {}
        rows = []
        for size in self.s.sizes:
            runs = self.alternate(
                throughput.IMPLS,
                f"throughput {size_label(size)}",
                partial(throughput.measure, size=size, duration=self.s.send_seconds),
            )
            rates = {impl: median_of(runs[impl], "rate") for impl in throughput.IMPLS}
            out[str(size)] = {"median_rate": rates, "runs": runs}
            rows.append(
                [
                    size_label(size),
                    *(rate_and_mb(rates[impl], size) for impl in throughput.IMPLS),
                    ratio(rates["trio"], rates["asyncio"]),
                    ratio(rates["trio"], rates["pyzmq"]),
                ]
            )
        headers = ["size", *(f"{NAMES[i]} msg/s, MB/s" for i in throughput.IMPLS)]
        print_table([*headers, "trio_zmq / zmq.asyncio", "trio_zmq / pyzmq"], rows)
        self.results["throughput"] = out

    def row_latency(self) -> None:
        print(title("2. REQ/REP round trip, 64 B, loopback tcp, two processes", self.s))
        print("each round trip timed around one send + recv on the REQ side, after a warm-up")
        s = self.s
        runs = self.alternate(
            latency.IMPLS,
            "latency",
            partial(
                latency.measure, count=s.latency_count, warmup=s.latency_warmup, cap=s.latency_cap
            ),
        )
        medians = {impl: median_of(runs[impl], "median_us") for impl in latency.IMPLS}
        p99s = {impl: median_of(runs[impl], "p99_us") for impl in latency.IMPLS}
        rows = [
            [NAMES[impl], us(medians[impl]), us(p99s[impl]), ratio(medians["trio"], medians[impl])]
            for impl in latency.IMPLS
        ]
        counts = [r["n"] for rs in runs.values() for r in rs]
        print_table(["implementation", "median µs", "p99 µs", "trio_zmq's median / this"], rows)
        print(
            f"trio_zmq median / zmq.asyncio median: {ratio(medians['trio'], medians['asyncio'])};"
            f" / pyzmq median: {ratio(medians['trio'], medians['pyzmq'])}"
            f" ({min(counts, default=0)}-{max(counts, default=0)} timed round trips per run,"
            f" after {s.latency_warmup} warm-up ones)\n"
        )
        self.results["latency"] = {"median_us": medians, "p99_us": p99s, "runs": runs}

    def row_fanout(self) -> None:
        print(title("3. PUB/SUB fan-out, 64 B, loopback tcp, two processes", self.s))
        print(
            "benchmarks/pubsub.py: one XPUB, N SUB sockets in one other process, no HWM;"
            " deliveries counted at the subscribers, first to last"
        )
        out: dict[str, Any] = {}
        rows = []
        for sockets in self.s.fanouts:
            count = pubsub.fanout_count(sockets, self.s.fanout_scale)
            runs = self.alternate(
                pubsub.IMPLS,
                f"fan-out {sockets}",
                partial(pubsub.run_row, sockets=sockets, topics=1, count=count),
            )
            rates = {impl: median_of(runs[impl], "rate") for impl in pubsub.IMPLS}
            out[str(sockets)] = {"messages": count, "median_rate": rates, "runs": runs}
            rows.append(
                [
                    f"{sockets} subscriber{'s' if sockets > 1 else ''}",
                    f"{count:,}",
                    *(per_second(rates[impl]) for impl in pubsub.IMPLS),
                    ratio(rates["trio"], rates["asyncio"]),
                    ratio(rates["trio"], rates["pyzmq"]),
                ]
            )
        print_table(
            [
                "fan-out",
                "messages",
                *(f"{NAMES[i]} deliveries/s" for i in pubsub.IMPLS),
                "trio_zmq / zmq.asyncio",
                "trio_zmq / pyzmq",
            ],
            rows,
        )
        self.results["fanout"] = out

    def row_inproc(self) -> None:
        print(title("4. inproc PUSH/PULL, 16 B, one process", self.s))
        print(
            f"each in a fresh process; the sender sends for {self.s.send_seconds} s,"
            " the receiver times first to last message"
        )
        runs = self.alternate(
            inproc.IMPLS, "inproc", lambda impl: inproc.measure(impl, self.s.send_seconds)
        )
        rates = {impl: median_of(runs[impl], "rate") for impl in inproc.IMPLS}
        labels = {
            "trio": "trio_zmq inproc (2 tasks)",
            "pyzmq": "pyzmq inproc, blocking (2 threads)",
            "channel": "trio memory channel, buffer 1000 (2 tasks)",
        }
        rows = [
            [labels[impl], per_second(rates[impl]), ratio(rates[impl], rates["channel"])]
            for impl in inproc.IMPLS
        ]
        print_table(["implementation", "msg/s", "/ memory channel"], rows)
        self.results["inproc"] = {"median_rate": rates, "runs": runs}

    def row_router(self) -> None:
        s = self.s
        print(
            title(
                f"5. {s.router_peers:,} DEALERs (pyzmq, another process) on one ROUTER,"
                " loopback tcp",
                s,
            )
        )
        print(
            "memory: the ROUTER process's RSS once every peer has connected and sent one hello,"
            " minus its RSS before, per peer (tracemalloc: one extra trio_zmq run with tracing"
            f" on); throughput: each DEALER sends {s.router_per_peer} x 64 B, the ROUTER answers"
            " every message, replies addressed round-robin over all the peers"
        )
        runs = self.alternate(
            router.IMPLS,
            "router",
            lambda impl: router.measure(impl, s.router_peers, s.router_per_peer),
        )
        traced = self.once(
            "router trio tracemalloc",
            lambda: router.measure("trio", s.router_peers, 1, trace=True),
        )
        figures = {
            impl: {
                key: median_of(runs[impl], key)
                for key in ("rss_per_peer", "rate", "setup_s", "peers")
            }
            for impl in router.IMPLS
        }
        traced_per_peer = traced.get("traced_per_peer", float("nan")) if traced else float("nan")
        rows = []
        for impl in router.IMPLS:
            f = figures[impl]
            heap = kib(traced_per_peer) if impl == "trio" else "-"
            rows.append(
                [
                    f"{NAMES[impl]} ROUTER",
                    kib(f["rss_per_peer"]),
                    heap,
                    f"{f['setup_s']:.2f}",
                    per_second(f["rate"]),
                ]
            )
        print_table(
            [
                "ROUTER",
                "RSS per idle peer",
                "Python heap per peer (tracemalloc)",
                "connect + hello, s",
                "msg/s received and answered",
            ],
            rows,
        )
        print(
            f"trio_zmq / pyzmq: memory per peer"
            f" {ratio(figures['trio']['rss_per_peer'], figures['pyzmq']['rss_per_peer'])},"
            f" throughput {ratio(figures['trio']['rate'], figures['pyzmq']['rate'])}"
            "\n"
        )
        self.results["router"] = {
            "median": figures,
            "traced_per_peer": traced_per_peer,
            "runs": runs,
            "traced_run": traced,
        }

    def row_batch(self) -> None:
        print(title("6. PUSH -> PULL 16 B with send_many / recv_many, loopback tcp", self.s))
        print(
            f"as row 1, but trio_zmq sends lists of {throughput.BATCH} messages with send_many"
            f" and receives with recv_many({throughput.RECV_BATCH}); pyzmq as in row 1"
        )
        batch_api = (
            "batch 16 B" in self.replay if self.replay is not None else throughput.has_batch_api()
        )
        if not batch_api:
            print("n/a (no batch API)\n")
            self.results["batch"] = None
            return
        impls = ("trio-batch", "asyncio", "pyzmq")
        runs = self.alternate(
            impls, "batch 16 B", lambda impl: throughput.measure(impl, 16, self.s.send_seconds)
        )
        rates = {impl: median_of(runs[impl], "rate") for impl in impls}
        print_table(
            [
                "size",
                f"trio_zmq send_many/recv_many (batches of {throughput.BATCH}) msg/s, MB/s",
                "zmq.asyncio msg/s, MB/s",
                "pyzmq msg/s, MB/s",
                "trio_zmq / zmq.asyncio",
                "trio_zmq / pyzmq",
            ],
            [
                [
                    "16 B",
                    *(rate_and_mb(rates[impl], 16) for impl in impls),
                    ratio(rates["trio-batch"], rates["asyncio"]),
                    ratio(rates["trio-batch"], rates["pyzmq"]),
                ]
            ],
        )
        self.results["batch"] = {"median_rate": rates, "runs": runs}

    # --- targets ------------------------------------------------------------------

    def targets(self) -> list[dict[str, Any]]:
        """The project's stated targets, each with the value measured in this run."""
        r = self.results
        nan = float("nan")
        out: list[dict[str, Any]] = []

        def add(target: str, value: float, goal: float, at_least: bool, detail: str) -> None:
            if value != value:  # NaN: the row did not run, or failed
                status, shown = "not measured", "-"
            else:
                met = value >= goal if at_least else value <= goal
                status = "met" if met else "not met"
                shown = detail or f"{value:.3f}x"
            out.append({"target": target, "measured": shown, "value": value, "status": status})

        def versus(a: float, b: float, text_a: str, text_b: str) -> tuple[float, str]:
            if a != a or b != b or not b:
                return nan, ""
            return a / b, f"{a / b:.3f}x ({text_a} vs {text_b})"

        tp = r.get("throughput", {})
        for size, other, goal, name in (
            (16, "asyncio", 2.0, "zmq.asyncio"),
            (256, "asyncio", 2.0, "zmq.asyncio"),
            (1048576, "asyncio", 2.0, "zmq.asyncio"),
            (1048576, "pyzmq", 1.5, "blocking pyzmq"),
        ):
            rates = tp.get(str(size), {}).get("median_rate", {})
            a, b = rates.get("trio", nan), rates.get(other, nan)
            value, detail = versus(a, b, f"{per_second(a)}/s", f"{per_second(b)}/s")
            add(f"PUSH/PULL {size_label(size)}: >= {goal}x {name} msg/s", value, goal, True, detail)

        medians = r.get("latency", {}).get("median_us", {})
        a, b = medians.get("trio", nan), medians.get("asyncio", nan)
        value, detail = versus(a, b, f"{us(a)} µs", f"{us(b)} µs")
        add("REQ/REP 64 B: median <= 0.7x zmq.asyncio's", value, 0.7, False, detail)

        rates = r.get("inproc", {}).get("median_rate", {})
        a, b = rates.get("trio", nan), rates.get("channel", nan)
        value, detail = versus(a, b, f"{per_second(a)}/s", f"{per_second(b)}/s")
        add(
            "inproc 16 B: >= 0.79x a trio memory channel (150k/s where it moves ~190k/s)",
            value,
            150 / 190,
            True,
            detail,
        )

        per_peer = r.get("router", {}).get("median", {}).get("trio", {}).get("rss_per_peer", nan)
        add(
            f"{self.s.router_peers:,} idle ROUTER peers: <= 64 KiB each (RSS)",
            per_peer,
            64 * 1024,
            False,
            kib(per_peer),
        )
        return out


# --- formatting -------------------------------------------------------------------


def title(text: str, s: Settings) -> str:
    reps = "1 run" if s.repeat == 1 else f"median of {s.repeat} runs"
    return f"{text} ({reps})"


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else float("nan")


def size_label(size: int) -> str:
    if size >= 1 << 20:
        return f"{size >> 20} MiB"
    if size >= 1 << 10:
        return f"{size >> 10} KiB"
    return f"{size} B"


def per_second(rate: float) -> str:
    if rate != rate:
        return "error"
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} M"
    if rate >= 1e4:
        return f"{rate / 1e3:.1f} k"
    return f"{rate:,.0f}"


def rate_and_mb(rate: float, size: int) -> str:
    if rate != rate:
        return "error"
    mb = rate * size / 1e6
    shown = f"{mb:.3g}" if mb < 100 else f"{mb:.0f}"
    return f"{per_second(rate)}, {shown} MB/s"


def ratio(a: float, b: float) -> str:
    if a != a or b != b or not b:
        return "-"
    return f"{a / b:.2f}x"


def us(value: float) -> str:
    return "error" if value != value else f"{value:.1f}"


def kib(value: float) -> str:
    return "-" if value != value else f"{value / 1024:.1f} KiB"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A Markdown table, columns padded so it also reads in a terminal."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print()
    print(line(headers))
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for row in rows:
        print(line(row))
    print(flush=True)


# --- the machine ---------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _checkpoint_us() -> float:
    """What one ``await trio.lowlevel.checkpoint()`` costs now: a gauge of the machine's speed."""
    import trio

    async def main() -> float:
        n = 100_000
        checkpoint = trio.lowlevel.checkpoint
        t0 = time.perf_counter()
        for _ in range(n):
            await checkpoint()
        return (time.perf_counter() - t0) / n * 1e6

    return trio.run(main)


def machine() -> dict[str, Any]:
    import trio
    import zmq

    commit = _git("rev-parse", "--short", "HEAD")
    if commit and _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "unknown",
        "cpu": f"{os.cpu_count()} x {_cpu_model()}",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "trio": trio.__version__,
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "load_1m": os.getloadavg()[0],
        "checkpoint_us": _checkpoint_us(),
    }


# --- main ---------------------------------------------------------------------------


def parse_only(text: str | None) -> list[str]:
    if not text:
        return list(ROWS)
    chosen = []
    for raw in text.split(","):
        name = ALIASES.get(raw.strip().lower(), raw.strip().lower())
        if name not in ROWS:
            raise SystemExit(f"--only: unknown row {raw!r}; the rows are {', '.join(ROWS)}")
        chosen.append(name)
    return [name for name in ROWS if name in chosen]


def print_header(info: dict[str, Any], settings: Settings) -> None:
    print(f"trio_zmq benchmarks, {settings.mode} mode, commit {info['commit']}, {info['date']}")
    print(
        f"{info['cpu']}, Linux {info['kernel']}; Python {info['python']}, trio {info['trio']},"
        f" pyzmq {info['pyzmq']} (libzmq {info['libzmq']})"
    )
    print(
        f"load average {info['load_1m']:.2f}; a trio checkpoint costs"
        f" {info['checkpoint_us']:.2f} µs here now (2.5 µs on the baseline machine)\n",
        flush=True,
    )
    if settings.mode == "smoke":
        print("(smoke mode: tiny runs to check that every row works; the figures mean nothing)\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=(__doc__ or "").splitlines()[0]
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="shorter runs, 1 repetition")
    group.add_argument(
        "--smoke", action="store_true", help="a seconds-long run to check every row works"
    )
    group.add_argument(
        "--report", metavar="PATH", help="measure nothing: print the tables of a --json file"
    )
    parser.add_argument("--only", metavar="NAME[,NAME]", help=f"rows to run: {', '.join(ROWS)}")
    parser.add_argument("--repeat", type=int, help="repetitions per figure (median reported)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure to PATH")
    args = parser.parse_args(argv)
    rows = parse_only(args.only)
    started = time.monotonic()
    replay: dict[str, Any] | None = None
    if args.report:
        with open(args.report) as f:
            saved = json.load(f)
        replay = saved["measurements"]
        fields = saved["settings"]
        settings = Settings(
            **{**fields, "sizes": tuple(fields["sizes"]), "fanouts": tuple(fields["fanouts"])}
        )
        info = saved["machine"]
    else:
        settings = MODES["smoke" if args.smoke else "quick" if args.quick else "default"]
        if args.repeat:
            settings = replace(settings, repeat=max(1, args.repeat))
        info = machine()
    print_header(info, settings)

    suite = Suite(settings, replay)
    for name in rows:
        getattr(suite, f"row_{name}")()

    targets = suite.targets()
    print("Targets (ratios measured in this run)")
    print_table(
        ["target", "measured", "status"],
        [[t["target"], t["measured"], t["status"]] for t in targets],
    )
    elapsed = saved["seconds"] if args.report else time.monotonic() - started
    print(f"finished in {elapsed:.0f} s")
    if suite.errors:
        print(f"{len(suite.errors)} measurement(s) failed:", file=sys.stderr)
        for error in suite.errors:
            print(f"  {error.splitlines()[0]}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": info,
                    "settings": asdict(settings),
                    "rows": suite.results,
                    "targets": targets,
                    "errors": suite.errors,
                    "seconds": elapsed,
                    "measurements": suite.measurements,
                },
                f,
                indent=1,
            )
    return 1 if suite.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
