"""The render pool: work runs on worker threads, a full queue fails fast with Overloaded."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from imageserver.errors import Overloaded
from imageserver.pool import IdleHook, RenderPool

WORKERS = 2
QUEUE = 1
HOLD_TIMEOUT_S = 5.0  # a test that fails never leaves a worker blocked for longer


@pytest.fixture
def release() -> threading.Event:
    return threading.Event()


@pytest.fixture
def pool(release: threading.Event) -> Iterator[RenderPool]:
    pool = RenderPool(WORKERS, QUEUE)
    yield pool
    release.set()
    pool.close()


def _held(release: threading.Event) -> str:
    if not release.wait(HOLD_TIMEOUT_S):
        raise TimeoutError("the test never released the worker")
    return threading.current_thread().name


async def _fill(pool: RenderPool, release: threading.Event) -> list[asyncio.Task[str]]:
    """Occupies every worker and every queue slot; returns once all of them are counted."""
    tasks = [asyncio.create_task(pool.run(_held, release)) for _ in range(WORKERS + QUEUE)]
    await asyncio.sleep(0)
    return tasks


async def test_runs_work_off_the_event_loop_thread(pool: RenderPool) -> None:
    loop_thread = threading.get_ident()
    worker_thread = await pool.run(threading.get_ident)
    assert worker_thread != loop_thread
    assert await pool.run(lambda: threading.current_thread().name.startswith("render"))


async def test_passes_arguments_and_returns_the_result(pool: RenderPool) -> None:
    assert await pool.run(pow, 2, 10) == 1024


async def test_overloaded_when_workers_and_queue_are_busy(
    pool: RenderPool, release: threading.Event
) -> None:
    tasks = await _fill(pool, release)
    assert (pool.pending, pool.queued) == (WORKERS + QUEUE, QUEUE)
    with pytest.raises(Overloaded) as caught:
        await pool.run(pow, 2, 10)
    assert caught.value.status == 503
    assert caught.value.retry_after_s >= 1
    assert pool.pending == WORKERS + QUEUE
    release.set()
    names = await asyncio.gather(*tasks)
    assert all(name.startswith("render") for name in names)
    assert (pool.pending, pool.queued) == (0, 0)


async def test_accepts_work_again_once_the_queue_drains(
    pool: RenderPool, release: threading.Event
) -> None:
    tasks = await _fill(pool, release)
    with pytest.raises(Overloaded):
        await pool.run(pow, 2, 10)
    release.set()
    await asyncio.gather(*tasks)
    assert await pool.run(pow, 2, 10) == 1024


async def test_workers_run_in_parallel(pool: RenderPool) -> None:
    barrier = threading.Barrier(WORKERS, timeout=HOLD_TIMEOUT_S)
    # Each worker waits for the others: this only finishes if WORKERS run at once.
    results = await asyncio.gather(*(pool.run(barrier.wait) for _ in range(WORKERS)))
    assert sorted(results) == list(range(WORKERS))


async def test_exceptions_propagate_and_free_the_slot(pool: RenderPool) -> None:
    def fail() -> None:
        raise ValueError("corrupt image")

    with pytest.raises(ValueError, match=r"^corrupt image$"):
        await pool.run(fail)
    assert pool.pending == 0


async def test_a_slot_is_a_worker_thread_and_run_takes_one_too(
    pool: RenderPool, release: threading.Event
) -> None:
    """Whoever holds a slot has a thread: a render that got one never waits in the executor's
    queue behind other work, so a slot means "started" (flights.py)."""

    async def take_a_slot() -> None:
        async with pool.slot():
            pass

    busy = [asyncio.create_task(pool.run(_held, release)) for _ in range(WORKERS)]
    await asyncio.sleep(0)
    waiting = asyncio.create_task(take_a_slot())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    release.set()
    await asyncio.gather(*busy)
    await asyncio.wait_for(waiting, HOLD_TIMEOUT_S)


class IdleCalls:
    """Records the threads an idle hook ran on; `ran` is set at each call."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.ran = threading.Event()

    def __call__(self) -> None:
        self.threads.append(threading.current_thread().name)
        self.ran.set()


IDLE_S = 0.25  # a pause shorter than this (between the runs below) never counts


@pytest.fixture
def idle() -> IdleCalls:
    return IdleCalls()


@pytest.fixture
def hooked(idle: IdleCalls) -> Iterator[RenderPool]:
    pool = RenderPool(WORKERS, QUEUE, on_idle=IdleHook(idle, IDLE_S))
    yield pool
    pool.close()


async def test_idle_hook_runs_once_per_pause_on_a_worker(
    hooked: RenderPool, idle: IdleCalls
) -> None:
    await hooked.run(pow, 2, 10)
    await asyncio.gather(*(hooked.run(pow, 2, n) for n in range(WORKERS + QUEUE)))
    assert idle.threads == []  # not while work keeps coming
    assert await asyncio.to_thread(idle.ran.wait, HOLD_TIMEOUT_S)
    await asyncio.sleep(IDLE_S * 2)
    assert len(idle.threads) == 1
    assert idle.threads[0].startswith("render")


async def test_idle_hook_waits_for_a_pause_as_long_as_its_delay(
    hooked: RenderPool, idle: IdleCalls
) -> None:
    for _ in range(6):
        await hooked.run(pow, 2, 10)
        await asyncio.sleep(0.01)
    assert idle.threads == []
    assert await asyncio.to_thread(idle.ran.wait, HOLD_TIMEOUT_S)


async def test_idle_hook_waits_for_work_in_flight(
    hooked: RenderPool, idle: IdleCalls, release: threading.Event
) -> None:
    slow = asyncio.create_task(hooked.run(_held, release))
    await hooked.run(pow, 2, 10)
    await asyncio.sleep(IDLE_S * 2)
    assert idle.threads == []
    release.set()
    await slow
    assert await asyncio.to_thread(idle.ran.wait, HOLD_TIMEOUT_S)
