"""The job workers of one process: a saq Worker over the configured queues (in priority order),
and one over callbacks, so that slow callback receivers never hold up ingestion."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from saq import Queue, Worker

from ..services import Services
from .callbacks import CallbackFailed, CallbackSender
from .client import CALLBACK_FUNCTION, Jobs
from .group import QueueGroup
from .limits import Limiter
from .runner import JobFailed, Runner
from .tasks import KINDS

ABORT_CHECK_S = 1  # how often a worker looks for cancelled jobs among its running ones
WORKER_INFO_S = 10


class Workers:
    def __init__(self, jobs: Jobs, services: Services) -> None:
        config = jobs.config
        self.sender = CallbackSender(jobs, config)
        runner = Runner(jobs, services, Limiter(jobs.backend))
        kinds: list[tuple[str, Callable[..., Any]]] = [(name, runner.run) for name in KINDS]
        callbacks = [(CALLBACK_FUNCTION, self.sender.deliver)]
        concurrency, sweep_s = config.concurrency, max(1, config.heartbeat_s)
        self._workers = [
            _worker(QueueGroup(list(jobs.queues.values())), kinds, concurrency, sweep_s),
            _worker(QueueGroup([jobs.callbacks]), callbacks, concurrency, sweep_s),
        ]
        self._running: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        quiet_saq()
        self._running = [asyncio.create_task(worker.start()) for worker in self._workers]

    def running(self) -> int:
        """Jobs (callbacks included) running in this process now: its heartbeat's load."""
        return sum(len(worker.job_task_contexts) for worker in self._workers)

    async def stop(self) -> None:
        """Jobs still running are handed back to their queue (saq retries them), not lost."""
        for worker in self._workers:
            await worker.stop()
        await asyncio.gather(*self._running, return_exceptions=True)
        await self.sender.close()


def _worker(
    group: QueueGroup,
    functions: list[tuple[str, Callable[..., Any]]],
    concurrency: int,
    sweep_s: int,
) -> Worker:
    worker = Worker(
        cast(Queue, group),  # the Worker only calls what QueueGroup has (see group.py)
        functions,
        concurrency=concurrency,
        timers={
            "sweep": sweep_s,
            "abort": ABORT_CHECK_S,
            "schedule": 1,
            "worker_info": WORKER_INFO_S,
        },
    )
    worker.SIGNALS = []  # the process's signals are aiohttp's (serve) or the CLI's (worker)
    return worker


class _Expected(logging.Filter):
    """saq logs every failed attempt with a traceback (ours are expected, and logged in one
    line), and warns at every stop that its idle tasks had to be cancelled (they always do)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        idle_tasks = str(record.msg).startswith("Some tasks did not finish within the shutdown")
        return not (idle_tasks or isinstance(error, JobFailed | CallbackFailed))


def quiet_saq() -> None:
    """saq narrates every job at INFO; warnings and real errors are what an operator needs."""
    logger = logging.getLogger("saq")
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.WARNING)
    if not any(isinstance(f, _Expected) for f in logger.filters):
        logger.addFilter(_Expected())
