"""Queue backends behind one small protocol, chosen by URL and imported lazily.

`sqlite:///path/jobs.db` (embedded, one machine, several processes) and `redis://host:port/db`
(several machines). Each gives saq queues that can also *claim* a job without waiting, which is
what strict priority across queues needs, lease-based slots for the fetch limits, the
proxy each job group keeps, and the heartbeats of the processes (jobs/instances.py).
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlparse

from saq import Job, Queue, Status
from saq.utils import exponential_backoff

from ...settings import SettingsError
from ..waiting import wait_event

DEFAULT_POLL_S = 0.05  # how often an idle worker looks for jobs enqueued by another process


# Past this many doublings any first delay is over any cap; saq's backoff would go on to 2**1024,
# past a float, at the 1025th attempt of a job that retries for ever (job_max_attempts 0).
MAX_DOUBLINGS = 62


class CappedBackoffJob(Job):
    """saq's Job, whose backoff stops doubling once past its cap (`retry_backoff`, seconds)
    instead of raising OverflowError after 1024 attempts; the delays are saq's otherwise."""

    def next_retry_delay(self) -> float:
        if self.retry_backoff is False:
            return self.retry_delay
        cap = None if self.retry_backoff is True else float(self.retry_backoff)
        return exponential_backoff(min(self.attempts, MAX_DOUBLINGS), self.retry_delay, cap)


class ClaimingQueue(Queue):
    """A saq queue with `claim()`: dequeue now or return None, never wait; and `remove()`."""

    wakeup: asyncio.Event  # shared by the backend's queues, see `Backend.wakeup`

    @abstractmethod
    async def claim(self) -> Job | None: ...

    @abstractmethod
    async def remove(self, job_key: str) -> bool:
        """Deletes a finished job's record; False when it is not finished (a retry came first)
        or already gone."""

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
