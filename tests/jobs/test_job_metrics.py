"""Jobs in /metrics: jobs waiting and running per queue, and finished jobs' run times, which
workers record in the backend (SQLite and Redis): any server shows every worker's runs."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from imageserver.jobs.backends import Backend, Run
from imageserver.metrics import JobRun, JobTally, Metrics
from tests.conftest import Server, ServerFactory
from tests.jobs.conftest import Origin, _wait_for_redis, finished, reached, running, submit
from tests.s3_fixtures import free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scraped(server: Server) -> Samples:
    """The samples by name and labels."""
    async with server.session.get(server.url + "/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def jobs(samples: Samples, state: str, queue: str = "normal") -> float:
    return samples["imageserver_jobs", (("queue", queue), ("state", state))]


def runs(samples: Samples, sample: str, state: str = "succeeded", **labels: str) -> float:
    """A sample of imageserver_job_run_seconds (`_count`, `_sum`, `_bucket` with le=) of ingest
    jobs in queue normal; 0 when there is none."""
    key = {"queue": "normal", "kind": "ingest", "state": state, **labels}
    return samples.get(("imageserver_job_run_seconds" + sample, tuple(sorted(key.items()))), 0)


async def test_every_workers_jobs_whichever_server_is_scraped(
    start_jobs_server: ServerFactory, jobs_url: str, origin: Origin
) -> None:
    api = await start_jobs_server(jobs_url=jobs_url, workers=False)  # runs nothing itself
    await start_jobs_server(jobs_url=jobs_url, job_concurrency=1)  # the worker
    quick = await submit(api, {"namespace": "p", "source": origin.image()})
    slow = await submit(api, {"namespace": "p", "source": origin.image(delay=0.3)})
    bad = await submit(api, {"namespace": "p", "source": origin.image("missing")})
    for answer in (quick, slow, bad):
        await finished(api, answer["job_id"])
    blocker = await submit(api, {"namespace": "p", "source": origin.image(hold=1)})
    await running(api, blocker["job_id"])
    waiting = await submit(api, {"namespace": "p", "source": origin.image("small.png")})
    dropped = await submit(api, {"namespace": "p", "source": origin.image("alpha.png")})
    async with api.session.delete(f"{api.url}/jobs/{dropped['job_id']}") as resp:
        assert resp.status == 202

    samples = await scraped(api)
    assert [jobs(samples, "queued"), jobs(samples, "running")] == [1, 1]
    assert [jobs(samples, "queued", "urgent"), jobs(samples, "running", "urgent")] == [0, 0]
    assert runs(samples, "_count") == runs(samples, "_bucket", le="+Inf") == 2
    assert runs(samples, "_bucket", le="0.25") <= 1  # the slow one took 0.3 s at least
    assert runs(samples, "_sum") >= 0.3
    assert runs(samples, "_count", state="failed") == 1
    assert runs(samples, "_count", state="cancelled") == 0  # cancelled before it ran: no run

    async with api.session.delete(f"{api.url}/jobs/{blocker['job_id']}") as resp:
        assert resp.status == 202  # running: its worker cancels it
    await reached(api, blocker["job_id"], lambda view: view["state"] == "cancelled")
    await finished(api, waiting["job_id"])
    other = await start_jobs_server(jobs_url=jobs_url, workers=False)  # read afresh, no cache
    samples = await scraped(other)
    assert [jobs(samples, "queued"), jobs(samples, "running")] == [0, 0]
    assert runs(samples, "_count") == 3
    assert runs(samples, "_count", state="cancelled") == 1  # it ran until cancelled
    origin.release.set()


async def test_runs_recorded_by_one_connection_are_read_by_another(
    backends: tuple[Backend, Backend],
) -> None:
    """Two processes' connections to one store: runs add up per bucket, each counted once."""
    recording, reading = backends
    queue = recording.queue("normal")
    for run in [
        Run("a:1", "ingest", "succeeded", 0.2),
        Run("b:1", "ingest", "succeeded", 0.15),
        Run("c:1", "ingest", "cancelled", 700.0),
        Run("c:1", "ingest", "cancelled", 700.0),  # finished twice (a cancel): counted once
        Run("a:2", "ingest", "succeeded", 0.05),  # the same job's next run
    ]:
        await queue.record_run(run)
    await reading.queue("urgent").record_run(Run("d:1", "rasterize", "failed", 3.0))
    found = {
        (r.queue, r.kind, r.state, r.le): (r.count, r.seconds) for r in await reading.job_runs()
    }
    assert found == {
        ("normal", "ingest", "succeeded", "0.1"): (1, pytest.approx(0.05)),
        ("normal", "ingest", "succeeded", "0.25"): (2, pytest.approx(0.35)),
        ("normal", "ingest", "cancelled", "+Inf"): (1, pytest.approx(700.0)),
        ("urgent", "rasterize", "failed", "5.0"): (1, pytest.approx(3.0)),
    }


class RedisProcess:
    """A redis-server of this test's own, to stop and start again on its port."""

    def __init__(self, directory: Path) -> None:
        port = free_port()
        self.url = f"redis://127.0.0.1:{port}/0"
        self.command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
        self.command += ["--save", "", "--dir", str(directory)]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL)
        _wait_for_redis(self.url)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(redis_server: str, tmp_path: Path) -> Iterator[RedisProcess]:
    """Requested before the servers, so it stops after them (their shutdown talks to it);
    `redis_server` skips the test where redis-server is not installed."""
    redis = RedisProcess(tmp_path)
    redis.start()
    yield redis
    redis.stop()


async def test_a_backend_down_leaves_the_jobs_out_not_the_scrape(
    own_redis: RedisProcess, start_jobs_server: ServerFactory
) -> None:
    server = await start_jobs_server(jobs_url=own_redis.url, workers=False)
    await asyncio.to_thread(own_redis.stop)
    samples = await scraped(server)
    assert samples["imageserver_processes", ()] == 1  # the process's own figures
    assert not any(name.startswith("imageserver_job") for name, _ in samples)
    await asyncio.to_thread(own_redis.start)  # for the server's shutdown


async def test_the_backend_is_read_once_per_max_age() -> None:
    """However many scrapes come at once, one read; a later one past the age reads again."""
    metrics = Metrics()
    reads: list[int] = []

    async def read() -> JobTally:
        reads.append(1)
        await asyncio.sleep(0.01)
        return JobTally({"normal": {"queued": len(reads), "running": 0}}, [])

    tallies = await asyncio.gather(*[metrics.job_tally(read) for _ in range(5)])
    assert len(reads) == 1
    assert all(tally is tallies[0] for tally in tallies)
    again = await metrics.job_tally(read, max_age_s=0.0)
    assert (len(reads), again.counts["normal"]["queued"]) == (2, 2)


def test_buckets_stored_under_other_bounds_count_in_the_next_one() -> None:
    """A bucket recorded before the bounds changed still counts, in the first bound over it."""
    stored = [
        JobRun("normal", "ingest", "succeeded", "0.3", 2, 0.6),
        JobRun("normal", "ingest", "succeeded", "0.5", 1, 0.45),
    ]
    metrics = Metrics()
    text = metrics.exposition(jobs=JobTally({}, stored)).decode()
    labels = 'kind="ingest",le="0.5",queue="normal",state="succeeded"'
    assert f"imageserver_job_run_seconds_bucket{{{labels}}} 3.0" in text
    assert (
        'imageserver_job_run_seconds_sum{kind="ingest",queue="normal",state="succeeded"} 1.05'
        in text
    )
