"""Redis, for workers on several machines: saq's RedisQueue, plus `claim`, fetch slots and
group proxies.

`claim` is saq's dequeue without the wait: the head of the queue's `queued` list moves to its
`active` list (saq's BLMOVE, unblocked), marked active in the same script.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from redis import asyncio as aioredis
from saq import Job, Status
from saq.queue.redis import RedisQueue
from saq.utils import now

from ...metrics import JobRun
from . import RUN_MARK_TTL_S, ClaimingQueue, Run
from .redis_uploads import RedisUploads

SLOTS = "imageserver:slots:"
INSTANCE = "imageserver:instance:"  # one key per process's heartbeat, expiring by itself
# ... and their index, scored by expiry: listing needs no SCAN, expired members are trimmed
INSTANCES = "imageserver:instances"
# Finished runs (ClaimingQueue.record_run): "queue\tkind\tstate\tle" -> count, and -> seconds
RUN_COUNTS = "imageserver:job_runs:count"
RUN_SECONDS = "imageserver:job_runs:seconds"
RUN_MARK = "imageserver:job_run:"  # + queue:mark, expiring: a run is counted once
_GLOB = re.compile(r"([*?\[\]\\])")

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
# A group's proxy: set by its first job that names one, never replaced; kept while it has jobs.
_GROUP_PROXY = """
if ARGV[1] ~= '' then
    redis.call('SET', KEYS[1], ARGV[1], 'NX')
end
local kept = redis.call('GET', KEYS[1])
if kept then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return kept
"""

# The claim of the job read at the head of `queued` (ARGV[1], as read): moved to `active` and
# stored as active (ARGV[2]) at once, unless another claim or a cancel came first.
_CLAIM = """
if redis.call('LINDEX', KEYS[1], 0) ~= KEYS[3] or redis.call('GET', KEYS[3]) ~= ARGV[1] then
    return 0
end
redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
redis.call('SET', KEYS[3], ARGV[2], 'KEEPTTL')
return 1
"""
# A finished job's record is deleted; one that is not finished (a retry came first) is left alone.
_REMOVE = """
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local status = cjson.decode(stored)['status']
if status == 'complete' or status == 'failed' or status == 'aborted' then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# A run counted with its mark, unless marked already (ClaimingQueue.record_run).
_RECORD_RUN = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then
    redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
    redis.call('HINCRBYFLOAT', KEYS[3], ARGV[1], ARGV[2])
end
return 0
"""


class ClaimingRedisQueue(RedisQueue, ClaimingQueue):
    def __init__(self, redis: Any, name: str, wakeup: asyncio.Event) -> None:
        super().__init__(redis, name=name)
        self.wakeup = wakeup
        self._claim = redis.register_script(_CLAIM)

    async def claim(self) -> Job | None:
        """Active as it enters `active`: saq's sweep takes a job there whose status is not active
        for one a dead worker dequeued, and aborted jobs a worker had just claimed (saq's own
        dequeue writes the status a moment later). `started` and `touched` as SQLite's claim."""
        while (job_id := await self.redis.lindex(self._queued, 0)) is not None:
            stored = await self.redis.get(job_id)
            job = self.deserialize(stored)
            if job is None:  # its record is gone (expired): nothing to run
                await self.redis.lrem(self._queued, 1, job_id)
                continue
            job.status = Status.ACTIVE
            job.started = job.touched = now()
            keys, args = [self._queued, self._active, job_id], [stored, self.serialize(job)]
            if await self._claim(keys=keys, args=args):
                return job
        return None

    async def _enqueue(self, job: Job) -> Job | None:
        enqueued = await super()._enqueue(job)
        self.wakeup.set()
        return enqueued

    async def _retry(self, job: Job, error: str | None) -> None:
        await super()._retry(job, error)
        self.wakeup.set()

    async def record_run(self, run: Run) -> None:
        keys = [RUN_MARK + self.name + ":" + run.mark, RUN_COUNTS, RUN_SECONDS]
        field = "\t".join((self.name, run.kind, run.state, run.le))
        await self.redis.eval(_RECORD_RUN, 3, *keys, field, run.seconds, RUN_MARK_TTL_S)

    async def remove(self, job_key: str) -> bool:
        """A finished job is only its key (saq's lists and sorted set hold unfinished ones)."""
        return bool(await self.redis.eval(_REMOVE, 1, self.job_id(job_key)))

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
        the TTL its finish gave it, where a plain SET would keep it for ever; and XX: a job
        removed meanwhile (DELETE /jobs/{id}) stays removed, as an UPDATE of SQLite's does."""
        if not status:
            stored = await self.job(job.key)
            status = stored.status if stored else None
        job.status = status or job.status
        await self.redis.set(job.id, self.serialize(job), keepttl=True, xx=True)
        await self.notify(job)


