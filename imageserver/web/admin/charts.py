"""Small bar charts as geometry for an inline SVG (templates/metrics.html draws it): one bar per
minute, oldest on the left, axes with a few ticks. Pure: numbers in, coordinates and labels out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 480, 170
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 10, 40  # margins: the y label, its ticks ("1000 ms"), x labels
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
BAR_FILL = 0.8  # of a minute's width; the rest is the gap between bars

Format = Callable[[float], str]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # a tooltip (the SVG <title>): "12 min ago: 3.2 renders/s"


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # a class for its colour, and the legend's swatch
    fill: str  # the colour itself, as an SVG attribute (the page's CSP allows no inline style)
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Tick:
    at: float  # x or y in the SVG
    text: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    y_label: str
    x_label: str
    summary: str
    series: tuple[Series, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_top: int = TOP
    plot_right: int = WIDTH - RIGHT
    plot_bottom: int = HEIGHT - BOTTOM


@dataclass(frozen=True)
class Line:
    """One series' values, one per minute oldest first; None: nothing to show that minute."""

    name: str
    css: str
    fill: str
    values: Sequence[float | None]


def bar_chart(
    id: str,
    title: str,
    y_label: str,
    lines: Sequence[Line],
    summary: str,
    fmt: Format,
    y_max: float | None = None,
) -> Chart:
    """Each line's bars drawn over the previous one's (a p50 over its p99). `y_max`: the top of
    the axis; by default the largest value rounded up to 1, 2 or 5 times a power of ten."""
    top = y_max or nice_ceiling(max((v for line in lines for v in line.values if v), default=0))
    minutes = max((len(line.values) for line in lines), default=0)
    series = tuple(
        Series(line.name, line.css, line.fill, _bars(line, top, minutes, fmt)) for line in lines
    )
    return Chart(
        id=id,
        title=title,
        y_label=y_label,
        x_label="minutes ago",
        summary=summary,
        series=series,
        y_ticks=tuple(Tick(_y(top * f, top), fmt(top * f)) for f in (0, 0.5, 1)),
        x_ticks=_x_ticks(minutes),
    )


def nice_ceiling(value: float) -> float:
    """The axis top: 1, 2 or 5 times a power of ten, at least `value`; 1 for nothing."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    raise AssertionError("unreachable: value <= 10 * power")


def _bars(line: Line, top: float, minutes: int, fmt: Format) -> tuple[Bar, ...]:
    slot = PLOT_W / max(1, minutes)
    bars = []
    for i, value in enumerate(line.values):
        if value is None:
            continue
        y = _y(min(value, top), top)
        ago = minutes - 1 - i
        when = "this minute" if ago == 0 else f"{ago} min ago"
        label = f"{when}: {line.name} {fmt(value)}"
        bars.append(Bar(LEFT + i * slot, y, slot * BAR_FILL, HEIGHT - BOTTOM - y, label))
    return tuple(bars)


def _y(value: float, top: float) -> float:
    return TOP + PLOT_H * (1 - value / top)


def _x_ticks(minutes: int) -> tuple[Tick, ...]:
    """Every quarter hour back from now, at minute boundaries: the right edge is now."""
    slot = PLOT_W / max(1, minutes)
    return tuple(
        Tick(LEFT + (minutes - ago) * slot, "now" if ago == 0 else f"-{ago}")
        for ago in range(minutes - minutes % 15, -1, -15)
    )
