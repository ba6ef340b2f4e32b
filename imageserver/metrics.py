"""Counters for operators: Prometheus text at /metrics, and the seed's statsd events when asked.

statsd names (below --statsd-prefix, `image_server` by default) are the wanelo seed's:
image_request, image_request.{format}, image_request_fail, original_downloaded,
original_unavailable; plus render timings.

Counts live in plain dicts, and prometheus_client is imported at the first scrape (statsd only
when configured): importing it costs every command 50-75 ms of start-up (`process`,
`render`), and its metric objects take a lock on every increment. All counting happens on the
event loop's thread. The jobs' figures are not counted here but read from the job backend, where
every worker records its finished runs (jobs/backends `record_run`).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .rolling import Rolling

if TYPE_CHECKING:
    from statsd import StatsClient

_RENDER_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_RUN_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# How long /metrics reuses its read of the job backend, however many scrapers come; and waits
# for it, before answering without the jobs' figures.
JOB_TALLY_MAX_AGE_S = 2.0
JOB_TALLY_TIMEOUT_S = 1.0
log = logging.getLogger(__name__)

Labels = tuple[str, ...]
# The dashboard's hit ratio (web/admin/metrics.py): lookups answered without a render, over those
# and renders; and the gauge its queue depth chart samples.
HITS = ("memory", "storage", "redirect")
MISSES = ("render",)
RENDERED = "rendered"  # the per-minute count of `Metrics.rendered`
QUEUE_DEPTH = "imageserver_render_pool_pending"


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
class JobRun:
    """Finished runs of one kind, queue and end state in one histogram bucket (`le`, its upper
    bound), and their seconds: the workers record them in the job backend (`record_run`)."""

    queue: str
    kind: str
    state: str
    le: str
    count: int
    seconds: float


def job_run_bucket(seconds: float) -> str:
    """The `le` of the bucket a run of `seconds` is counted in."""
    index = bisect.bisect_left(JOB_RUN_BUCKETS_S, seconds)
    return repr(JOB_RUN_BUCKETS_S[index]) if index < len(JOB_RUN_BUCKETS_S) else "+Inf"


@dataclass(frozen=True)
class JobTally:
    """The jobs as /metrics shows them, read from their backend (jobs/client.py `tally`): so
    every worker's on every node, the same whichever serving process answers the scrape."""

    counts: dict[str, dict[str, int]]  # queue -> queued, running -> jobs
    runs: list[JobRun]


@dataclass(frozen=True)
class Gauge:
    name: str
    help: str
    read: Callable[[], float]


class Metrics:
    """One per app, so several servers can live in one test process."""

    def __init__(self, statsd_address: str = "", statsd_prefix: str = "") -> None:
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
        self.rolling = Rolling()  # the last hour per minute, for the dashboard's charts
        self.statsd = _statsd_client(statsd_address, statsd_prefix)
        self._job_tally: tuple[float, JobTally | None] | None = None
        self._job_tally_lock = asyncio.Lock()

    def watch(self, name: str, help: str, read: Callable[[], float]) -> None:
        """A gauge read at each scrape, from whatever owns the value."""
        self.gauges[name] = Gauge(name, help, read)

    def request(self, method: str, status: int) -> None:
        self.requests.inc(method, str(status))

    def lookup(self, result: str) -> None:
        self.lookups.inc(result)
        self.rolling.count(time.time(), result)

    def rendered(self, fmt: str, seconds: float) -> None:
        self.renders.observe(seconds, fmt)
        self.rolling.count(time.time(), RENDERED)
        self.event("image_request")
        self.event(f"image_request.{fmt}")
        if self.statsd:
            self.statsd.timing(f"render.{fmt}", seconds * 1000)

    def served(self, seconds: float) -> None:
        """An output request answered (web/middleware.py), whatever its status: its latency."""
        self.rolling.observe(time.time(), seconds)

    def sample_depth(self) -> None:
        """The render pool's depth now, kept as the minute's deepest (web/admin/metrics.py
        samples it every second)."""
        gauge = self.gauges.get(QUEUE_DEPTH)
        if gauge is not None:
            self.rolling.sample(time.time(), gauge.read())

    def event(self, name: str) -> None:
        if self.statsd:
            self.statsd.incr(name)

    def snapshot(self) -> Snapshot:
        """Every count as plain data (JSON): what a serving process shares with its siblings."""
        return {
            "counters": {
                c.name: [[list(k), v] for k, v in c.values.items()] for c in self.counters
            },
            "histograms": {
                self.renders.name: [
                    [list(k), counts, self.renders.sums[k]]
                    for k, counts in self.renders.counts.items()
                ]
            },
            "gauges": {g.name: g.read() for g in self.gauges.values()},
            "rolling": self.rolling.to_json(),
        }

    def restore(self, snapshot: Snapshot) -> None:
        """Counts go on from a predecessor's (a serving process restarted in its place), so the
        server's counters never step back; gauges are read afresh."""
        for counter in self.counters:
            for labels, value in snapshot["counters"].get(counter.name, []):
                key = tuple(labels)
                counter.values[key] = counter.values.get(key, 0.0) + value
        for labels, counts, total in snapshot["histograms"].get(self.renders.name, []):
            key = tuple(labels)
            mine = self.renders.counts.setdefault(key, [0] * len(counts))
            self.renders.counts[key] = [a + b for a, b in zip(mine, counts, strict=True)]
            self.renders.sums[key] = self.renders.sums.get(key, 0.0) + total
        self.rolling.merge(Rolling.from_json(snapshot.get("rolling", [])))

    async def job_tally(
        self, read: Callable[[], Awaitable[JobTally]], max_age_s: float = JOB_TALLY_MAX_AGE_S
    ) -> JobTally | None:
        """`read`'s answer, reused for `max_age_s`: however many scrapes come, the job backend
        is read once per that, one read at a time. None while it cannot be read: the scrape
        then answers this process's figures without the jobs', rather than nothing."""
        async with self._job_tally_lock:
            now_s = time.monotonic()
            if self._job_tally is None or now_s - self._job_tally[0] >= max_age_s:
                self._job_tally = (now_s, await _read_in_time(read))
            return self._job_tally[1]

    def exposition(self, others: Iterable[Snapshot] = (), jobs: JobTally | None = None) -> bytes:
        """The Prometheus text format, written by prometheus_client: this process's counts plus
        `others` (its siblings', serve --processes), summed; and `jobs`, as read (not summed:
        every process reads the same backend)."""
        from prometheus_client import CollectorRegistry, generate_latest

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self, [self.snapshot(), *others]))
        if jobs is not None:
            registry.register(_JobCollector(jobs))
        return generate_latest(registry)

    @property
    def counters(self) -> tuple[Counter, ...]:
        return (self.requests, self.lookups)


