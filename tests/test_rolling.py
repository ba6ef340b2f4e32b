"""The dashboard's rolling per-minute buckets (pure): rotation, empty minutes, percentiles,
merging processes, and the charts drawn from them."""

from __future__ import annotations

import time

import pytest

from imageserver import rolling
from imageserver.metrics import HITS, MISSES, RENDERED, Metrics
from imageserver.rolling import LATENCY_BOUNDS_S, Minute, Rolling, percentile
from imageserver.web.admin import charts
from imageserver.web.admin.metrics import charts as metric_charts

T0 = 1_700_000_040.0  # the start of a minute (divisible by 60)


def test_counts_land_in_their_minute_and_the_window_is_oldest_first() -> None:
    buckets = Rolling()
    buckets.count(T0 + 1, "render")
    buckets.count(T0 + 59.9, "render", 2)
    buckets.count(T0 + 60, "render")
    window = buckets.window(T0 + 61)
    assert len(window) == 60
    assert [m.minute for m in window] == list(range(int(T0 // 60) - 58, int(T0 // 60) + 2))
    assert window[-2].counts == {"render": 3}
    assert window[-1].counts == {"render": 1}


def test_empty_minutes_are_in_the_window_with_nothing() -> None:
    buckets = Rolling()
    buckets.count(T0, "memory")
    window = buckets.window(T0 + 10 * 60)
    assert window[-11].counts == {"memory": 1}
    empty = [m for i, m in enumerate(window) if i != len(window) - 11]
    assert all(m.counts == {} and m.latencies == {} and m.depth == 0 for m in empty)


def test_minutes_older_than_the_window_rotate_out() -> None:
    buckets = Rolling(window_minutes=3)
    buckets.count(T0, "render")
    buckets.count(T0 + 120, "render")
    assert rolling.total(buckets.window(T0 + 120), "render") == 2
    buckets.count(T0 + 180, "render")  # a new minute: T0's is 3 minutes old, dropped
    assert rolling.total(buckets.window(T0 + 180), "render") == 2
    assert len(buckets.to_json()) == 2  # not only hidden: gone from memory
    assert rolling.total(buckets.window(T0 + 10 * 60), "render") == 0  # quiet for long


def test_percentiles_from_the_histogram_are_within_ten_percent() -> None:
    buckets = Rolling()
    for ms in range(1, 101):  # 1..100 ms, one request each
        buckets.observe(T0, ms / 1000)
    latencies = buckets.window(T0)[-1].latencies
    assert sum(latencies.values()) == 100
    assert percentile(latencies, 0.5) == pytest.approx(0.050, rel=0.1)
    assert percentile(latencies, 0.99) == pytest.approx(0.099, rel=0.1)
    assert percentile(latencies, 0.5) >= 0.050  # a bucket's upper bound: never below
    assert percentile({}, 0.5) is None


def test_latencies_beyond_every_bound_read_as_the_last() -> None:
    buckets = Rolling()
    buckets.observe(T0, 500.0)
    buckets.observe(T0, 0.0)
    latencies = buckets.window(T0)[-1].latencies
    assert percentile(latencies, 1.0) == LATENCY_BOUNDS_S[-1]
    assert percentile(latencies, 0.01) == LATENCY_BOUNDS_S[0]


def test_depth_keeps_the_deepest_sample_of_a_minute() -> None:
    buckets = Rolling()
    for depth in (2, 7, 3):
        buckets.sample(T0 + depth, depth)
    buckets.sample(T0 + 60, 1)
    assert [m.depth for m in buckets.window(T0 + 60)[-2:]] == [7, 1]


def test_hit_ratio_and_rates() -> None:
    minute = Minute(int(T0 // 60), counts={"memory": 6, "storage": 1, "redirect": 1, "render": 2})
    assert rolling.hit_ratio([minute], HITS, MISSES) == pytest.approx(0.8)
    assert rolling.hit_ratio([Minute(0)], HITS, MISSES) is None
    minute.counts[RENDERED] = 30
    assert rolling.per_second(minute, RENDERED, T0 + 120) == pytest.approx(0.5)
    assert rolling.per_second(minute, RENDERED, T0 + 15) == pytest.approx(2.0)  # so far


def test_processes_merge_through_their_json() -> None:
    a, b = Rolling(), Rolling()
    a.count(T0, "render")
    a.observe(T0, 0.01)
    a.sample(T0, 2)
    b.count(T0, "render", 2)
    b.count(T0 + 60, "memory")
    b.observe(T0, 0.01)
    b.sample(T0, 3)
    total = rolling.merged([a, Rolling.from_json(b.to_json())])
    window = total.window(T0 + 60)
    assert window[-2].counts == {"render": 3}
    assert sum(window[-2].latencies.values()) == 2
    assert window[-2].depth == 5  # separate pools: their depths add up
    assert window[-1].counts == {"memory": 1}


def test_metrics_feed_the_buckets_and_share_them_in_snapshots() -> None:
    metrics = Metrics()
    metrics.rendered("webp", 0.02)
    metrics.lookup("render")
    metrics.lookup("memory")
    metrics.served(0.003)
    pending = [4.0]
    metrics.watch("imageserver_render_pool_pending", "Renders", lambda: pending[0])
    metrics.sample_depth()
    restored = Metrics()
    restored.restore(metrics.snapshot())  # a process taking over its predecessor's index
    for m in (metrics, restored):
        minute = m.rolling.window(time.time())[-1]
        assert minute.counts == {RENDERED: 1, "render": 1, "memory": 1}
        assert sum(minute.latencies.values()) == 1
        assert minute.depth == 4


def test_nice_ceiling() -> None:
    assert [charts.nice_ceiling(v) for v in (0, 0.3, 1, 1.1, 3, 7, 12, 4500)] == [
        1,
        0.5,
        1,
        2,
        5,
        10,
        20,
        5000,
    ]


def test_charts_have_a_bar_per_minute_with_data_and_say_it_in_words() -> None:
    buckets = Rolling()
    buckets.count(T0, RENDERED, 120)
    buckets.count(T0, "render", 2)
    buckets.count(T0, "memory", 6)
    buckets.observe(T0, 0.004)
    now_s = T0 + 60 * 5
    renders, hits, latency, depth = metric_charts(buckets.window(now_s), now_s)
    assert [len(s.bars) for s in renders.series] == [60]  # zero bars too: the rate was 0
    assert [len(s.bars) for s in hits.series] == [1]  # no lookups: no ratio, no bar
    assert [s.name for s in latency.series] == ["p99", "p50"]
    assert "120 renders" in renders.summary
    assert "75%" in hits.summary
    assert "p50 4.1 ms" in latency.summary
    assert "at most 0" in depth.summary
    tallest = max(renders.series[0].bars, key=lambda bar: bar.height)
    assert tallest.label == "5 min ago: renders/s 2.00/s"
    assert tallest.y == pytest.approx(renders.plot_top)  # 2/s is the axis top
    assert [t.text for t in renders.x_ticks] == ["-60", "-45", "-30", "-15", "now"]
    assert renders.x_ticks[0].at == renders.plot_left
    assert renders.x_ticks[-1].at == pytest.approx(renders.plot_right)
