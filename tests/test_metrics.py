"""The Prometheus text that /metrics serves, written from our own counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from imageserver.metrics import Metrics
from imageserver.web.siblings import Siblings


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_counters_by_label() -> None:
    metrics = Metrics()
    metrics.request("GET", 200)
    metrics.request("GET", 200)
    metrics.request("POST", 413)
    metrics.lookup("memory")
    found = samples(metrics)
    assert found["imageserver_http_requests_total", (("method", "GET"), ("status", "200"))] == 2
    assert found["imageserver_http_requests_total", (("method", "POST"), ("status", "413"))] == 1
    assert found["imageserver_output_lookups_total", (("result", "memory"),)] == 1


def test_render_histogram_buckets_are_cumulative() -> None:
    metrics = Metrics()
    for seconds in (0.003, 0.005, 0.2, 30.0):  # 0.005 falls in le=0.005: buckets are <=
        metrics.rendered("webp", seconds)
    metrics.rendered("jpg", 0.01)
    found = samples(metrics)

    def bucket(le: str, fmt: str = "webp") -> float:
        return found["imageserver_render_seconds_bucket", (("format", fmt), ("le", le))]

    assert [bucket("0.005"), bucket("0.1"), bucket("0.25"), bucket("10.0")] == [2, 2, 3, 3]
    assert bucket("+Inf") == 4
    assert found["imageserver_render_seconds_count", (("format", "webp"),)] == 4
    assert found["imageserver_render_seconds_sum", (("format", "webp"),)] == pytest.approx(30.208)
    assert found["imageserver_render_seconds_count", (("format", "jpg"),)] == 1
    assert metrics.renders.count("webp") == 4


def test_gauges_are_read_at_each_scrape() -> None:
    metrics = Metrics()
    pending = [3.0]
    metrics.watch("imageserver_render_pool_pending", "Renders", lambda: pending[0])
    metrics.watch("imageserver_memory_cache_bytes", "Bytes", lambda: 2048)
    assert samples(metrics)["imageserver_render_pool_pending", ()] == 3
    pending[0] = 0.0
    assert samples(metrics)["imageserver_render_pool_pending", ()] == 0
    assert samples(metrics)["imageserver_memory_cache_bytes", ()] == 2048


def test_siblings_counts_add_up_and_gauges_sum() -> None:
    ours, theirs = Metrics(), Metrics()
    for metrics, pending in ((ours, 1.0), (theirs, 2.0)):
        metrics.watch("imageserver_render_pool_pending", "Renders", lambda p=pending: p)
        metrics.request("GET", 200)
        metrics.rendered("jpg", 0.02)
    theirs.lookup("storage")
    text = ours.exposition([theirs.snapshot()]).decode()
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert found["imageserver_http_requests_total", (("method", "GET"), ("status", "200"))] == 2
    assert found["imageserver_output_lookups_total", (("result", "storage"),)] == 1
    assert found["imageserver_render_seconds_count", (("format", "jpg"),)] == 2
    assert found["imageserver_render_pool_pending", ()] == 3
    assert found["imageserver_processes", ()] == 2


def test_a_restarted_process_goes_on_from_its_predecessors_counts(tmp_path: Path) -> None:
    old = Metrics()
    old.request("GET", 200)
    old.rendered("webp", 0.5)
    Siblings(tmp_path, 1).publish(old)
    new, other = Metrics(), Metrics()
    Siblings(tmp_path, 1).take_over(new)
    new.request("GET", 200)
    found = samples(new)
    assert found["imageserver_http_requests_total", (("method", "GET"), ("status", "200"))] == 2
    assert found["imageserver_render_seconds_count", (("format", "webp"),)] == 1
    Siblings(tmp_path, 0).publish(other)
    assert len(Siblings(tmp_path, 0).others()) == 1  # the other index's file, not its own
