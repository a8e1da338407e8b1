"""`python -m bench` (`make bench`): one data-plane process under wrk, next to the bare upstream.

The run: install wrk if missing, start the fake upstream, seed a throw-away SQLite database,
start one data-plane process, then for each mode (JSON, SSE stream) and concurrency measure the
upstream directly and through the gateway; finally read the data plane's memory, wait for its
settlements and audit the billing. One markdown table goes to stdout and bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.audit import audit, wait_for_settlement
from bench.gateway import (
    CHAT_PATH,
    DATAPLANE_FACTORY,
    Server,
    check_answers,
    start_dataplane,
    start_upstream,
    upstream_served,
)
from bench.processes import REPO_ROOT, BenchError, Children, cpu_seconds, memory_kb, stop
from bench.report import HEADER, RULE, Cell, Report, mb
from bench.seed import MODEL, UPSTREAM_KEY, Seeded, seed
from bench.wrk import WrkError, WrkResult, ensure_wrk, run_wrk, wrk_version
from shared.settings import Secret

MODES = ("json", "stream")
CONCURRENCY = (1, 16, 64)
DIRECT_KEY = "sk-direct-bench"


@dataclass(frozen=True)
class Plan:
    """How long and where each run goes."""

    warmup_s: float
    measure_s: float
    concurrency: tuple[int, ...]
    factory: str | None
    upstream_cpus: set[int] | None
    gateway_cpus: set[int] | None


@dataclass
class Tally:
    """What wrk saw of the gateway over every run, warm-ups included, for the billing audit."""

    ok: int = 0
    cut_bound: int = 0
    warmup_errors: int = 0


def parse_args(argv: list[str] | None) -> Plan:
    """The command line: durations, concurrency levels, how to start the data plane, CPU pinning."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 s warm-up and 3 s per run (about a minute)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up before each run")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per run")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated connection counts")
    parser.add_argument("--app", default=DATAPLANE_FACTORY, help="the uvicorn app factory to measure")
    parser.add_argument(
        "--via-cli", action="store_true", help="start `tollgate serve-api` instead of uvicorn"
    )
    parser.add_argument(
        "--pin", action="store_true", help="gateway on CPU 0; upstream and wrk on the last CPU"
    )
    args = parser.parse_args(argv)
    warmup, measure = (1.0, 3.0) if args.quick else (args.warmup, args.duration)
    last_cpu = max(os.sched_getaffinity(0))
    return Plan(
        warmup_s=warmup,
        measure_s=measure,
        concurrency=tuple(int(c) for c in args.concurrency.split(",") if c.strip()),
        factory=None if args.via_cli else args.app,
        upstream_cpus={last_cpu} if args.pin else None,
        gateway_cpus={0} if args.pin else None,
    )


def request_body(stream: bool) -> str:
    """A small chat request, as an SDK would send it (no stream_options: the gateway adds its own)."""
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Say hello in five words."}],
        "max_tokens": 64,
        "stream": stream,
    }
    return orjson.dumps(body).decode()


