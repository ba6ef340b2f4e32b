"""One contract for both queue backends (SQLite file, real redis-server), at saq's interface.

What the jobs engine relies on: claim and strict priority, unique keys, abort, retry with delay,
TTL, stuck jobs swept back, counts, listing, leases, and a second connection (another process)
seeing the same jobs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from saq import Job, Status, Worker

from imageserver.jobs.backends import Backend, ClaimingQueue, open_backend
from imageserver.jobs.group import QueueGroup


@pytest.fixture
async def backend(jobs_url: str) -> AsyncIterator[Backend]:
    opened = open_backend(jobs_url)
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def queues(backend: Backend) -> dict[str, ClaimingQueue]:
    found = {name: backend.queue(name) for name in ("urgent", "normal")}
    for queue in found.values():
        await queue.connect()
    return found


def job(key: str, **fields: object) -> Job:
    return Job(function="ingest", key=key, kwargs={"n": key}, **fields)  # type: ignore[arg-type]


def key_of(found: Job | None) -> str | None:
    return found.key if found else None


def status_of(found: Job | None) -> Status | None:
    return found.status if found else None


async def start(claimed: Job) -> Job:
    """What saq's Worker does right after a dequeue."""
    claimed.attempts += 1
    await claimed.update(status=Status.ACTIVE)
    return claimed


async def test_claim_takes_each_job_once_in_arrival_order(queues: dict[str, ClaimingQueue]) -> None:
    normal = queues["normal"]
    for key in ("a", "b"):
        await normal.enqueue(job(key))
    first = await normal.claim()
    assert key_of(first) == "a"
    assert first.kwargs == {"n": "a"}  # type: ignore[union-attr]
    assert key_of(await normal.claim()) == "b"
    assert await normal.claim() is None


async def test_group_dequeues_urgent_before_waiting_normal(
    queues: dict[str, ClaimingQueue],
) -> None:
    for key in ("n1", "n2"):
        await queues["normal"].enqueue(job(key))
    await queues["urgent"].enqueue(job("u1"))
    group = QueueGroup([queues["urgent"], queues["normal"]])
    order = [(await group.dequeue(timeout=1)) for _ in range(3)]
    assert [j.key for j in order if j] == ["u1", "n1", "n2"]
    assert await group.dequeue(timeout=0.1) is None


async def test_dequeue_wakes_on_an_enqueue(queues: dict[str, ClaimingQueue]) -> None:
    group = QueueGroup([queues["urgent"], queues["normal"]])
    waiting = asyncio.create_task(group.dequeue(timeout=5))
    await asyncio.sleep(0.05)
    await queues["normal"].enqueue(job("late"))
    assert key_of(await asyncio.wait_for(waiting, 1)) == "late"


async def test_a_key_is_enqueued_once_until_it_finishes(queues: dict[str, ClaimingQueue]) -> None:
    normal = queues["normal"]
    assert await normal.enqueue(job("k")) is not None
    assert await normal.enqueue(job("k")) is None
    claimed = await start(await normal.claim())  # type: ignore[arg-type]
    assert await normal.enqueue(job("k")) is None
    await claimed.finish(Status.FAILED, error="boom")
    assert await normal.enqueue(job("k")) is not None  # a finished key may run again
    assert status_of(await normal.job("k")) == Status.QUEUED


async def test_abort_queued_is_immediate_and_running_is_marked(
    queues: dict[str, ClaimingQueue],
) -> None:
    normal = queues["normal"]
    queued = job("q")
    await normal.enqueue(queued)
    await normal.abort(queued, "cancelled")
    assert status_of(await normal.job("q")) == Status.ABORTED
    assert await normal.claim() is None
    await normal.enqueue(job("r"))
    running = await start(await normal.claim())  # type: ignore[arg-type]
    await normal.abort(running, "cancelled")
    stored = await normal.job("r")
    assert status_of(stored) == Status.ABORTING
    assert stored.error == "cancelled"  # type: ignore[union-attr]


async def test_update_keeps_a_status_changed_meanwhile(queues: dict[str, ClaimingQueue]) -> None:
    """A heartbeat or progress write must not undo a cancel made by another process."""
    normal = queues["normal"]
    await normal.enqueue(job("h"))
    running = await start(await normal.claim())  # type: ignore[arg-type]
    await normal.abort(await normal.job("h"), "cancelled")  # type: ignore[arg-type]
    await running.update(progress=0.5)
    stored = await normal.job("h")
    assert status_of(stored) == Status.ABORTING
    assert stored.progress == 0.5  # type: ignore[union-attr]


