"""A shutdown's cancel always reaches the workers' tasks.

saq stops a worker by cancelling its tasks and waiting for them: a task that loses its cancel
keeps polling, and the server's shutdown waits for it for ever. These pin the races that did that.
"""

from __future__ import annotations

import asyncio

import pytest
from saq import Job

from imageserver.jobs.backends import wait_for_claim
from imageserver.jobs.runner import heartbeat
from imageserver.jobs.waiting import wait_event


async def test_wait_event_says_whether_the_event_came_in_time() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 10) is True


async def nothing_to_claim() -> Job | None:
    return None


@pytest.mark.parametrize("turns", range(4))
async def test_a_cancel_as_a_wakeup_arrives_stops_the_wait_for_a_job(turns: int) -> None:
    """The wake-up (any enqueue or retry in the process) and the cancel meet `turns` loop turns
    apart: the wait either ended before the cancel, or ends with it."""
    wakeup = asyncio.Event()
    waiting = asyncio.create_task(wait_for_claim(nothing_to_claim, wakeup))
    await asyncio.sleep(0)
    wakeup.set()
    for _ in range(turns):
        await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.wait([waiting], timeout=2)
    assert waiting.cancelled()


async def test_a_cancel_while_the_heartbeat_stops_is_not_lost() -> None:
    """The job's task is cancelled just as its work ends, while the heartbeat is being stopped."""
    lived_on = asyncio.Event()

    async def work() -> None:
        async with heartbeat(Job(function="ingest", heartbeat=30)):
            asyncio.get_running_loop().call_soon(task.cancel)
        lived_on.set()

    task = asyncio.create_task(work())
    await asyncio.wait([task], timeout=2)
    assert task.cancelled()
    assert not lived_on.is_set()
