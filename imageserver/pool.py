"""A bounded pool for CPU work: renders run off the event loop, and a full queue fails fast.

A semaphore-like count in front of a thread pool (libvips releases the GIL), as imgproxy does:
past `workers + queue` waiting renders we answer 503 instead of letting latency grow unbounded.
Work marked `isolated` (PDF pages) goes to worker processes instead, under the same count.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from .errors import Overloaded

if TYPE_CHECKING:
    from .render.processes import ProcessPool

T = TypeVar("T")


@dataclass(frozen=True)
class IdleHook:
    """What to run on a worker thread when the pool has had no work for `delay_s` seconds."""

    run: Callable[[], None]
    delay_s: float


class RenderPool:
    def __init__(
        self,
        workers: int,
        queue: int,
        processes: ProcessPool | None = None,
        on_idle: IdleHook | None = None,
    ) -> None:
        """Without `processes` isolated work runs in the threads too, one PDFium call at a time
        (render/pdf.py holds a lock), but a crash would take the process with it. `on_idle`
        runs on a worker thread once the pool has had no work for its delay."""
        self.workers = workers
        self.capacity = workers + queue
        self.pending = 0
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="render")
        self._processes = processes
        self._slots = asyncio.Semaphore(workers)
        self._on_idle = on_idle
        self._idle_timer: asyncio.TimerHandle | None = None

    @property
    def queued(self) -> int:
        return max(0, self.pending - self.workers)

    async def run(self, fn: Callable[..., T], *args: object, isolated: bool = False) -> T:
        async with self.slot(isolated=isolated):
            return await self.execute(fn, *args, isolated=isolated)

    @contextlib.asynccontextmanager
    async def slot(self, *, isolated: bool = False) -> AsyncIterator[None]:
        """Admission, then a free worker, held while the caller reads its input and executes:
        only `workers` originals sit in memory for renders, however many requests wait, and
        work that holds a slot has a thread (none waits in the executor's queue). Isolated work
        waits for a worker process instead (render/processes.py queues it)."""
        async with self._admitted():
            if isolated and self._processes is not None:
                yield
                return
            async with self._slots:
                yield

    async def execute(self, fn: Callable[..., T], *args: object, isolated: bool = False) -> T:
        """Runs now, without admission: for callers inside `slot()`."""
        if isolated and self._processes is not None:
            return await self._processes.run(fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @contextlib.asynccontextmanager
    async def _admitted(self) -> AsyncIterator[None]:
        if self.pending >= self.capacity:
            raise Overloaded(f"{self.pending} renders in progress or waiting; try again shortly")
        self.pending += 1
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        try:
            yield
        finally:
            self.pending -= 1
            hook = self._on_idle
            if self.pending == 0 and hook is not None:
                loop = asyncio.get_running_loop()
                self._idle_timer = loop.call_later(hook.delay_s, self._idle, loop, hook)

    def _idle(self, loop: asyncio.AbstractEventLoop, hook: IdleHook) -> None:
        """Once per pause: the next work cancels a timer that has not fired yet."""
        self._idle_timer = None
        loop.run_in_executor(self._executor, hook.run)

    def close(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._processes is not None:
            self._processes.close()
