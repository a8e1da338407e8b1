"""Bar charts drawn on the server as inline SVG (templates/_charts.html): no chart script needed.

`bar_chart` turns integer series into positions; the values themselves stay integers so that
every number a chart shows (in its tooltips and axis) is formatted from them, not from floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 760
HEIGHT = 240
LEFT = 86  # room for the axis labels
TOP = 10
BOTTOM = 24  # room for the day labels
BAR_SHARE = 0.8  # of each day's slot, split among its bars


@dataclass(frozen=True)
class Series:
    """One named row of values, one per label; `css` picks its colour."""

    name: str
    values: Sequence[int]
    css: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    label: str
    name: str
    value: int


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class Chart:
    """Everything the SVG macro draws: bars, an optional line, axis ticks and sparse day labels."""

    width: int
    height: int
    bars: list[Bar]
    line: str  # SVG polyline points, "" when there is no line
    line_series: Series | None
    ticks: list[Tick]
    labels: list[tuple[float, str]]
    zero_y: float
    legend: list[Series]
    money: bool


def _scale(values: list[int]) -> tuple[int, int]:
    top = max([1, *values])
    bottom = min([0, *values])
    return top, bottom


def bar_chart(
    labels: Sequence[str], bars: Sequence[Series], line: Series | None = None, money: bool = True
) -> Chart:
    """A chart of `bars` side by side per label, and `line` drawn across them."""
    every = [v for s in [*bars, *([line] if line else [])] for v in s.values]
    top, bottom = _scale(every)
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))

    def y(value: int) -> float:
        return TOP + (top - value) / (top - bottom) * plot_h

    width = slot * BAR_SHARE / max(1, len(bars))
    drawn = []
    for i, label in enumerate(labels):
        for j, series in enumerate(bars):
            value = series.values[i]
            x = LEFT + i * slot + slot * (1 - BAR_SHARE) / 2 + j * width
            y0, y1 = sorted((y(value), y(0)))
            drawn.append(Bar(x, y0, width, y1 - y0, series.css, label, series.name, value))
    points = ""
    if line is not None:
        points = " ".join(f"{LEFT + (i + 0.5) * slot:.1f},{y(v):.1f}" for i, v in enumerate(line.values))
    ticks = [Tick(y(v), v) for v in sorted({top, top // 2, 0, bottom}, reverse=True)]
    step = max(1, len(labels) // 6)
    shown = [(LEFT + (i + 0.5) * slot, labels[i]) for i in range(0, len(labels), step)]
    legend = [*bars, *([line] if line else [])]
    return Chart(WIDTH, HEIGHT, drawn, points, line, ticks, shown, y(0), legend, money)
