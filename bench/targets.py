"""The speed the project set itself, checked against one run's figures: each target met or missed."""

from __future__ import annotations

from bench.report import Cell, StreamCell

STREAM_GAP_P99_MS = 5.0
STREAM_MEMORY_MB = 250.0


def _cell(cells: list[Cell], setup: str, mode: str, conns: int) -> Cell | None:
    return next((c for c in cells if (c.setup, c.mode, c.connections) == (setup, mode, conns)), None)


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def throughput(cells: list[Cell]) -> list[str]:
    """SQLite ≥ 95 % of the bare pass-through at 16 connections; added p50 at 1 ≤ 1.1 × bare's."""
    lines = []
    for mode in ("json", "stream"):
        cell = _cell(cells, "sqlite-1", mode, 16)
        if cell:
            lines.append(
                f"sqlite-1 {mode} at 16 connections: {cell.ratio:.0%} of the bare pass-through's "
                f"req/s (target ≥ 95 %): {_verdict(cell.ratio >= 0.95)}"
            )
        one = _cell(cells, "sqlite-1", mode, 1)
        if one and one.added_p50_us("bare") > 0:
            factor = one.added_p50_us("gateway") / one.added_p50_us("bare")
            lines.append(
                f"sqlite-1 {mode} at 1 connection: added p50 {one.added_p50_us('gateway') / 1000:.2f} ms = "
                f"{factor:.2f} × the bare pass-through's (target ≤ 1.1 ×): {_verdict(factor <= 1.1)}"
            )
    return lines


def databases(cells: list[Cell]) -> list[str]:
    """PostgreSQL within 15 % of SQLite (one process, 16 connections)."""
    lines = []
    for mode in ("json", "stream"):
        lite, pg = _cell(cells, "sqlite-1", mode, 16), _cell(cells, "postgres-1", mode, 16)
        if lite and pg and lite.gateway.rps:
            share = pg.gateway.rps / lite.gateway.rps
            lines.append(f"postgres-1 {mode}: {share:.0%} of sqlite-1's gateway req/s (target ≥ 85 %): "
                         f"{_verdict(share >= 0.85)}")  # fmt: skip
    return lines


def scaling(cells: list[Cell]) -> list[str]:
    """CPU per request flat (± 10 %) from 1 to 4 processes behind the balancer."""
    lines = []
    for mode in ("json", "stream"):
        one, four = _cell(cells, "lb-1", mode, 16), _cell(cells, "lb-4", mode, 16)
        if one and four and one.cpu_per_request_ms("gateway"):
            change = four.cpu_per_request_ms("gateway") / one.cpu_per_request_ms("gateway") - 1
            lines.append(
                f"{mode}: CPU per request {one.cpu_per_request_ms('gateway'):.3f} ms with 1 process, "
                f"{four.cpu_per_request_ms('gateway'):.3f} ms with 4 ({change:+.0%}; target ± 10 %): "
                f"{_verdict(abs(change) <= 0.10)}"
            )
    return lines


def streams(cells: list[StreamCell]) -> list[str]:
    """The most streams through the gateway: ≤ 5 ms added p99 gap, ≤ 250 MB, no errors."""
    through = [c for c in cells if c.target == "gateway"]
    if not through:
        return []
    top = max(through, key=lambda c: c.streams)
    gap = top.added("gap_p99_ms") or 0.0
    peak_mb = (top.peak_kb or 0) / 1024
    ok = gap <= STREAM_GAP_P99_MS and peak_mb <= STREAM_MEMORY_MB and top.errors == 0
    return [
        f"{top.streams:,} streams through the gateway: added p99 gap {gap:+.1f} ms "
        f"(target ≤ {STREAM_GAP_P99_MS:g}), peak RSS {peak_mb:.0f} MB (target ≤ {STREAM_MEMORY_MB:g}), "
        f"{top.errors} errors (target 0): {_verdict(ok)}"
    ]


def assess(cells: list[Cell], stream_cells: list[StreamCell]) -> list[str]:
    """Every target the run has figures for."""
    return throughput(cells) + databases(cells) + scaling(cells) + streams(stream_cells)
