"""The benchmark's one markdown report: printed, and written to bench/results/latest.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.wrk import WrkResult

RESULTS_DIR = Path(__file__).resolve().parent / "results"
HEADER = (
    "| mode | conns | direct req/s | gateway req/s | direct p50 | gateway p50 | added p50 "
    "| direct p99 | gateway p99 | added p99 | gateway CPU | errors direct / gateway |"
)
RULE = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"


@dataclass(frozen=True)
class Cell:
    """One mode at one concurrency, measured straight at the upstream and through the gateway."""

    mode: str
    connections: int
    direct: WrkResult
    gateway: WrkResult
    gateway_cpu: float

    @property
    def valid(self) -> bool:
        """A run with any error is not a measurement."""
        return self.direct.errors == 0 and self.gateway.errors == 0

    def row(self) -> str:
        """This cell as a markdown table row; latencies in ms."""
        d, g = self.direct, self.gateway
        errors = f"{d.describe_errors()} / {g.describe_errors()}"
        if not self.valid:
            errors += " **INVALID**"
        cells = [
            self.mode,
            str(self.connections),
            f"{d.rps:,.0f}",
            f"{g.rps:,.0f}",
            ms(d.p50_us),
            ms(g.p50_us),
            ms(g.p50_us - d.p50_us, signed=True),
            ms(d.p99_us),
            ms(g.p99_us),
            ms(g.p99_us - d.p99_us, signed=True),
            f"{self.gateway_cpu:.0%}",
            errors,
        ]
        return "| " + " | ".join(cells) + " |"


def ms(us: int, signed: bool = False) -> str:
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
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The whole report as markdown."""
        lines = ["# Tollgate data-plane benchmark", ""]
        lines += [f"- {fact}" for fact in self.facts]
        lines += ["", HEADER, RULE]
        lines += [cell.row() for cell in self.cells]
        lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def write(self, directory: Path = RESULTS_DIR) -> Path:
        """Save the report as latest.md (git-ignored) and return its path."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "latest.md"
        path.write_text(self.render())
        return path
