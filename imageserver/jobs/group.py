"""Several queues served by one saq Worker in strict order of priority.

A saq Worker takes one queue. `QueueGroup` stands in for it with the few methods the Worker calls
(`dequeue`, `schedule`, `sweep`, `worker_info`, `jobs`, `finish_abort`, `name`); everything a job
does afterwards (update, retry, finish) goes to the queue it came from, which `job.queue` is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from saq import Job
from saq.types import WorkerInfo

from .backends import ClaimingQueue, wait_for_claim

# How long a sweep lets a live worker cancel a stuck job before running it again: the Worker
# looks for aborted jobs every second (its `abort` timer).
SWEEP_ABORT_WAIT_S = 2.0


class QueueGroup:
    def __init__(self, queues: list[ClaimingQueue]) -> None:
        self.queues = queues
        self.name = "+".join(queue.name for queue in queues)
        self._wakeup = queues[0].wakeup
        self._claiming = asyncio.Lock()

    def __repr__(self) -> str:
        return f"QueueGroup<{', '.join(repr(queue) for queue in self.queues)}>"

    # saq's interface names the parameter `timeout`
    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:  # noqa: ASYNC109
        """One of the Worker's tasks looks at a time; the others wait for their turn here."""
        async with self._claiming:
            return await wait_for_claim(self._claim_first, self._wakeup, timeout, poll_interval)

    async def _claim_first(self) -> Job | None:
        """The first queue with a due job wins: an urgent job always starts before a normal one."""
        for queue in self.queues:
            job = await queue.claim()
            if job is not None:
                return job
        return None

    async def schedule(self, lock: int = 1) -> list[str]:
        return [key for queue in self.queues for key in await queue.schedule(lock)]

    async def sweep(self, lock: int = 60) -> list[str]:
        swept = await asyncio.gather(*(q.sweep(lock, SWEEP_ABORT_WAIT_S) for q in self.queues))
        return [key for keys in swept for key in keys]

    async def worker_info(
        self, worker_id: str, queue_key: str, metadata: dict[str, Any] | None = None, ttl: int = 60
    ) -> WorkerInfo:
        """Written to every queue, so each one's info lists the workers that serve it."""
        infos = [await q.worker_info(worker_id, q.name, metadata, ttl) for q in self.queues]
        return infos[0]

    async def jobs(self, job_keys: Iterable[str]) -> list[Job | None]:
        keys = list(job_keys)
        found = await asyncio.gather(*(queue.jobs(keys) for queue in self.queues))
        return [next((job for job in column if job), None) for column in zip(*found, strict=True)]

    async def finish_abort(self, job: Job) -> None:
        await job.get_queue().finish_abort(job)
