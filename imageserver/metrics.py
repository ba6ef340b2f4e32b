"""Counters for operators: Prometheus text at /metrics, and the seed's statsd events when asked.

statsd names (prefix `image_server`) are the seed's: image_request, image_request.{format},
image_request_fail, original_downloaded, original_unavailable; plus render timings.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from statsd import StatsClient

STATSD_PREFIX = "image_server"
_RENDER_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One per app (its own registry), so several servers can live in one test process."""

    def __init__(self, statsd_address: str = "") -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "imageserver_http_requests",
            "HTTP requests by method and status",
            ["method", "status"],
            registry=self.registry,
        )
        self.renders = Histogram(
            "imageserver_render_seconds",
            "Time to render one output, by output format",
            ["format"],
            buckets=_RENDER_BUCKETS_S,
            registry=self.registry,
        )
        self.lookups = Counter(
            "imageserver_output_lookups",
            "Where outputs came from: memory, storage, redirect or render",
            ["result"],
            registry=self.registry,
        )
        self.pool_pending = Gauge(
            "imageserver_render_pool_pending",
            "Renders running or waiting in the pool",
            registry=self.registry,
        )
        self.statsd = _statsd_client(statsd_address)
        self._children: dict[tuple[object, ...], Counter] = {}

    def watch_pool(self, pending: Callable[[], float]) -> None:
        self.pool_pending.set_function(pending)

    def request(self, method: str, status: int) -> None:
        self._child(self.requests, method, str(status)).inc()

    def lookup(self, result: str) -> None:
        self._child(self.lookups, result).inc()

    def _child(self, metric: Counter, *labels: str) -> Counter:
        """Labelled children, looked up once: `labels()` takes a lock on every hot-path hit."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def rendered(self, fmt: str, seconds: float) -> None:
        self.renders.labels(fmt).observe(seconds)
        self.event("image_request")
        self.event(f"image_request.{fmt}")
        if self.statsd:
            self.statsd.timing(f"render.{fmt}", seconds * 1000)

    def event(self, name: str) -> None:
        if self.statsd:
            self.statsd.incr(name)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _statsd_client(address: str) -> StatsClient | None:
    if not address:
        return None
    host, _, port = address.rpartition(":")
    return StatsClient(host or "127.0.0.1", int(port), prefix=STATSD_PREFIX)