async def test_retry_waits_out_its_delay(queues: dict[str, ClaimingQueue]) -> None:
    normal = queues["normal"]
    await normal.enqueue(job("r", retries=3, retry_delay=0.3))
    running = await start(await normal.claim())  # type: ignore[arg-type]
    await running.retry("transient")
    assert await normal.claim() is None
    await asyncio.sleep(0.35)
    await normal.schedule()  # Redis moves due retries to the queue here; SQLite needs nothing
    assert key_of(await normal.claim()) == "r"


async def test_finished_jobs_are_swept_after_their_ttl(queues: dict[str, ClaimingQueue]) -> None:
    normal = queues["normal"]
    await normal.enqueue(job("t", ttl=1))
    running = await start(await normal.claim())  # type: ignore[arg-type]
    await running.finish(Status.COMPLETE, result={"ok": True})
    kept = await normal.job("t")
    assert kept.result == {"ok": True}  # type: ignore[union-attr]
    await asyncio.sleep(1.1)
    await normal.sweep(lock=1)
    assert await normal.job("t") is None


async def test_a_stuck_job_is_swept_back_to_its_queue(queues: dict[str, ClaimingQueue]) -> None:
    """Its worker died: no heartbeat for `heartbeat` seconds."""
    normal = queues["normal"]
    await normal.enqueue(job("s", heartbeat=1, retries=2))
    await start(await normal.claim())  # type: ignore[arg-type]
    await asyncio.sleep(1.1)
    assert len(await normal.sweep(lock=1, abort=0.05)) == 1
    again = await normal.claim()
    assert key_of(again) == "s"
    assert again.attempts == 1  # type: ignore[union-attr]


async def test_counts_and_listing(queues: dict[str, ClaimingQueue]) -> None:
    normal = queues["normal"]
    for key in ("a", "b", "c"):
        await normal.enqueue(job(key))
    running = await start(await normal.claim())  # type: ignore[arg-type]
    assert await normal.count("active") == 1
    assert await normal.count("incomplete") == 3
    await running.finish(Status.FAILED, error="x")
    failed = [j.key async for j in normal.iter_jobs([Status.FAILED])]
    queued = sorted([j.key async for j in normal.iter_jobs([Status.QUEUED])])
    assert (failed, queued) == (["a"], ["b", "c"])


async def test_a_second_connection_sees_the_same_jobs(jobs_url: str, backend: Backend) -> None:
    """Two processes on one machine (SQLite) or several machines (Redis)."""
    mine = backend.queue("normal")
    await mine.connect()
    other_backend = open_backend(jobs_url)
    await other_backend.open()
    try:
        theirs = other_backend.queue("normal")
        await theirs.connect()
        await mine.enqueue(job("x"))
        assert key_of(await theirs.claim()) == "x"
        assert await mine.claim() is None
    finally:
        await other_backend.close()


async def test_slots_admit_at_most_the_limit(backend: Backend) -> None:
    assert await backend.acquire("host:a", 2, "j1", 10)
    assert await backend.acquire("host:a", 2, "j2", 10)
    assert not await backend.acquire("host:a", 2, "j3", 10)
    assert await backend.acquire("host:a", 2, "j1", 10)  # a holder's own lease is renewed
    assert await backend.acquire("host:b", 2, "j3", 10)  # another host has its own count
    await backend.release("host:a", "j1")
    assert await backend.acquire("host:a", 2, "j3", 10)


async def test_a_lease_expires_when_its_holder_dies(backend: Backend) -> None:
    assert await backend.acquire("group:g", 1, "dead", 0.2)
    assert not await backend.acquire("group:g", 1, "next", 10)
    await asyncio.sleep(0.25)
    assert await backend.acquire("group:g", 1, "next", 10)


async def add(_ctx: dict, *, a: int, b: int) -> int:
    return a + b


async def test_a_stock_saq_worker_runs_jobs_from_the_queue(backend: Backend) -> None:
    """The queues are saq queues, not look-alikes: saq's own Worker and `apply` work on them."""
    queue = backend.queue("default")
    await queue.connect()
    worker = Worker(queue, [add], concurrency=2)
    worker.SIGNALS = []
    running = asyncio.create_task(worker.start())
    try:
        assert await queue.apply("add", a=1, b=2, timeout=5, poll_interval=0.05) == 3
    finally:
        await worker.stop()
        await running


async def test_abort_a_job_waiting_out_its_retry_delay(queues: dict[str, ClaimingQueue]) -> None:
    normal = queues["normal"]
    await normal.enqueue(job("w", retries=3, retry_delay=30))
    running = await start(await normal.claim())  # type: ignore[arg-type]
    await running.retry("transient")
    await normal.abort(await normal.job("w"), "cancelled")  # type: ignore[arg-type]
    assert status_of(await normal.job("w")) == Status.ABORTED
