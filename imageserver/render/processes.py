"""Worker processes for decoders that must not run in the server's process (PDFium).

One single-process executor per worker. A worker that dies (a crash on a hostile file, the end of
its deadline, a kill from outside) breaks its executor (BrokenProcessPool): only that executor is
replaced, and only the task it was running is affected (tried once more, then refused). With one
executor for all workers, every task in flight would fail with it, and a hostile upload would
take its neighbours' renders down too.

Each task has a deadline that the worker enforces on itself: an interval timer raises SIGALRM,
whose default action ends the process, so no C call (PDFium parsing a page) can outlast it.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import signal
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from ..errors import ImageServerError, RenderTimeout, Undecodable

T = TypeVar("T")

# Workers fork from a server process started once, with the decoders already imported: a fresh
# process (after a death) is ready in milliseconds, and never inherits the event loop's threads.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["imageserver.render", "imageserver.render.pdf"])


class ProcessPool:
    def __init__(
        self,
        workers: int,
        timeout_s: float,
        initializer: Callable[..., None],
        initargs: tuple[Any, ...] = (),
    ) -> None:
        """Processes start on first use, so a server that never sees a PDF never starts one."""
        self.timeout_s = timeout_s
        self._new_executor = functools.partial(
            ProcessPoolExecutor,
            max_workers=1,
            mp_context=_CONTEXT,
            initializer=initializer,
            initargs=initargs,
        )
        self._executors: set[ProcessPoolExecutor] = set()
        # None: a worker not started yet. Even an idle executor costs a process at start-up
        # (multiprocessing's resource tracker), so each starts with its first task.
        self._idle: asyncio.Queue[ProcessPoolExecutor | None] = asyncio.Queue()
        for _ in range(workers):
            self._idle.put_nowait(None)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a free worker. A task whose worker dies is tried once more in a fresh
        one, since a worker killed from outside may die just before a task reaches it; dying
        again, or at its deadline, the task is refused."""
        try:
            return await self._once(fn, args)
        except _WorkerDied as died:
            if died.elapsed_s >= self.timeout_s:
                raise self._death(died.elapsed_s) from None
        try:
            return await self._once(fn, args)
        except _WorkerDied as died:
            raise self._death(died.elapsed_s) from None

    async def _once(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        executor = await self._idle.get() or self._start()
        started = time.monotonic()
        try:
            submitted = executor.submit(_with_deadline, self.timeout_s, fn, *args)
        except BrokenProcessPool:  # it already knows its worker died while idle
            self._idle.put_nowait(self._replace(executor))
            raise _WorkerDied(0.0) from None
        future = asyncio.wrap_future(submitted)
        future.add_done_callback(functools.partial(self._release, executor))
        try:
            # shielded: a caller that gives up does not free the worker before its task ends
            return await asyncio.shield(future)
        except BrokenProcessPool:
            raise _WorkerDied(time.monotonic() - started) from None

    def close(self) -> None:
        for executor in self._executors:
            executor.shutdown(wait=True, cancel_futures=True)

    def _release(self, executor: ProcessPoolExecutor, done: asyncio.Future[Any]) -> None:
        """The worker is free again or, if it died, its replacement is."""
        if not done.cancelled() and isinstance(done.exception(), BrokenProcessPool):
            executor = self._replace(executor)
        self._idle.put_nowait(executor)

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        broken.shutdown(wait=False)
        self._executors.discard(broken)
        return self._start()

    def _start(self) -> ProcessPoolExecutor:
        executor = self._new_executor()
        self._executors.add(executor)
        return executor

    def _death(self, elapsed_s: float) -> ImageServerError:
        """concurrent.futures does not say how a worker ended; the clock does: one ended by its
        deadline ran at least `timeout_s` since submission. (A crash later than that reads as
        the deadline: the file is refused either way.)"""
        if elapsed_s >= self.timeout_s:
            return RenderTimeout(f"rendering took longer than {self.timeout_s:g} s and was stopped")
        return Undecodable("the file crashed its decoder (the worker process died)")


class _WorkerDied(Exception):
    def __init__(self, elapsed_s: float) -> None:
        super().__init__(f"worker died after {elapsed_s:.3f} s")
        self.elapsed_s = elapsed_s


def _with_deadline(timeout_s: float, fn: Callable[..., T], *args: Any) -> T:
    """Runs in the worker: SIGALRM's default action ends the process at the deadline."""
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
