"""Queue backends behind one small protocol, chosen by URL and imported lazily.

`sqlite:///path/jobs.db` (embedded, one machine, several processes) and `redis://host:port/db`
(several machines). Each gives saq queues that can also *claim* a job without waiting, which is
what strict priority across queues needs, lease-based slots for the fetch limits, the
proxy each job group keeps, and the heartbeats of the processes (jobs/instances.py).
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

from saq import Job, Queue, Status

from ...metrics import JobRun, job_run_bucket
from ...settings import SettingsError
from ..retrying import policy_of
from ..views import state_of
from ..waiting import wait_event

log = logging.getLogger(__name__)
DEFAULT_POLL_S = 0.05  # how often an idle worker looks for jobs enqueued by another process
# How long a recorded run's mark is kept: saq finishes a cancelled job twice within seconds.
RUN_MARK_TTL_S = 3600


class CappedBackoffJob(Job):
    """saq's Job, whose waits between tries are the retry rule's (retries.py): doubling to a cap,
    with full jitter, where saq's own raise OverflowError after 1024 tries of a job that retries
    for ever."""

    def next_retry_delay(self) -> float:
        return policy_of(self).delay_s(self.attempts)


@dataclass(frozen=True)
class Run:
    """One finished attempt of a job, as /metrics counts it."""

    mark: str  # the job and the attempt's start: the same run finished twice has one mark
    kind: str
    state: str
    seconds: float

    @classmethod
    def of(cls, job: Job) -> Run:
        seconds = (job.completed - job.started) / 1000  # saq's epoch milliseconds
        return cls(f"{job.key}:{job.started}", job.function, state_of(job).value, seconds)

    @property
    def le(self) -> str:
        return job_run_bucket(self.seconds)


class ClaimingQueue(Queue):
    """A saq queue with `claim()`: dequeue now or return None, never wait; and `remove()`."""

    wakeup: asyncio.Event  # shared by the backend's queues, see `Backend.wakeup`

    @abstractmethod
    async def claim(self) -> Job | None: ...

    @abstractmethod
    async def remove(self, job_key: str) -> bool:
        """Deletes a finished job's record; False when it is not finished (a retry came first)
        or already gone."""

    @abstractmethod
    async def record_run(self, run: Run) -> None:
        """Counts `run` in its bucket, once: saq finishes a job cancelled while running twice
        (its worker, and the abort), so a run already marked (`run.mark`) is not counted again."""

    async def finish(
        self,
        job: Job,
        status: Status,
        *,
        result: Any = None,
        error: str | None = None,
        **kwargs: Any,
    ) -> None:
        """saq's, and the run recorded in the backend when this attempt ran (a retry resets
        `started`; a job cancelled while queued has none): every worker's, for /metrics. A
        failed record is logged, never the job's outcome."""
        await super().finish(job, status, result=result, error=error, **kwargs)
        if not job.started:
            return
        try:
            await self.record_run(Run.of(job))
        except Exception:
            log.warning("job %s: its run was not recorded for /metrics", job.key, exc_info=True)

    def deserialize(self, payload: Any, status: Status | str | None = None) -> Job | None:
        """saq's, as a CappedBackoffJob: every job a worker runs, retries or sweeps is read here.
        The classes differ only in that method, so the instance changes class in place."""
        job = super().deserialize(payload, status)
        if job is not None:
            job.__class__ = CappedBackoffJob
        return job


class Backend(Protocol):
    """One connection to a store of jobs, shared by its queues and its slots."""

    wakeup: asyncio.Event  # set when this process enqueues: idle workers look at once

    def queue(self, name: str) -> ClaimingQueue: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def acquire(self, slot: str, limit: int, holder: str, ttl_s: float) -> bool:
        """Takes one of `limit` leases on `slot` for `ttl_s`; False when all are taken."""
        ...

    async def release(self, slot: str, holder: str) -> None: ...

    async def group_proxy(self, group: str, proxy: str | None, ttl_s: float) -> str | None:
        """The proxy `group` keeps: the first one given (`proxy`, when it has none yet), for
        `ttl_s` after the group's last job; None while it has none."""
        ...

    async def held(self, prefix: str) -> dict[str, int]:
        """Leases held now per slot whose name starts with `prefix` (slots none holds: absent)."""
        ...

    async def beat(self, instance: str, record: str, ttl_s: float) -> None:
        """Stores a process's heartbeat (`record`, JSON) for `ttl_s`, replacing its last one."""
        ...

    async def instances(self) -> list[str]:
        """The heartbeat records not yet expired, in no particular order."""
        ...

    async def forget(self, instance: str) -> None:
        """Deletes a heartbeat record: its process stops."""
        ...

    async def record_upload(self, namespace: str, entry: str, record: str, keep: int) -> None:
        """Keeps `record` (JSON) as `namespace`'s newest upload, replacing `entry`'s last one;
        the namespace keeps its newest `keep` (jobs/uploads.py)."""
        ...

    async def recent_uploads(self, namespace: str | None, limit: int) -> list[str]:
        """The newest records first, at most `limit`; of every namespace when None."""
        ...

    async def upload_namespaces(self) -> list[str]:
        """The namespaces that have recent uploads."""
        ...

    async def forget_upload(self, namespace: str, entry: str) -> None:
        """Drops `entry` from the recent uploads: its original was deleted."""
        ...

    async def job_runs(self) -> list[JobRun]:
        """The finished runs the queues recorded (`ClaimingQueue.record_run`), per bucket."""
        ...


def open_backend(url: str) -> Backend:
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        from .sqlite import SqliteBackend

        return SqliteBackend(url)
    if scheme in ("redis", "rediss"):
        from .redis import RedisBackend

        return RedisBackend(url)
    raise SettingsError(f"jobs_url: expected sqlite:///path or redis://host:port/db, got {url!r}")


async def wait_for_claim(
    claim: Callable[[], Awaitable[Job | None]],
    wakeup: asyncio.Event,
    timeout_s: float = 0.0,
    poll_s: float = 0.0,
) -> Job | None:
    """saq's dequeue contract on top of `claim`: wait up to `timeout_s` (0: for ever).

    Woken at once by an enqueue in this process, else every `poll_s` for other processes'.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s if timeout_s > 0 else None
    poll_s = poll_s or DEFAULT_POLL_S
    while True:
        wakeup.clear()
        job = await claim()
        if job is not None:
            return job
        wait_s = poll_s if deadline is None else min(poll_s, deadline - loop.time())
        if wait_s <= 0:
            return None
        await wait_event(wakeup, wait_s)
