"""The jobs database file: one connection per process, used from one thread, WAL and fsync.

SQLite serialises writers across processes with its file lock (`BEGIN IMMEDIATE` waits up to the
busy timeout), so any number of servers and workers on one machine can share the file. A job's
acceptance (and a cancel) commits with `synchronous=FULL`: it survives a crash of the process and
of the machine. Later writes (claims, progress, finish) commit with NORMAL, which WAL makes safe
against a process crash; a power cut may undo the last of them, which runs the job again (jobs are
idempotent), at half the cost per job of syncing every write.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from urllib.parse import urlparse

T = TypeVar("T")
BUSY_TIMEOUT_S = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS saq_jobs (
    queue TEXT NOT NULL,
    key TEXT NOT NULL,
    job TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    scheduled REAL NOT NULL,
    expire_at REAL,
    PRIMARY KEY (queue, key)
);
CREATE INDEX IF NOT EXISTS saq_jobs_dequeue ON saq_jobs (queue, status, priority, scheduled);
CREATE INDEX IF NOT EXISTS saq_jobs_expire ON saq_jobs (queue, expire_at);
CREATE TABLE IF NOT EXISTS saq_stats (
    queue TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    info TEXT NOT NULL,
    expire_at REAL NOT NULL,
    PRIMARY KEY (queue, worker_id)
);
CREATE TABLE IF NOT EXISTS saq_locks (name TEXT PRIMARY KEY, expire_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fetch_slots (
    slot TEXT NOT NULL,
    holder TEXT NOT NULL,
    expire_at REAL NOT NULL,
    PRIMARY KEY (slot, holder)
);
CREATE TABLE IF NOT EXISTS group_proxies (
    grp TEXT PRIMARY KEY,
    proxy TEXT NOT NULL,
    expire_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS recent_uploads (
    namespace TEXT NOT NULL,
    entry TEXT NOT NULL,
    record TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (namespace, entry)
);
CREATE INDEX IF NOT EXISTS recent_uploads_at ON recent_uploads (namespace, at);
CREATE TABLE IF NOT EXISTS job_runs (
    queue TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    le TEXT NOT NULL,
    count INTEGER NOT NULL,
    seconds REAL NOT NULL,
    PRIMARY KEY (queue, kind, state, le)
);
CREATE TABLE IF NOT EXISTS job_run_marks (
    queue TEXT NOT NULL,
    mark TEXT NOT NULL,
    expire_at REAL NOT NULL,
    PRIMARY KEY (queue, mark)
);
CREATE INDEX IF NOT EXISTS job_run_marks_expire ON job_run_marks (expire_at);
CREATE TABLE IF NOT EXISTS instances (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    expire_at REAL NOT NULL
);
"""


def sqlite_path(url: str) -> str:
    """`sqlite:///relative/jobs.db` or `sqlite:////absolute/jobs.db`, as SQLAlchemy spells them."""
    path = urlparse(url).path
    return path[1:] if path.startswith("/") else path


class SqliteStore:
    """The connection and its thread; queues and slots of one backend share it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.wakeup = asyncio.Event()
        self._conn: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def open(self) -> None:
        if self._conn is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="jobs-sqlite")
            loop = asyncio.get_running_loop()
            self._conn = await loop.run_in_executor(self._thread, self._connect)

    def _connect(self) -> sqlite3.Connection:
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
        return conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, conn.close)
            self._thread.shutdown(wait=False)

    async def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(query)

    async def write(self, change: Callable[[sqlite3.Connection], T], *, durable: bool = False) -> T:
        """One transaction; IMMEDIATE takes the write lock first, so it never has to upgrade.

        `durable`: synced to disk before it returns (the WAL up to it, so all before it too).
        """

        def transaction(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = change(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        def synced(conn: sqlite3.Connection) -> T:
            conn.execute("PRAGMA synchronous=FULL")
            try:
                return transaction(conn)
            finally:
                conn.execute("PRAGMA synchronous=NORMAL")

        return await self._run(synced if durable else transaction)

    async def _run(self, call: Callable[[sqlite3.Connection], T]) -> T:
        conn, thread = self._conn, self._thread
        if conn is None or thread is None:
            raise RuntimeError("the jobs database is not open")
        return await asyncio.get_running_loop().run_in_executor(thread, call, conn)

    async def take_lock(self, name: str, ttl_s: float) -> bool:
        """A lock that expires by itself: a process killed while holding it cannot wedge others."""

        def take(conn: sqlite3.Connection) -> bool:
            now = time.time()
            cursor = conn.execute(
                "INSERT INTO saq_locks VALUES (?, ?) ON CONFLICT (name) DO UPDATE"
                " SET expire_at = excluded.expire_at WHERE saq_locks.expire_at <= ?",
                (name, now + ttl_s, now),
            )
            return cursor.rowcount == 1

        return await self.write(take)

    async def acquire(self, slot: str, limit: int, holder: str, ttl_s: float) -> bool:
        def take(conn: sqlite3.Connection) -> bool:
            now = time.time()
            conn.execute("DELETE FROM fetch_slots WHERE slot = ? AND expire_at <= ?", (slot, now))
            (held,) = conn.execute(
                "SELECT count(*) FROM fetch_slots WHERE slot = ? AND holder != ?", (slot, holder)
            ).fetchone()
            if held >= limit:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO fetch_slots VALUES (?, ?, ?)", (slot, holder, now + ttl_s)
            )
            return True

        return await self.write(take)

    async def release(self, slot: str, holder: str) -> None:
        def drop(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM fetch_slots WHERE slot = ? AND holder = ?", (slot, holder))

        await self.write(drop)

    async def group_proxy(self, group: str, proxy: str | None, ttl_s: float) -> str | None:
        def keep(conn: sqlite3.Connection) -> str | None:
            now = time.time()
            conn.execute("DELETE FROM group_proxies WHERE grp = ? AND expire_at <= ?", (group, now))
            if proxy:
                conn.execute(
                    "INSERT OR IGNORE INTO group_proxies VALUES (?, ?, ?)", (group, proxy, now)
                )
            conn.execute(
                "UPDATE group_proxies SET expire_at = ? WHERE grp = ?", (now + ttl_s, group)
            )
            row = conn.execute("SELECT proxy FROM group_proxies WHERE grp = ?", (group,)).fetchone()
            return row[0] if row else None

        return await self.write(keep)

    async def held(self, prefix: str) -> dict[str, int]:
        """Expired leases are not counted (the next acquire of their slot deletes them)."""
        rows = await self.read(
            lambda c: c.execute(
                "SELECT slot, count(*) FROM fetch_slots WHERE substr(slot, 1, ?) = ?"
                " AND expire_at > ? GROUP BY slot",
                (len(prefix), prefix, time.time()),
            ).fetchall()
        )
        return dict(rows)

    async def beat(self, instance: str, record: str, ttl_s: float) -> None:
        """Also sweeps the records past their TTL: processes killed without a goodbye."""

        def write(conn: sqlite3.Connection) -> None:
            now = time.time()
            conn.execute("DELETE FROM instances WHERE expire_at <= ?", (now,))
            conn.execute(
                "INSERT OR REPLACE INTO instances VALUES (?, ?, ?)", (instance, record, now + ttl_s)
            )

        await self.write(write)

    async def instances(self) -> list[str]:
        rows = await self.read(
            lambda c: c.execute(
                "SELECT record FROM instances WHERE expire_at > ?", (time.time(),)
            ).fetchall()
        )
        return [record for (record,) in rows]

    async def forget(self, instance: str) -> None:
        await self.write(lambda c: c.execute("DELETE FROM instances WHERE id = ?", (instance,)))
