"""Recent uploads in Redis (jobs/uploads.py): per namespace, a sorted set of entries scored by
time and a hash of their records, trimmed to the newest `keep` in the same script; and the set
of namespaces that have any."""

from __future__ import annotations

import time
from typing import Any

PREFIX = "imageserver:uploads:"
NAMESPACES = PREFIX + "namespaces"

# KEYS: the namespace's sorted set, its hash, the namespaces' set.
# ARGV: entry, record, time, keep, namespace.
_RECORD = """
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[5])
local past = -(tonumber(ARGV[4]) + 1)
local old = redis.call('ZRANGE', KEYS[1], 0, past)
if #old > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[1], 0, past)
    redis.call('HDEL', KEYS[2], unpack(old))
end
"""


class RedisUploads:
    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._record = redis.register_script(_RECORD)

    async def record(self, namespace: str, entry: str, record: str, keep: int) -> None:
        keys = [*_keys(namespace), NAMESPACES]
        await self._record(keys=keys, args=[entry, record, time.time(), keep, namespace])

    async def recent(self, namespace: str | None, limit: int) -> list[str]:
        """Every namespace's newest `limit`, merged by time: at most one read per namespace."""
        namespaces = [namespace] if namespace else await self.namespaces()
        scored: list[tuple[float, str]] = []
        for name in namespaces:
            scored += await self._newest(name, limit)
        scored.sort(key=lambda item: item[0], reverse=True)
        return [record for _, record in scored[:limit]]

    async def namespaces(self) -> list[str]:
        return [name.decode() for name in await self.redis.smembers(NAMESPACES)]

    async def forget(self, namespace: str, entry: str) -> None:
        ordered, records = _keys(namespace)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(ordered, entry)
            pipe.hdel(records, entry)
            pipe.zcard(ordered)
            *_, left = await pipe.execute()
        if not left:
            await self.redis.srem(NAMESPACES, namespace)

    async def _newest(self, namespace: str, limit: int) -> list[tuple[float, str]]:
        ordered, records = _keys(namespace)
        entries = await self.redis.zrevrange(ordered, 0, limit - 1, withscores=True)
        if not entries:
            return []
        found = await self.redis.hmget(records, [entry for entry, _ in entries])
        return [
            (score, record.decode())
            for (_, score), record in zip(entries, found, strict=True)
            if record is not None
        ]


def _keys(namespace: str) -> tuple[str, str]:
    return f"{PREFIX}{namespace}:order", f"{PREFIX}{namespace}:records"
