"""The benchmark's one markdown report: printed, and written to bench/results/latest.md.

Three tables: request throughput per setup (direct, bare pass-through, gateway), long streams
against a slow upstream, and the targets the project set, each marked met or missed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.wrk import WrkResult

RESULTS_DIR = Path(__file__).resolve().parent / "results"
HEADER = (
    "| setup | mode | conns | direct req/s | bare req/s | gateway req/s | gateway ÷ bare "
    "| bare added p50 | gateway added p50 | bare p99 | gateway p99 | CPU/req bare | CPU/req gateway "
    "| errors direct / bare / gateway |"
)
RULE = "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
STREAM_HEADER = (
    "| target | streams | most open | ok | errors | TTFT p50 | TTFT p99 | gap p50 | gap p99 | added TTFT p50 "
    "| added gap p99 | loop probe p99 / max | RSS idle → peak | memory per stream | CPU per stream |"
)
STREAM_RULE = "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"


@dataclass(frozen=True)
class Cell:
    """One setup, mode and concurrency: the upstream alone, the bare pass-through, the gateway."""

    setup: str
    mode: str
    connections: int
    direct: WrkResult
    bare: WrkResult
    gateway: WrkResult
    bare_cpu_s: float
    gateway_cpu_s: float

    @property
    def valid(self) -> bool:
        """A run with any error is not a measurement."""
        return not (self.direct.errors or self.bare.errors or self.gateway.errors)

    @property
    def ratio(self) -> float:
        """Gateway req/s as a share of the bare pass-through's."""
        return self.gateway.rps / self.bare.rps if self.bare.rps else 0.0

    def cpu_per_request_ms(self, which: str) -> float:
        """CPU milliseconds of the measured processes per request served."""
        result, cpu = (
            (self.gateway, self.gateway_cpu_s) if which == "gateway" else (self.bare, self.bare_cpu_s)
        )
        return cpu * 1000 / result.requests if result.requests else 0.0

    def added_p50_us(self, which: str) -> int:
        """p50 through `which` minus p50 straight at the upstream."""
        return (self.gateway if which == "gateway" else self.bare).p50_us - self.direct.p50_us

    def row(self) -> str:
        """This cell as a markdown table row."""
        d, b, g = self.direct, self.bare, self.gateway
        errors = f"{d.describe_errors()} / {b.describe_errors()} / {g.describe_errors()}"
        if not self.valid:
            errors += " **INVALID**"
        cells = [
            self.setup,
            self.mode,
            str(self.connections),
            f"{d.rps:,.0f}",
            f"{b.rps:,.0f}",
            f"{g.rps:,.0f}",
            f"{self.ratio:.0%}",
            ms(self.added_p50_us("bare"), signed=True),
            ms(self.added_p50_us("gateway"), signed=True),
            ms(b.p99_us),
            ms(g.p99_us),
            f"{self.cpu_per_request_ms('bare'):.3f} ms",
            f"{self.cpu_per_request_ms('gateway'):.3f} ms",
            errors,
        ]
        return "| " + " | ".join(cells) + " |"


@dataclass(frozen=True)
class StreamCell:
    """One run of N concurrent slow streams against one target (what bench/streams.py printed)."""

    target: str
    streams: int
    summary: dict
    idle_kb: int | None
    peak_kb: int | None
    cpu_s: float | None
    baseline: dict | None

    @property
    def errors(self) -> int:
        """Streams that failed, by any cause."""
        return sum(self.summary["errors"].values())

    @property
    def per_stream_kb(self) -> float | None:
        """(peak RSS − idle RSS) ÷ streams, or None for a target whose memory is not ours."""
        if self.idle_kb is None or self.peak_kb is None:
            return None
        return (self.peak_kb - self.idle_kb) / self.streams

    def added(self, name: str) -> float | None:
        """This target's figure minus the upstream's alone at the same count, in ms."""
        return None if self.baseline is None else self.summary[name] - self.baseline[name]

    def row(self) -> str:
        """This run as a markdown table row."""
        s = self.summary
        errors = ", ".join(f"{k} {v}" for k, v in s["errors"].items()) or "0"

        def added(name: str) -> str:
            value = self.added(name)
            return "—" if value is None else f"{value:+.1f} ms"

        memory = "—" if self.idle_kb is None else f"{mb(self.idle_kb)} → {mb(self.peak_kb)}"
        per = self.per_stream_kb
        cells = [
            self.target,
            f"{self.streams:,}",
            f"{s['most_open']:,}",
            f"{s['ok']:,}",
            errors,
            f"{s['ttft_p50_ms']:.1f} ms",
            f"{s['ttft_p99_ms']:.1f} ms",
            f"{s['gap_p50_ms']:.1f} ms",
            f"{s['gap_p99_ms']:.1f} ms",
            added("ttft_p50_ms"),
            added("gap_p99_ms"),
            f"{s['probe_p99_ms']:.1f} / {s['probe_max_ms']:.1f} ms",
            memory,
            "—" if per is None else f"{per:.1f} kB",
            "—" if self.cpu_s is None else f"{self.cpu_s * 1000 / self.streams:.2f} ms",
        ]
        return "| " + " | ".join(cells) + " |"


def ms(us: float, signed: bool = False) -> str:
    """Microseconds as milliseconds with two decimals."""
    return f"{us / 1000:+.2f} ms" if signed else f"{us / 1000:.2f} ms"


def mb(kb: int | None) -> str:
    """kB as MB with one decimal, or "?"."""
    return "?" if kb is None else f"{kb / 1024:.1f} MB"


@dataclass
class Report:
    """Everything the report shows, filled in as the run goes."""

    facts: list[str] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    streams: list[StreamCell] = field(default_factory=list)
    stream_facts: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The whole report as markdown."""
        lines = ["# Tollgate data-plane benchmark", ""]
        lines += [f"- {fact}" for fact in self.facts]
        if self.cells:
            lines += ["", "## Requests", "", HEADER, RULE, *(cell.row() for cell in self.cells)]
        if self.streams:
            lines += ["", "## Long streams against a slow upstream", ""]
            lines += [f"- {fact}" for fact in self.stream_facts]
            lines += ["", STREAM_HEADER, STREAM_RULE, *(cell.row() for cell in self.streams)]
        if self.targets:
            lines += ["", "## Targets", "", *(f"- {t}" for t in self.targets)]
        lines += ["", "## Notes and billing audits", ""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def write(self, directory: Path = RESULTS_DIR) -> Path:
        """Save the report as latest.md (git-ignored) and return its path."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "latest.md"
        path.write_text(self.render())
        return path
