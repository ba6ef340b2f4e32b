"""The PDF worker processes: work runs elsewhere, a dying worker fails its own task only, a task
past its deadline is stopped, and the pool carries on with a fresh worker each time."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest

from imageserver import render
from imageserver.errors import NotFound, OverLimit, Undecodable
from imageserver.render.processes import ProcessPool
from imageserver.transform import parse_token
from tests.pdf.conftest import MULTIPAGE, corpus_pdf

TIMEOUT_S = 1.0
LIMITS = render.Limits(max_pixels=50_000_000, max_frames=500)


@pytest.fixture
async def pool() -> AsyncIterator[ProcessPool]:
    pool = ProcessPool(2, TIMEOUT_S, render.configure, (1,))
    yield pool
    pool.close()


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _slow(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


async def test_runs_in_another_process(pool: ProcessPool) -> None:
    assert await pool.run(os.getpid) != os.getpid()


async def test_renders_a_page(pool: ProcessPool) -> None:
    result = await pool.run(
        render.render, corpus_pdf(MULTIPAGE), parse_token("w200-p3.jpg"), LIMITS
    )
    assert (result.width, result.height, result.format.ext) == (200, 259, "jpg")


async def test_errors_come_back_typed(pool: ProcessPool) -> None:
    with pytest.raises(NotFound, match=r"^page 20: this original has 19 pages$"):
        await pool.run(render.render, corpus_pdf(MULTIPAGE), parse_token("w200-p20.jpg"), LIMITS)


@pytest.fixture
async def patient_pool() -> AsyncIterator[ProcessPool]:
    """A death is told from a deadline by the time since submission, and a retry's fresh worker
    imports this module again (for _die): on a busy 2-core machine, longer than TIMEOUT_S."""
    pool = ProcessPool(2, 10 * TIMEOUT_S, render.configure, (1,))
    yield pool
    pool.close()


async def test_a_dying_worker_fails_its_own_task_only(patient_pool: ProcessPool) -> None:
    pool = patient_pool
    # Both workers up, with this module imported (for _die), first.
    await asyncio.gather(*(pool.run(_slow, 0) for _ in range(2)))
    neighbour = asyncio.ensure_future(pool.run(_slow, 0.5))
    await asyncio.sleep(0.1)  # the neighbour is running in the other worker
    with pytest.raises(Undecodable, match=r"crashed its decoder"):
        await pool.run(_die)
    assert await neighbour != os.getpid()
    pids = await asyncio.gather(*(pool.run(_slow, 0.2) for _ in range(2)))
    assert len(set(pids)) == 2  # two live workers again: the dead one was replaced


async def test_a_worker_killed_while_idle_is_replaced_unnoticed(pool: ProcessPool) -> None:
    pids = set(await asyncio.gather(*(pool.run(_slow, 0) for _ in range(2))))
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    again = set(await asyncio.gather(*(pool.run(_slow, 0) for _ in range(2))))
    assert len(again) == 2
    assert not again & pids


async def test_a_task_past_its_deadline_is_stopped(pool: ProcessPool) -> None:
    started = time.monotonic()
    with pytest.raises(OverLimit, match=r"longer than 1 s"):
        await pool.run(_slow, 30)
    assert time.monotonic() - started < TIMEOUT_S + 2
    assert await pool.run(_slow, 0) != os.getpid()


async def test_a_caller_that_gives_up_leaves_the_worker_busy_until_done() -> None:
    pool = ProcessPool(1, TIMEOUT_S, render.configure, (1,))
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pool.run(_slow, 0.5), 0.1)
        started = time.monotonic()
        await pool.run(_slow, 0)  # waits for the abandoned task to end, not beside it
        assert time.monotonic() - started > 0.2
    finally:
        pool.close()


def test_no_process_starts_before_the_first_task() -> None:
    """A server or batch that never sees a PDF must not pay for a process at start-up
    (multiprocessing's resource tracker included). A fresh interpreter, so no earlier test's
    processes are around."""
    script = """
import asyncio, os, pathlib
from imageserver import render
from imageserver.render.processes import ProcessPool

def children():
    me = os.getpid()
    stats = [p.read_text() for p in pathlib.Path("/proc").glob("[0-9]*/stat") if p.exists()]
    return sum(int(s.rsplit(")", 1)[1].split()[1]) == me for s in stats)

async def main():
    pool = ProcessPool(2, 5.0, render.configure, (1,))
    print(children())
    await pool.run(os.getpid)
    print(children())
    pool.close()

asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    before, after = map(int, done.stdout.split())
    assert before == 0
    assert after > 0