class RedisBackend:
    """One client (a connection pool) shared by every queue, slot and heartbeat."""

    def __init__(self, url: str) -> None:
        self.redis = aioredis.from_url(url)
        self.wakeup = asyncio.Event()
        self._queues: list[ClaimingRedisQueue] = []
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._group_proxy = self.redis.register_script(_GROUP_PROXY)
        uploads = RedisUploads(self.redis)
        self.record_upload = uploads.record
        self.recent_uploads = uploads.recent
        self.upload_namespaces = uploads.namespaces
        self.forget_upload = uploads.forget

    def queue(self, name: str) -> ClaimingRedisQueue:
        queue = ClaimingRedisQueue(self.redis, name, self.wakeup)
        self._queues.append(queue)
        return queue

    async def open(self) -> None:
        await self.redis.ping()

    async def job_runs(self) -> list[JobRun]:
        counts = await self.redis.hgetall(RUN_COUNTS)
        seconds = await self.redis.hgetall(RUN_SECONDS)
        return [
            _job_run(field, int(count), float(seconds.get(field, 0)))
            for field, count in counts.items()
        ]

    async def close(self) -> None:
        for queue in self._queues:
            await queue.disconnect()  # each closes its pub/sub; the shared pool closes once
        await self.redis.aclose()

    async def acquire(self, slot: str, limit: int, holder: str, ttl_s: float) -> bool:
        now = time.time()
        key = SLOTS + slot
        args = [now, limit, holder, now + ttl_s, int(ttl_s) + 1]
        return bool(await self._acquire(keys=[key], args=args))

    async def release(self, slot: str, holder: str) -> None:
        await self.redis.zrem(SLOTS + slot, holder)

    async def group_proxy(self, group: str, proxy: str | None, ttl_s: float) -> str | None:
        keys = [f"imageserver:group_proxy:{group}"]
        kept = await self._group_proxy(keys=keys, args=[proxy or "", int(ttl_s) + 1])
        return kept.decode() if kept else None

    async def held(self, prefix: str) -> dict[str, int]:
        """A SCAN over the slots: for the dashboard, not for hot paths."""
        now, counts = time.time(), {}
        async for key in self.redis.scan_iter(match=SLOTS + _GLOB.sub(r"\\\1", prefix) + "*"):
            held = await self.redis.zcount(key, f"({now}", "+inf")
            if held:
                counts[key.decode()[len(SLOTS) :]] = held
        return counts

    async def beat(self, instance: str, record: str, ttl_s: float) -> None:
        expire_at = time.time() + ttl_s
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(INSTANCE + instance, record, px=max(1, round(ttl_s * 1000)))
            pipe.zadd(INSTANCES, {instance: expire_at})
            pipe.zremrangebyscore(INSTANCES, "-inf", time.time())
            await pipe.execute()

    async def instances(self) -> list[str]:
        await self.redis.zremrangebyscore(INSTANCES, "-inf", time.time())
        ids = await self.redis.zrange(INSTANCES, 0, -1)
        records = await self.redis.mget([INSTANCE + i.decode() for i in ids]) if ids else []
        return [record.decode() for record in records if record is not None]

    async def forget(self, instance: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(INSTANCE + instance)
            pipe.zrem(INSTANCES, instance)
            await pipe.execute()


def _job_run(field: bytes, count: int, seconds: float) -> JobRun:
    queue, kind, state, le = field.decode().split("\t")
    return JobRun(queue, kind, state, le, count, seconds)