def describe_setup(plan: Plan, wrk: str, upstream: Server, gateway: Server) -> list[str]:
    """The facts a reader needs to compare two reports."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    pinning = (
        f"pinned: gateway CPU {sorted(plan.gateway_cpus)}, upstream and wrk CPU {sorted(plan.upstream_cpus)}"
        if plan.gateway_cpus
        else "no CPU pinning"
    )
    return [
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, commit {commit or '?'}, {os.cpu_count()} CPUs, "
        f"load average before the run {load}, Python {platform.python_version()}",
        f"gateway: one process, `{gateway.command}`, SQLite (WAL), no Redis",
        f"upstream: `{upstream.command}`; {pinning}",
        f"load: {wrk_version(wrk)}, 1 thread, keep-alive, POST {CHAT_PATH} with model {MODEL}, "
        f"max_tokens 64; warm-up {plan.warmup_s:g} s, then {plan.measure_s:g} s measured per run",
        "latency is to the last byte of the response (the whole stream in stream mode); "
        "added = gateway − direct at the same concurrency",
    ]


def measure(
    wrk: str, plan: Plan, target: Server, key: str, mode: str, conns: int
) -> tuple[WrkResult, WrkResult, float]:
    """Warm up, then measure one target; returns (warm-up, measured, the target's CPU share)."""
    url = f"http://127.0.0.1:{target.port}{CHAT_PATH}"
    body = request_body(mode == "stream")
    wrk_cpus = plan.upstream_cpus
    warm = run_wrk(wrk, url, conns, plan.warmup_s, body, key, wrk_cpus)
    cpu_before, wall_before = cpu_seconds(target.proc.pid), time.monotonic()
    result = run_wrk(wrk, url, conns, plan.measure_s, body, key, wrk_cpus)
    share = (cpu_seconds(target.proc.pid) - cpu_before) / (time.monotonic() - wall_before)
    return warm, result, share


def run_matrix(
    wrk: str, plan: Plan, upstream: Server, gateway: Server, key: str, tally: Tally, cells: list[Cell]
) -> None:
    """Every mode × concurrency, straight at the upstream and through the gateway, added to `cells`."""
    for mode in MODES:
        for conns in plan.concurrency:
            _, direct, _ = measure(wrk, plan, upstream, DIRECT_KEY, mode, conns)
            warm, through, cpu = measure(wrk, plan, gateway, key, mode, conns)
            tally.ok += warm.ok + through.ok
            tally.cut_bound += 2 * conns
            tally.warmup_errors += warm.errors
            cell = Cell(mode, conns, direct, through, cpu)
            cells.append(cell)
            print(cell.row(), file=sys.stderr, flush=True)


def run(plan: Plan, workdir: Path, children: Children, report: Report) -> None:
    """The whole benchmark; fills `report`."""
    wrk = ensure_wrk()
    secret = secrets.token_urlsafe(32)
    upstream = start_upstream(children, workdir, plan.upstream_cpus)
    seeded = seed(workdir, upstream.port, Secret(secret))
    gateway = start_dataplane(children, workdir, seeded.database_url, secret, plan.factory, plan.gateway_cpus)
    time.sleep(1.0)
    idle = memory_kb(gateway.proc.pid)
    report.facts += describe_setup(plan, wrk, upstream, gateway)
    bodies = {mode: request_body(mode == "stream").encode() for mode in MODES}
    tally = Tally(ok=check_answers(gateway, bodies, seeded.api_key))
    print(f"{HEADER}\n{RULE}", file=sys.stderr, flush=True)
    run_matrix(wrk, plan, upstream, gateway, seeded.api_key, tally, report.cells)
    loaded = memory_kb(gateway.proc.pid)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    report.notes.append(f"load average after the load {load} (other processes on this machine count too)")
    report.notes.append(
        f"memory (data plane RSS): idle {mb(idle.get('VmRSS'))}, after load {mb(loaded.get('VmRSS'))}, "
        f"peak {mb(loaded.get('VmHWM'))}"
    )
    finish(report, seeded, upstream, gateway, tally)


def finish(report: Report, seeded: Seeded, upstream: Server, gateway: Server, tally: Tally) -> None:
    """Wait for the settlements, stop the gateway gracefully, audit the billing."""

    def relayed() -> int:
        return upstream_served(upstream.port).get(UPSTREAM_KEY, 0)

    wait_for_settlement(seeded.database_url, relayed)
    calls = relayed()
    code = stop(gateway.proc)
    if tally.warmup_errors:
        report.notes.append(f"the gateway's warm-up runs had {tally.warmup_errors} errors")
    if code not in (0, -signal.SIGTERM):
        # uvicorn re-raises SIGTERM after a graceful shutdown, so -15 is a clean exit too.
        report.notes.append(f"the data plane did not stop cleanly on SIGTERM (exit code {code})")
    report.notes.append(audit(seeded, tally.ok, tally.cut_bound, calls).line())
    if not all(cell.valid for cell in report.cells):
        report.notes.append("rows marked INVALID had errors: they are not measurements")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit code 0 when it completed, 1 when it aborted, 130 on Ctrl-C."""
    plan = parse_args(argv)
    report = Report()
    code = 0
    with tempfile.TemporaryDirectory(prefix="tollgate-bench-") as tmp, Children() as children:
        try:
            run(plan, Path(tmp), children, report)
        except (BenchError, WrkError) as exc:
            report.notes.append(f"ABORTED: {exc}")
            code = 1
        except KeyboardInterrupt:
            report.notes.append("INTERRUPTED: the results above are incomplete")
            code = 130
    path = report.write()
    print(report.render())
    print(f"(written to {path.relative_to(REPO_ROOT)})")
    return code


if __name__ == "__main__":
    sys.exit(main())
