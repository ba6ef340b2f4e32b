"""Polite fetching: at most N fetches at once per source host and per job group.

The counts live in the backend (leases that expire), so they hold across every worker process of
the machine with SQLite, and across machines with Redis. A lease outlives its fetch's timeout, so
it cannot expire while in use, and a worker killed while holding one frees it by expiring.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

from .backends import Backend
from .waiting import wait_event

POLL_S = 0.1  # how often a waiting fetch tries again (at once when this process frees a slot)
LEASE_MARGIN_S = 5.0

Slot = tuple[str, int]  # (name, limit)


class Limiter:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._freed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def holding(self, slots: list[Slot], holder: str, fetch_s: float) -> AsyncIterator[None]:
        """Waits until every slot has room for `holder`, holds them all, then frees them."""
        ttl_s = fetch_s + LEASE_MARGIN_S
        while not await self._take_all(slots, holder, ttl_s):
            self._freed.clear()
            await wait_event(self._freed, POLL_S * (0.5 + random.random()))
        try:
            yield
        finally:
            await asyncio.shield(self._release(slots, holder))

    async def _take_all(self, slots: list[Slot], holder: str, ttl_s: float) -> bool:
        """All or none: a fetch holding its host while it waits for its group would starve both."""
        taken: list[Slot] = []
        try:
            for name, limit in slots:
                if not await self.backend.acquire(name, limit, holder, ttl_s):
                    break
                taken.append((name, limit))
            else:
                return True
        except BaseException:
            await asyncio.shield(self._release(taken, holder))
            raise
        await self._release(taken, holder)
        return False

    async def _release(self, slots: list[Slot], holder: str) -> None:
        for name, _ in slots:
            await self.backend.release(name, holder)
        if slots:
            self._freed.set()
