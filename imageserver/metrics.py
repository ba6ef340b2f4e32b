"""Counters for operators: Prometheus text at /metrics, and the seed's statsd events when asked.

statsd names (prefix `image_server`) are the seed's: image_request, image_request.{format},
image_request_fail, original_downloaded, original_unavailable; plus render timings.

Counts live in plain dicts, and prometheus_client is imported at the first scrape (statsd only
when configured): importing it costs every command 50-75 ms of start-up (`process`,
`render`), and its metric objects take a lock on every increment. All counting happens on the
event loop's thread.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from statsd import StatsClient

STATSD_PREFIX = "image_server"
_RENDER_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Labels = tuple[str, ...]


@dataclass
class Counter:
    name: str
    help: str
    label_names: Labels
    values: dict[Labels, float] = field(default_factory=dict)

    def inc(self, *labels: str) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + 1.0


@dataclass
class Histogram:
    """Per bucket counts (not cumulative) plus one for +Inf, and the sum, by labels."""

    name: str
    help: str
    label_names: Labels
    bounds: tuple[float, ...]
    counts: dict[Labels, list[int]] = field(default_factory=dict)
    sums: dict[Labels, float] = field(default_factory=dict)

    def observe(self, value: float, *labels: str) -> None:
        counts = self.counts.get(labels)
        if counts is None:
            counts = self.counts[labels] = [0] * (len(self.bounds) + 1)
        counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sums[labels] = self.sums.get(labels, 0.0) + value

    def count(self, *labels: str) -> int:
        return sum(self.counts.get(labels, ()))


@dataclass(frozen=True)
class Gauge:
    name: str
    help: str
    read: Callable[[], float]


class Metrics:
    """One per app, so several servers can live in one test process."""

    def __init__(self, statsd_address: str = "") -> None:
        self.requests = Counter(
            "imageserver_http_requests", "HTTP requests by method and status", ("method", "status")
        )
        self.renders = Histogram(
            "imageserver_render_seconds",
            "Time to render one output, by output format",
            ("format",),
            _RENDER_BUCKETS_S,
        )
        self.lookups = Counter(
            "imageserver_output_lookups",
            "Where outputs came from: memory, storage, redirect or render; abandoned: dropped "
            "before its render started, as everyone who asked for it had hung up",
            ("result",),
        )
        self.gauges: dict[str, Gauge] = {}
        self.statsd = _statsd_client(statsd_address)

    def watch(self, name: str, help: str, read: Callable[[], float]) -> None:
        """A gauge read at each scrape, from whatever owns the value."""
        self.gauges[name] = Gauge(name, help, read)

    def request(self, method: str, status: int) -> None:
        self.requests.inc(method, str(status))

    def lookup(self, result: str) -> None:
        self.lookups.inc(result)

    def rendered(self, fmt: str, seconds: float) -> None:
        self.renders.observe(seconds, fmt)
        self.event("image_request")
        self.event(f"image_request.{fmt}")
        if self.statsd:
            self.statsd.timing(f"render.{fmt}", seconds * 1000)

    def event(self, name: str) -> None:
        if self.statsd:
            self.statsd.incr(name)

    def exposition(self) -> bytes:
        """The Prometheus text format, written by prometheus_client from a snapshot of ours."""
        from prometheus_client import CollectorRegistry, generate_latest

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Snapshot(self))
        return generate_latest(registry)


class _Snapshot:
    """A prometheus_client collector: it reads our counts at each scrape."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        metrics = self.metrics
        for counter in (metrics.requests, metrics.lookups):
            family = CounterMetricFamily(counter.name, counter.help, labels=counter.label_names)
            for labels, value in sorted(counter.values.items()):
                family.add_metric(labels, value)
            yield family
        histogram = metrics.renders
        family = HistogramMetricFamily(histogram.name, histogram.help, labels=histogram.label_names)
        for labels, counts in sorted(histogram.counts.items()):
            family.add_metric(labels, _cumulative(histogram.bounds, counts), histogram.sums[labels])
        yield family
        for gauge in metrics.gauges.values():
            yield GaugeMetricFamily(gauge.name, gauge.help, value=gauge.read())


def _cumulative(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    total, buckets = 0, []
    for bound, count in zip((*(repr(b) for b in bounds), "+Inf"), counts, strict=True):
        total += count
        buckets.append((bound, float(total)))
    return buckets


def _statsd_client(address: str) -> StatsClient | None:
    if not address:
        return None
    from statsd import StatsClient

    host, _, port = address.rpartition(":")
    return StatsClient(host or "127.0.0.1", int(port), prefix=STATSD_PREFIX)
