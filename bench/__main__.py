"""`python -m bench` (`make bench`): the gateway beside a bare pass-through, in every setup, in one run.

The run: install wrk (and HAProxy) if missing, start the fast fake upstream, then for each setup
(SQLite or PostgreSQL; 1, 2 or 4 data-plane processes sharing Redis behind HAProxy) create and
seed a database, start the data planes and as many bare pass-throughs (Starlette on the same
HTTP client), and for each mode (JSON, SSE stream) and concurrency measure the upstream directly,
the pass-through and the gateway; then wait for the settlements, stop the setup and audit its
billing. Last, the slow-upstream phase: thousands of concurrent long streams. One markdown report
goes to stdout and bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench import databases
from bench.audit import audit, wait_for_settlement
from bench.cluster import SETUPS, Cluster, Setup, start_cluster
from bench.gateway import CHAT_PATH, DATAPLANE_FACTORY, Server, check_answers, start_upstream, upstream_served
from bench.processes import REPO_ROOT, BenchError, Children, memory_kb
from bench.report import HEADER, RULE, STREAM_HEADER, STREAM_RULE, Cell, Report, mb
from bench.seed import MODEL
from bench.streaming import Pace, run_streams
from bench.targets import assess
from bench.wrk import WrkError, WrkResult, ensure_wrk, run_wrk, wrk_version

MODES = ("json", "stream")
DIRECT_KEY = "sk-direct-bench"
OPEN_FILES = 20_000


@dataclass(frozen=True)
class Plan:
    """How long each run goes, which setups run and the slow-stream phase's pace."""

    warmup_s: float
    measure_s: float
    setups: tuple[Setup, ...]
    factory: str | None
    pace: Pace


@dataclass
class Tally:
    """What wrk saw of one setup's gateway over every run, warm-ups included, for the billing audit."""

    ok: int = 0
    cut_bound: int = 0
    warmup_errors: int = 0


def parse_args(argv: list[str] | None) -> Plan:
    """The command line: durations, setups, stream counts, how to start the data plane."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="1 s warm-up and 3 s per run; 1,000 streams only"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up before each run")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per run")
    parser.add_argument(
        "--setups", default=",".join(SETUPS), help=f"comma-separated, of: {', '.join(SETUPS)} (empty: none)"
    )
    parser.add_argument("--streams", default=None, help="concurrent slow streams, comma-separated (0: skip)")
    parser.add_argument(
        "--tokens-per-chunk", type=int, default=20, help="tokens per SSE event of the slow upstream"
    )
    parser.add_argument(
        "--ramp-s",
        type=float,
        default=10.0,
        help="open the streams over this long (as long as a reply: the count is then open at once)",
    )
    parser.add_argument("--app", default=DATAPLANE_FACTORY, help="the uvicorn app factory to measure")
    parser.add_argument(
        "--via-cli", action="store_true", help="start `tollgate serve-api` instead of uvicorn"
    )
    args = parser.parse_args(argv)
    warmup, measure_s = (1.0, 3.0) if args.quick else (args.warmup, args.duration)
    streams = args.streams if args.streams is not None else ("1000" if args.quick else "1000,2000")
    unknown = [k for k in args.setups.split(",") if k and k not in SETUPS]
    if unknown:
        parser.error(f"unknown setup {unknown[0]!r}; choose from {', '.join(SETUPS)}")
    return Plan(
        warmup_s=warmup,
        measure_s=measure_s,
        setups=tuple(SETUPS[k] for k in args.setups.split(",") if k),
        factory=None if args.via_cli else args.app,
        pace=Pace(
            300,
            50,
            500,
            args.tokens_per_chunk,
            tuple(int(c) for c in streams.split(",") if int(c)),
            args.ramp_s,
        ),
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


def raise_open_files() -> int:
    """Lift this process's (and so the children's) open-file limit for thousands of connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return max(soft, wanted)


