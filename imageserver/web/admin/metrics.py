"""Metrics page: renders/s, hit ratio, latency p50/p99 and queue depth over the last hour, as
inline SVG bar charts from the rolling per-minute buckets (rolling.py) every serving process
keeps; with serve --processes N the others' buckets come from their snapshots (siblings.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web

from ... import rolling
from ...metrics import HITS, MISSES, RENDERED, Metrics
from ...rolling import Minute, Rolling
from ..appkeys import SERVICES, SIBLINGS
from . import auth
from .charts import Chart, Line, bar_chart

SAMPLE_S = 1.0  # how often the render pool's depth is sampled (each minute keeps its deepest)


async def page(request: web.Request) -> web.StreamResponse:
    now_s = time.time()
    buckets, processes = await _buckets(request)
    window = buckets.window(now_s)
    context = {
        "charts": charts(window, now_s),
        "processes": processes,
        "since": _clock(window[0].minute * rolling.MINUTE_S),
        "until": _clock(now_s),
    }
    return auth.render(request, "metrics.html", context)


async def _buckets(request: web.Request) -> tuple[Rolling, int]:
    """This process's buckets, plus its siblings' as last published (a second old at most)."""
    mine = request.app[SERVICES].metrics.rolling
    siblings = request.app.get(SIBLINGS)
    if siblings is None:
        return mine, 1
    others = await asyncio.to_thread(siblings.others)
    parts = [mine, *(Rolling.from_json(s.get("rolling", [])) for s in others)]
    return rolling.merged(parts), len(parts)


def charts(window: list[Minute], now_s: float) -> list[Chart]:
    return [
        renders_chart(window, now_s),
        hit_ratio_chart(window),
        latency_chart(window),
        depth_chart(window),
    ]


def renders_chart(window: list[Minute], now_s: float) -> Chart:
    rates = [rolling.per_second(m, RENDERED, now_s) for m in window]
    count = rolling.total(window, RENDERED)
    peak = max(rates, default=0.0)
    summary = (
        f"{count} renders in the last hour, {_rate(count / (len(window) * rolling.MINUTE_S))} "
        f"on average; the busiest minute {_rate(peak)}."
    )
    line = Line("renders/s", "renders", "#3b6fb6", rates)
    return bar_chart("renders", "Renders per second", "renders/s", [line], summary, _rate)


def hit_ratio_chart(window: list[Minute]) -> Chart:
    ratios = [rolling.hit_ratio([m], HITS, MISSES) for m in window]
    hits, misses = rolling.total(window, *HITS), rolling.total(window, *MISSES)
    overall = rolling.hit_ratio(window, HITS, MISSES)
    if overall is None:
        summary = "No output was asked for in the last hour."
    else:
        summary = (
            f"{_percent(overall)} of {hits + misses} output lookups in the last hour were hits "
            f"({hits} from memory or storage, {misses} rendered)."
        )
    line = Line("hit ratio", "hits", "#2e8b57", ratios)
    return bar_chart("hits", "Hit ratio", "hits", [line], summary, _percent, y_max=1.0)


def latency_chart(window: list[Minute]) -> Chart:
    p50 = [rolling.percentile(m.latencies, 0.5) for m in window]
    p99 = [rolling.percentile(m.latencies, 0.99) for m in window]
    every = rolling.combined_latencies(window)
    requests = sum(every.values())
    if not requests:
        summary = "No output request was answered in the last hour."
    else:
        summary = (
            f"Over {requests} output requests in the last hour: p50 "
            f"{_ms(rolling.percentile(every, 0.5))}, p99 {_ms(rolling.percentile(every, 0.99))}."
        )
    lines = [Line("p99", "p99", "#e0a040", p99), Line("p50", "p50", "#b35c00", p50)]
    return bar_chart("latency", "Output latency, p50 and p99", "ms", lines, summary, _ms)


def depth_chart(window: list[Minute]) -> Chart:
    depths = [m.depth for m in window]
    summary = (
        f"The render pool held at most {_count(max(depths, default=0))} renders (running or "
        f"waiting) in the last hour; {_count(depths[-1] if depths else 0)} this minute."
    )
    line = Line("renders running or waiting", "depth", "#8a4baf", depths)
    return bar_chart("depth", "Render queue depth", "renders", [line], summary, _count)


async def sampling(app: web.Application) -> AsyncIterator[None]:
    """For the app's cleanup context (web/app.py): the queue depth chart's samples."""
    task = asyncio.ensure_future(_sample(app[SERVICES].metrics))
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _sample(metrics: Metrics) -> None:
    while True:
        metrics.sample_depth()
        await asyncio.sleep(SAMPLE_S)


def _rate(value: float) -> str:
    return f"{value:.2f}/s" if value < 10 else f"{value:.0f}/s"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    ms = seconds * 1000
    return f"{ms:.1f} ms" if 0 < ms < 10 else f"{ms:.0f} ms"


def _count(value: float) -> str:
    return f"{value:g}"


def _clock(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%H:%M UTC")
