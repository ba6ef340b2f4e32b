"""One original must not take the server: its render failures are remembered for a while, and
its document renders run a few at a time.

Without them, a heavy PDF page was an unauthenticated denial of service: every distinct width
asked re-rendered it until the page deadline (30 s) and failed again, and three such requests
held every PDF worker, stalling other documents for as long.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

from .errors import ImageServerError, RenderTimeout, Undecodable

K = TypeVar("K")
# What fails again at any size: the page outlasted its deadline, or broke its decoder. Limits of
# one output's size (pixels) are not remembered: a smaller output of the same page may pass.
REMEMBERED = (RenderTimeout, Undecodable)
MAX_REMEMBERED = 10_000


class FailureMemory(Generic[K]):
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._failures: OrderedDict[K, tuple[ImageServerError, float]] = OrderedDict()

    def check(self, key: K) -> None:
        """Raises the failure `key` met within the last `ttl_s`, without trying again."""
        found = self._failures.get(key)
        if found is None:
            return
        error, until = found
        if self._clock() >= until:
            del self._failures[key]
            return
        retry_in = round(until - self._clock())
        raise type(error)(
            f"{error.message} (again: tried within the last {self.ttl_s:g} s; "
            f"next try in {retry_in} s)",
            code=error.code,
        )

    def remember(self, key: K, error: BaseException) -> None:
        if self.ttl_s <= 0 or not isinstance(error, REMEMBERED):
            return
        self._failures[key] = (error, self._clock() + self.ttl_s)
        self._failures.move_to_end(key)
        while len(self._failures) > MAX_REMEMBERED:
            self._failures.popitem(last=False)


class PerKeyLimit(Generic[K]):
    """At most `limit` holders per key at once; the others wait their turn."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[K, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def holding(self, key: K) -> AsyncIterator[None]:
        semaphore, users = self._held.get(key, (asyncio.Semaphore(self.limit), 0))
        self._held[key] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._held[key]
            if users == 1:
                del self._held[key]
            else:
                self._held[key] = (semaphore, users - 1)