def describe_run(plan: Plan, wrk: str, upstream: Server, factory: str | None, files: int) -> list[str]:
    """The facts a reader needs to compare two reports."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    start = (
        f"uvicorn --factory {factory} (uvloop, httptools, no access log)" if factory else "tollgate serve-api"
    )
    return [
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, commit {commit or '?'}, {os.cpu_count()} CPUs, "
        f"load average before the run {load}, Python {platform.python_version()}, open-file limit {files:,}",
        f"gateway: `{start}` per process; bare: bench/passthrough.py (Starlette + the gateway's httpx "
        "client on the aiohttp transport; no auth, no billing) in as many processes behind the same balancer",
        f"upstream: `{upstream.command}`; everything shares this machine's cores",
        f"load: {wrk_version(wrk)}, 1 thread, keep-alive, POST {CHAT_PATH} with model {MODEL}, "
        f"max_tokens 64; warm-up {plan.warmup_s:g} s, then {plan.measure_s:g} s measured per run",
        "latency is to the last byte (the whole stream in stream mode); added = target − direct at the "
        "same concurrency; CPU/req = CPU seconds of all the setup's data-plane (or pass-through) "
        "processes over the measured run ÷ its requests",
    ]


def measure(
    wrk: str, plan: Plan, port: int, key: str, mode: str, conns: int, cpu: Callable[[], float] | None = None
) -> tuple[WrkResult, WrkResult, float]:
    """Warm up, then measure one target; returns (warm-up, measured, CPU seconds of the measured run)."""
    url = f"http://127.0.0.1:{port}{CHAT_PATH}"
    body = request_body(mode == "stream")
    warm = run_wrk(wrk, url, conns, plan.warmup_s, body, key)
    before = cpu() if cpu else 0.0
    result = run_wrk(wrk, url, conns, plan.measure_s, body, key)
    return warm, result, (cpu() - before) if cpu else 0.0


def measure_setup(
    wrk: str, plan: Plan, cluster: Cluster, upstream: Server, direct: dict[tuple[str, int], WrkResult],
    report: Report,
) -> Tally:  # fmt: skip
    """Every mode × concurrency of one running setup; rows go to `report`."""
    bodies = {mode: request_body(mode == "stream").encode() for mode in MODES}
    log = cluster.gateways[0].log
    tally = Tally(ok=check_answers(cluster.gateway_port, bodies, cluster.seeded.api_key, log))
    check_answers(cluster.bare_port, bodies, DIRECT_KEY, cluster.bares[0].log)
    for mode in MODES:
        for conns in cluster.setup.connections:
            if (mode, conns) not in direct:
                direct[mode, conns] = measure(wrk, plan, upstream.port, DIRECT_KEY, mode, conns)[1]
            _, bare, bare_cpu = measure(wrk, plan, cluster.bare_port, DIRECT_KEY, mode, conns,
                                        lambda: cluster.cpu("bare"))  # fmt: skip
            warm, through, cpu = measure(
                wrk,
                plan,
                cluster.gateway_port,
                cluster.seeded.api_key,
                mode,
                conns,
                lambda: cluster.cpu("gateway"),
            )
            tally.ok += warm.ok + through.ok
            tally.cut_bound += 2 * conns
            tally.warmup_errors += warm.errors
            cell = Cell(cluster.setup.key, mode, conns, direct[mode, conns], bare, through, bare_cpu, cpu)
            report.cells.append(cell)
            print(cell.row(), file=sys.stderr, flush=True)
    return tally


def finish_setup(cluster: Cluster, upstream: Server, tally: Tally, report: Report) -> None:
    """Stop the front, wait for the settlements, stop the data planes, audit the billing."""
    seeded, key = cluster.seeded, cluster.setup.key
    memory = [memory_kb(g.proc.pid) for g in cluster.gateways]
    report.notes.append(
        f"{key}: data-plane RSS after the load "
        + ", ".join(f"{mb(m.get('VmRSS'))} (peak {mb(m.get('VmHWM'))})" for m in memory)
    )
    cluster.stop_front()

    def relayed() -> int:
        return upstream_served(upstream.port).get(seeded.upstream_key, 0)

    wait_for_settlement(seeded.database_url, relayed)
    calls = relayed()
    codes = cluster.stop_gateways()
    if tally.warmup_errors:
        report.notes.append(f"{key}: the gateway's warm-up runs had {tally.warmup_errors} errors")
    # uvicorn re-raises SIGTERM after a graceful shutdown, so -15 is a clean exit too.
    unclean = [c for c in codes if c not in (0, -signal.SIGTERM)]
    if unclean:
        report.notes.append(f"{key}: data planes did not stop cleanly on SIGTERM (exit codes {unclean})")
    report.notes.append(f"{key}: " + audit(seeded, tally.ok, tally.cut_bound, calls).line())


def run(plan: Plan, workdir: Path, children: Children, report: Report) -> None:
    """The whole benchmark; fills `report`."""
    files = raise_open_files()
    wrk = ensure_wrk()
    upstream = start_upstream(children, workdir)
    report.facts += describe_run(plan, wrk, upstream, plan.factory, files)
    report.facts += [f"setup {s.key}: {s.label}" for s in plan.setups]
    direct: dict[tuple[str, int], WrkResult] = {}
    print(f"{HEADER}\n{RULE}", file=sys.stderr, flush=True)
    for setup in plan.setups:
        directory = workdir / setup.key
        directory.mkdir()
        url = databases.create(setup.database, directory)
        try:
            cluster = start_cluster(children, directory, setup, url, upstream.port, plan.factory)
            tally = measure_setup(wrk, plan, cluster, upstream, direct, report)
            finish_setup(cluster, upstream, tally, report)
        finally:
            databases.drop(url)
    if plan.pace.counts:
        print(f"{STREAM_HEADER}\n{STREAM_RULE}", file=sys.stderr, flush=True)
        run_streams(children, workdir, plan.pace, plan.factory, report)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    report.notes.append(f"load average at the end {load} (other processes on this machine count too)")
    report.targets += assess(report.cells, report.streams)
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
