"""The slow-upstream phase: thousands of long streams open at once, on one data-plane process.

A paced fake upstream plays a realistic model (first token after `ttft_ms`, then `tokens_per_s`,
`reply_tokens` in all). For each stream count, bench/streams.py (its own process) opens that many
streams straight at the upstream, through the bare pass-through and through the gateway on
SQLite, and times first tokens, gaps between events and an event-loop probe. Meanwhile the
target's RSS is sampled; memory per stream is (peak − idle) ÷ streams. The gateway's billing is
audited at the end like every other setup's.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench import databases
from bench.audit import audit, wait_for_settlement
from bench.gateway import Backing, Server, start_dataplane, start_passthrough, start_upstream, upstream_served
from bench.processes import BenchError, Children, cpu_seconds, memory_kb, stop
from bench.report import Report, StreamCell
from bench.seed import MODEL, seed
from shared.settings import Secret

STREAMS_KEY = "sk-upstream-streams"
DIRECT_KEY = "sk-direct-streams"
SAMPLE_EVERY_S = 0.1


@dataclass(frozen=True)
class Pace:
    """The slow upstream's pace and the stream counts to run."""

    ttft_ms: int
    tokens_per_s: int
    reply_tokens: int
    tokens_per_chunk: int
    counts: tuple[int, ...]
    ramp_s: float

    def argv(self) -> tuple[str, ...]:
        """The upstream's command-line arguments."""
        return (
            *("--ttft-ms", str(self.ttft_ms), "--tokens-per-s", str(self.tokens_per_s)),
            *("--reply-tokens", str(self.reply_tokens), "--tokens-per-chunk", str(self.tokens_per_chunk)),
        )

    def describe(self) -> str:
        """One line for the report."""
        events = self.tokens_per_s / self.tokens_per_chunk
        return (
            f"upstream: first token after {self.ttft_ms} ms, then {self.tokens_per_s} tokens/s in events of "
            f"{self.tokens_per_chunk} tokens ({events:g} events/s per stream), {self.reply_tokens}-token "
            f"replies; the client opens the streams over {self.ramp_s:g} s"
        )


class PeakSampler:
    """Samples a process's RSS in a thread until stopped; keeps the highest value."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kb = pid, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        while not self.done.is_set():
            self.peak_kb = max(self.peak_kb, memory_kb(self.pid).get("VmRSS", 0))
            time.sleep(SAMPLE_EVERY_S)

    def __enter__(self) -> PeakSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def load(port: int, key: str, probe: str, count: int, pace: Pace) -> dict:
    """Run bench/streams.py against one port; its JSON summary."""
    timeout = pace.ttft_ms / 1000 + pace.reply_tokens / pace.tokens_per_s + 60
    argv = [
        sys.executable, "-m", "bench.streams", "--port", str(port), "--key", key, "--model", MODEL,
        "--streams", str(count), "--ramp-s", str(pace.ramp_s), "--probe-path", probe,
        "--timeout-s", str(timeout),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 120, check=False)
    if done.returncode != 0:
        raise BenchError(f"bench.streams failed ({done.returncode}): {done.stderr[-800:]}")
    return orjson.loads(done.stdout)


def measure(target: str, server: Server | None, port: int, key: str, probe: str, count: int, pace: Pace,
            baseline: dict | None) -> StreamCell:  # fmt: skip
    """One count against one target, sampling the target's memory and CPU when it is ours."""
    if server is None:
        return StreamCell(target, count, load(port, key, probe, count, pace), None, None, None, None)
    time.sleep(1.0)  # let the previous run's connections close
    idle = memory_kb(server.proc.pid).get("VmRSS")
    cpu = cpu_seconds(server.proc.pid)
    with PeakSampler(server.proc.pid) as sampler:
        summary = load(port, key, probe, count, pace)
    return StreamCell(
        target, count, summary, idle, sampler.peak_kb, cpu_seconds(server.proc.pid) - cpu, baseline
    )


def run_streams(children: Children, workdir: Path, pace: Pace, factory: str | None, report: Report) -> None:
    """The whole phase; adds its rows, facts and audit line to `report`."""
    directory = workdir / "streams"
    directory.mkdir()
    upstream = start_upstream(children, directory, pace.argv(), name="slow-upstream")
    secret = secrets.token_urlsafe(32)
    url = databases.create("sqlite", directory)
    seeded = seed(url, upstream.port, Secret(secret), STREAMS_KEY, completion_tokens=pace.reply_tokens)
    backing = Backing(url, secret)
    report.stream_facts += [
        pace.describe(),
        "gateway: one process on SQLite; bare: one pass-through process; both started afresh for each "
        "count, so memory per stream = (peak RSS − RSS at rest) ÷ streams",
    ]
    relayed_ok = 0
    for count in pace.counts:
        gateway = start_dataplane(children, directory, backing, factory, f"dataplane-{count}")
        bare = start_passthrough(children, directory, upstream.port, f"bare-{count}")
        direct = measure("direct", None, upstream.port, DIRECT_KEY, "/stats", count, pace, None)
        cells = [
            direct,
            measure("bare", bare, bare.port, DIRECT_KEY, "/live", count, pace, direct.summary),
            measure(
                "gateway", gateway, gateway.port, seeded.api_key, "/api/live", count, pace, direct.summary
            ),
        ]
        relayed_ok += cells[-1].summary["ok"]
        for cell in cells:
            report.streams.append(cell)
            print(cell.row(), file=sys.stderr, flush=True)
        stop(bare.proc)
        wait_for_settlement(url, lambda: upstream_served(upstream.port).get(STREAMS_KEY, 0))
        stop(gateway.proc)

    calls = upstream_served(upstream.port).get(STREAMS_KEY, 0)
    report.notes.append("long streams: " + audit(seeded, relayed_ok, 0, calls).line())
