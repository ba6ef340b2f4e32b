"""saq's Queue interface on SQLite: the embedded backend, `sqlite:///./data/jobs.db`.

Modelled on saq's own Postgres queue: one row per job holding saq's serialised `Job`, with the
columns that dequeue, counts and TTL sweeping need beside it. The `status` column is the truth;
the serialised job's copy is overridden with it on every read, as saq's Postgres queue does.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from saq import Job, Status
from saq.queue.base import logger
from saq.types import CountKind, DumpType, LoadType, QueueInfo, WorkerInfo
from saq.utils import now

from ...metrics import JobRun
from . import RUN_MARK_TTL_S, ClaimingQueue, Run, wait_for_claim
from .sqlite_store import SqliteStore, sqlite_path
from .sqlite_uploads import SqliteUploads

TERMINAL = ("complete", "failed", "aborted")
RUNNING = ("active", "aborting")
INCOMPLETE = ("new", "queued", "active", "aborting")
ALL_STATUSES = tuple(Status)
_BATCH = 500  # bound on the parameters of one IN (...)
_KEEP = object()  # _update: leave expire_at as it is


def _marks(values: tuple[str, ...] | list[str]) -> str:
    return ",".join("?" * len(values))


class SqliteQueue(ClaimingQueue):
    """One named queue; the queues of one backend share its `SqliteStore` (file and thread)."""

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SqliteQueue:
        return cls(SqliteStore(sqlite_path(url)), **kwargs)

    def __init__(
        self,
        store: SqliteStore,
        name: str = "default",
        dump: DumpType | None = None,
        load: LoadType | None = None,
        swept_error_message: str | None = None,
    ) -> None:
        super().__init__(name, dump, load, swept_error_message)
        self.store = store
        self.wakeup = store.wakeup

    def __repr__(self) -> str:
        return f"SqliteQueue<path={self.store.path!r}, name={self.name!r}>"

    async def connect(self) -> None:
        await self.store.open()
        await super().connect()

    async def disconnect(self) -> None:
        await self.store.close()

    async def info(self, jobs: bool = False, offset: int = 0, limit: int = 10) -> QueueInfo:
        rows = await self.store.read(
            lambda c: c.execute(
                "SELECT worker_id, info FROM saq_stats WHERE queue = ? AND expire_at > ?",
                (self.name, time.time()),
            ).fetchall()
        )
        queued, active, incomplete = [
            await self.count(kind) for kind in ("queued", "active", "incomplete")
        ]
        listed = await self._select(
            f"status IN ({_marks(INCOMPLETE)}) ORDER BY priority, scheduled LIMIT ? OFFSET ?",
            (*INCOMPLETE, limit, offset),
        )
        return {
            "workers": {worker_id: json.loads(info) for worker_id, info in rows},
            "name": self.name,
            "queued": queued,
            "active": active,
            "scheduled": incomplete - queued - active,
            "jobs": [job.to_dict() for job in listed] if jobs else [],
        }

    async def count(self, kind: CountKind) -> int:
        conditions: dict[str, tuple[str, tuple[Any, ...]]] = {
            "queued": ("status = 'queued' AND scheduled <= ?", (time.time(),)),
            "active": (f"status IN ({_marks(RUNNING)})", RUNNING),
            "incomplete": (f"status IN ({_marks(INCOMPLETE)})", INCOMPLETE),
        }
        if kind not in conditions:
            raise ValueError(f"Can't count unknown type {kind}")
        where, args = conditions[kind]
        sql = f"SELECT count(*) FROM saq_jobs WHERE queue = ? AND {where}"
        return await self.store.read(lambda c: c.execute(sql, (self.name, *args)).fetchone()[0])

    async def job(self, job_key: str) -> Job | None:
        found = await self._select("key = ?", (job_key,))
        return found[0] if found else None

    async def jobs(self, job_keys: Iterable[str]) -> list[Job | None]:
        keys = list(job_keys)
        found: dict[str, Job] = {}
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            found |= {j.key: j for j in await self._select(f"key IN ({_marks(batch)})", batch)}
        return [found.get(key) for key in keys]

    async def iter_jobs(
        self, statuses: Iterable[Status] = ALL_STATUSES, batch_size: int = 100
    ) -> AsyncIterator[Job]:
        values = [Status(s).value for s in statuses]
        last_key = ""
        while page := await self._select(
            f"status IN ({_marks(values)}) AND key > ? ORDER BY key LIMIT ?",
            (*values, last_key, batch_size),
        ):
            for job in page:
                yield job
            last_key = page[-1].key

    async def _select(self, where: str, args: Iterable[Any]) -> list[Job]:
        sql = f"SELECT job, status FROM saq_jobs WHERE queue = ? AND {where}"
        rows = await self.store.read(lambda c: c.execute(sql, (self.name, *args)).fetchall())
        return [job for job in (self.deserialize(*row) for row in rows) if job is not None]

    # saq's interface names the parameter `timeout`
    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:  # noqa: ASYNC109
        return await wait_for_claim(self.claim, self.wakeup, timeout, poll_interval)

    async def claim(self) -> Job | None:
        """The first due job by priority, then schedule, then arrival, made active at once.

        `started` and `touched` are set in the same write, so a sweep between this and the
        worker's own update never takes the job for one stuck since it was enqueued.
        """

        def take(conn: sqlite3.Connection) -> Job | None:
            row = conn.execute(
                "SELECT rowid, job FROM saq_jobs WHERE queue = ? AND status = 'queued'"
                " AND scheduled <= ? ORDER BY priority, scheduled, rowid LIMIT 1",
                (self.name, time.time()),
            ).fetchone()
            if row is None:
                return None
            job = self.deserialize(row[1], Status.ACTIVE)
            assert job is not None
            job.started = job.touched = now()
            conn.execute(
                "UPDATE saq_jobs SET status = 'active', job = ? WHERE rowid = ?",
                (self.serialize(job), row[0]),
            )
            return job

        return await self.store.write(take)

    async def _enqueue(self, job: Job) -> Job | None:
        """A key already queued or running is left alone (None); a finished one is enqueued anew."""
        row = (
            self.name,
            job.key,
            self.serialize(job),
            job.status.value,
            job.priority,
            job.scheduled or time.time(),
        )
        inserted = await self.store.write(
            lambda c: c.execute(
                "INSERT INTO saq_jobs VALUES (?, ?, ?, ?, ?, ?, NULL)"
                " ON CONFLICT (queue, key) DO UPDATE SET job = excluded.job,"
                " status = excluded.status, priority = excluded.priority,"
                f" scheduled = excluded.scheduled, expire_at = NULL"
                f" WHERE saq_jobs.status IN ({_marks(TERMINAL)}) RETURNING 1",
                (*row, *TERMINAL),
            ).fetchone(),
            durable=True,
        )
        if inserted is None:
            return None
        self.wakeup.set()
        logger.info("Enqueuing %s", job.info())
        return job

    async def _update(
        self, job: Job, status: Status | None = None, *, expire_at: Any = _KEEP, **_: Any
    ) -> None:
        """Without a status, the stored one stays: an abort requested meanwhile is not undone."""

        def change(conn: sqlite3.Connection) -> None:
            if status is None:
                stored = conn.execute(
                    "SELECT status FROM saq_jobs WHERE queue = ? AND key = ?", (self.name, job.key)
                ).fetchone()
                job.status = Status(stored[0]) if stored else job.status
            else:
                job.status = status
            sets, args = "job = ?, status = ?", [self.serialize(job), job.status.value]
            if expire_at is not _KEEP:
                sets, args = sets + ", expire_at = ?", [*args, expire_at]
            conn.execute(
                f"UPDATE saq_jobs SET {sets} WHERE queue = ? AND key = ?",
                (*args, self.name, job.key),
            )

        await self.store.write(change)

    async def _retry(self, job: Job, error: str | None) -> None:
        delay_s = job.next_retry_delay()
        scheduled = time.time() + delay_s
        if delay_s:
            job.scheduled = int(scheduled)
        await self._write_scheduled(job, scheduled)
        self.wakeup.set()

    async def _write_scheduled(self, job: Job, scheduled: float) -> None:
        args = (self.serialize(job), scheduled, self.name, job.key)
        await self.store.write(
            lambda c: c.execute(
                "UPDATE saq_jobs SET job = ?, status = 'queued', scheduled = ?, expire_at = NULL"
                " WHERE queue = ? AND key = ?",
                args,
            )
        )

    async def _finish(
        self, job: Job, status: Status, *, result: Any = None, error: str | None = None
    ) -> None:
        """Kept `job.ttl` seconds (0: for ever) for status lookups; a negative ttl deletes now."""
        if job.ttl >= 0:
            expire_at = time.time() + job.ttl if job.ttl > 0 else None
            await self._update(job, status, expire_at=expire_at)
            return
        await self.store.write(
            lambda c: c.execute(
                "DELETE FROM saq_jobs WHERE queue = ? AND key = ?", (self.name, job.key)
            )
        )

    async def remove(self, job_key: str) -> bool:
        """In one statement with its check, so a retry enqueued meanwhile is never deleted."""
        sql = f"DELETE FROM saq_jobs WHERE queue = ? AND key = ? AND status IN ({_marks(TERMINAL)})"
        args = (self.name, job_key, *TERMINAL)
        deleted = await self.store.write(lambda c: c.execute(sql, args).rowcount, durable=True)
        return deleted == 1

    async def abort(self, job: Job, error: str, ttl: float = 5) -> None:
        """A queued job is aborted at once; a running one is marked for its worker to cancel.

        One transaction decides, so a worker claiming the job meanwhile cannot be overwritten.
        """
        job.error = error
        aborted = await self.store.write(lambda c: self._abort_queued(c, job, error), durable=True)
        if aborted:
            self.aborted += 1
            return
        job.status = Status.ABORTING
        running = self.serialize(job)
        await self.store.write(
            lambda c: c.execute(
                "UPDATE saq_jobs SET status = 'aborting', job = ?"
                " WHERE queue = ? AND key = ? AND status = 'active'",
                (running, self.name, job.key),
            ),
            durable=True,
        )

    def _abort_queued(self, conn: sqlite3.Connection, job: Job, error: str) -> bool:
        queued = Job(**{**job.to_dict(), "queue": self})
        queued.status, queued.error, queued.completed = Status.ABORTED, error, now()
        cursor = conn.execute(
            "UPDATE saq_jobs SET status = 'aborted', job = ?, expire_at = ?"
            " WHERE queue = ? AND key = ? AND status IN ('new', 'queued')",
            (self.serialize(queued), _expiry(queued), self.name, job.key),
        )
        if cursor.rowcount:
            job.replace(queued)
        return cursor.rowcount == 1

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        """TTL first (finished jobs and worker stats past their time), then stuck jobs.

        A job is stuck when its heartbeat or timeout has passed (saq's `Job.stuck`): its worker
        died or hangs. It is marked aborting, its worker (if alive) gets `abort` seconds to
        cancel it, then it is retried, or aborted when out of attempts, as saq's queues do. A
        stuck job already aborting was cancelled by a client: it is aborted, not run again.
        """
        if not await self.store.take_lock(f"sweep:{self.name}", lock):
            return []
        await self.store.write(self._delete_expired)
        running = await self._select(f"status IN ({_marks(RUNNING)})", RUNNING)
        stuck = [job for job in running if job.stuck]
        for job in stuck:
            logger.info("Sweeping %s", job.info())
            if job.status is Status.ABORTING:
                await self.finish(job, Status.ABORTED, error=job.error)
            else:
                await self.abort(job, error=self.swept_error_message)
        stuck = [job for job in stuck if job.status is Status.ABORTING]
        await asyncio.sleep(abort if stuck else 0)
        for job in stuck:
            if job.retryable:
                await self.retry(job, error=self.swept_error_message)
            else:
                await self.finish(job, Status.ABORTED, error=self.swept_error_message)
        return [job.key for job in stuck]

    def _delete_expired(self, conn: sqlite3.Connection) -> None:
        now_s = time.time()
        conn.execute(
            f"DELETE FROM saq_jobs WHERE queue = ? AND status IN ({_marks(TERMINAL)})"
            " AND expire_at <= ?",
            (self.name, *TERMINAL, now_s),
        )
        conn.execute("DELETE FROM saq_stats WHERE expire_at <= ?", (now_s,))

    async def record_run(self, run: Run) -> None:
        """The mark and the count in one transaction: counted once, whoever finishes twice."""

        def count(conn: sqlite3.Connection) -> None:
            now_s = time.time()
            conn.execute("DELETE FROM job_run_marks WHERE expire_at <= ?", (now_s,))
            mark = (self.name, run.mark, now_s + RUN_MARK_TTL_S)
            if conn.execute("INSERT OR IGNORE INTO job_run_marks VALUES (?, ?, ?)", mark).rowcount:
                conn.execute(
                    "INSERT INTO job_runs VALUES (?, ?, ?, ?, 1, ?)"
                    " ON CONFLICT (queue, kind, state, le)"
                    " DO UPDATE SET count = count + 1, seconds = seconds + excluded.seconds",
                    (self.name, run.kind, run.state, run.le, run.seconds),
                )

        await self.store.write(count)

    async def write_worker_info(self, worker_id: str, info: WorkerInfo, ttl: int) -> None:
        row = (self.name, worker_id, json.dumps(info), time.time() + ttl)
        await self.store.write(
            lambda c: c.execute("INSERT OR REPLACE INTO saq_stats VALUES (?, ?, ?, ?)", row)
        )


def _expiry(job: Job) -> float | None:
    return time.time() + job.ttl if job.ttl > 0 else None


class SqliteBackend:
    """The queues, fetch slots, group proxies and heartbeats of one database file."""

    def __init__(self, url: str) -> None:
        self.store = SqliteStore(sqlite_path(url))
        self.wakeup = self.store.wakeup
        self.acquire = self.store.acquire
        self.release = self.store.release
        self.group_proxy = self.store.group_proxy
        uploads = SqliteUploads(self.store)
        self.record_upload = uploads.record
        self.recent_uploads = uploads.recent
        self.upload_namespaces = uploads.namespaces
        self.forget_upload = uploads.forget
        self.held = self.store.held
        self.beat = self.store.beat
        self.instances = self.store.instances
        self.forget = self.store.forget

    def queue(self, name: str) -> SqliteQueue:
        return SqliteQueue(self.store, name)

    async def job_runs(self) -> list[JobRun]:
        sql = "SELECT queue, kind, state, le, count, seconds FROM job_runs"
        rows = await self.store.read(lambda c: c.execute(sql).fetchall())
        return [JobRun(*row) for row in rows]

    async def open(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        await self.store.close()