Snapshot = dict[str, Any]


class _Collector:
    """A prometheus_client collector: the names and help text of `metrics`, the summed values
    of `snapshots`."""

    def __init__(self, metrics: Metrics, snapshots: list[Snapshot]) -> None:
        self.metrics = metrics
        self.snapshots = snapshots

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        for counter in self.metrics.counters:
            family = CounterMetricFamily(counter.name, counter.help, labels=counter.label_names)
            for labels, value in sorted(self._summed("counters", counter.name).items()):
                family.add_metric(labels, value)
            yield family
        histogram = self.metrics.renders
        family = HistogramMetricFamily(histogram.name, histogram.help, labels=histogram.label_names)
        for labels, (counts, total) in sorted(self._summed_histogram(histogram.name).items()):
            family.add_metric(labels, _cumulative(histogram.bounds, counts), total)
        yield family
        for gauge in self.metrics.gauges.values():
            value = sum(s["gauges"].get(gauge.name, 0.0) for s in self.snapshots)
            yield GaugeMetricFamily(gauge.name, gauge.help, value=value)
        yield GaugeMetricFamily(
            "imageserver_processes", "Serving processes counted here", value=len(self.snapshots)
        )

    def _summed(self, kind: str, name: str) -> dict[Labels, float]:
        total: dict[Labels, float] = {}
        for snapshot in self.snapshots:
            for labels, value in snapshot[kind].get(name, []):
                total[tuple(labels)] = total.get(tuple(labels), 0.0) + value
        return total

    def _summed_histogram(self, name: str) -> dict[Labels, tuple[list[int], float]]:
        total: dict[Labels, tuple[list[int], float]] = {}
        for snapshot in self.snapshots:
            for labels, counts, seconds in snapshot["histograms"].get(name, []):
                key = tuple(labels)
                before, before_s = total.get(key, ([0] * len(counts), 0.0))
                total[key] = (
                    [a + b for a, b in zip(before, counts, strict=True)],
                    before_s + seconds,
                )
        return total


async def _read_in_time(read: Callable[[], Awaitable[JobTally]]) -> JobTally | None:
    try:
        async with asyncio.timeout(JOB_TALLY_TIMEOUT_S):
            return await read()
    except Exception:  # a timeout, or whatever the backend's client raises when it is down
        log.warning("/metrics without the jobs' figures: their backend is not answering")
        return None


class _JobCollector:
    """Jobs waiting and running per queue (gauges), and the run time of every finished job (a
    histogram by queue, kind and end state, whose count is the finished jobs)."""

    def __init__(self, jobs: JobTally) -> None:
        self.jobs = jobs

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

        help_ = "Jobs waiting (a retry's backoff included) and running, per queue"
        family = GaugeMetricFamily("imageserver_jobs", help_, labels=("queue", "state"))
        for queue, states in sorted(self.jobs.counts.items()):
            for state, count in sorted(states.items()):
                family.add_metric((queue, state), count)
        yield family
        help_ = "Run time of finished jobs (their last attempt), by queue, kind and end state"
        labels = ("queue", "kind", "state")
        runs = HistogramMetricFamily("imageserver_job_run_seconds", help_, labels=labels)
        for key, (counts, seconds) in sorted(_job_histograms(self.jobs.runs).items()):
            runs.add_metric(key, _cumulative(JOB_RUN_BUCKETS_S, counts), seconds)
        yield runs


def _job_histograms(runs: list[JobRun]) -> dict[Labels, tuple[list[int], float]]:
    """Per labels, the counts per bucket and the seconds. A bucket stored under bounds since
    changed counts in the first bucket that holds it."""
    histograms: dict[Labels, tuple[list[int], float]] = {}
    for run in runs:
        key = (run.queue, run.kind, run.state)
        counts, seconds = histograms.get(key, ([0] * (len(JOB_RUN_BUCKETS_S) + 1), 0.0))
        counts[bisect.bisect_left(JOB_RUN_BUCKETS_S, float(run.le))] += run.count
        histograms[key] = (counts, seconds + run.seconds)
    return histograms


def _cumulative(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    total, buckets = 0, []
    for bound, count in zip((*(repr(b) for b in bounds), "+Inf"), counts, strict=True):
        total += count
        buckets.append((bound, float(total)))
    return buckets


def _statsd_client(address: str, prefix: str) -> StatsClient | None:
    if not address:
        return None
    from statsd import StatsClient

    host, _, port = address.rpartition(":")
    return StatsClient(host or "127.0.0.1", int(port), prefix=prefix or None)
