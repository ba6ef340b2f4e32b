"""Redis, for workers on several machines: saq's own RedisQueue, plus `claim` and fetch slots.

`claim` is saq's dequeue without the wait: LMOVE from the queue's `queued` list to its `active`
list (saq's BLMOVE, unblocked), then saq reads the job as its dequeue does.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from redis import asyncio as aioredis
from saq import Job, Status
from saq.queue.redis import RedisQueue

from . import ClaimingQueue

# Leases of a slot are members of a sorted set scored by their expiry; expired ones go first.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
    if redis.call('TTL', KEYS[1]) < tonumber(ARGV[5]) then
        redis.call('EXPIRE', KEYS[1], ARGV[5])
    end
    return 1
end
return 0
"""


class ClaimingRedisQueue(RedisQueue, ClaimingQueue):
    def __init__(self, redis: Any, name: str, wakeup: asyncio.Event) -> None:
        super().__init__(redis, name=name)
        self.wakeup = wakeup

    async def claim(self) -> Job | None:
        job_id = await self.redis.lmove(self._queued, self._active, "LEFT", "RIGHT")
        return None if job_id is None else await self._get_job_by_id(job_id)

    async def _enqueue(self, job: Job) -> Job | None:
        enqueued = await super()._enqueue(job)
        self.wakeup.set()
        return enqueued

    async def _retry(self, job: Job, error: str | None) -> None:
        await super()._retry(job, error)
        self.wakeup.set()

    async def abort(self, job: Job, error: str, ttl: float = 5) -> None:
        """saq's, and then a job waiting out a retry's delay (in neither list, so saq leaves it
        aborting for a worker that will never see it) is aborted here."""
        waiting = job.status in (Status.NEW, Status.QUEUED)
        await super().abort(job, error, ttl)
        if waiting and job.status is Status.ABORTING:
            await self.finish(job, Status.ABORTED, error=error)
            await self.redis.delete(job.abort_id)

    async def _update(self, job: Job, status: Status | None = None, **kwargs: Any) -> None:
        """saq's own, with KEEPTTL: a finished job updated later (its callback's delivery) keeps
        the TTL its finish gave it, where a plain SET would keep it for ever."""
        if not status:
            stored = await self.job(job.key)
            status = stored.status if stored else None
        job.status = status or job.status
        await self.redis.set(job.id, self.serialize(job), keepttl=True)
        await self.notify(job)


class RedisBackend:
    """One client (a connection pool) shared by every queue and slot."""

    def __init__(self, url: str) -> None:
        self.redis = aioredis.from_url(url)
        self.wakeup = asyncio.Event()
        self._queues: list[ClaimingRedisQueue] = []
        self._acquire = self.redis.register_script(_ACQUIRE)

    def queue(self, name: str) -> ClaimingRedisQueue:
        queue = ClaimingRedisQueue(self.redis, name, self.wakeup)
        self._queues.append(queue)
        return queue

    async def open(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        for queue in self._queues:
            await queue.disconnect()  # each closes its pub/sub; the shared pool closes once
        await self.redis.aclose()

    async def acquire(self, slot: str, limit: int, holder: str, ttl_s: float) -> bool:
        now = time.time()
        key = f"imageserver:slots:{slot}"
        args = [now, limit, holder, now + ttl_s, int(ttl_s) + 1]
        return bool(await self._acquire(keys=[key], args=args))

    async def release(self, slot: str, holder: str) -> None:
        await self.redis.zrem(f"imageserver:slots:{slot}", holder)
