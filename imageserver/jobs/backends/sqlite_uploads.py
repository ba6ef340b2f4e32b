"""Recent uploads in the jobs database (jobs/uploads.py): one row per original, the newest
`keep` per namespace. Its table is in sqlite_store.SCHEMA."""

from __future__ import annotations

import sqlite3
import time

from .sqlite_store import SqliteStore


class SqliteUploads:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    async def record(self, namespace: str, entry: str, record: str, keep: int) -> None:
        """One transaction: the row, then the namespace trimmed to its newest `keep` (an index
        walk of `keep` rows)."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO recent_uploads VALUES (?, ?, ?, ?)",
                (namespace, entry, record, time.time()),
            )
            conn.execute(
                "DELETE FROM recent_uploads WHERE namespace = ? AND entry NOT IN (SELECT entry"
                " FROM recent_uploads WHERE namespace = ? ORDER BY at DESC LIMIT ?)",
                (namespace, namespace, keep),
            )

        await self.store.write(write)

    async def recent(self, namespace: str | None, limit: int) -> list[str]:
        where, args = ("WHERE namespace = ?", (namespace,)) if namespace else ("", ())
        sql = f"SELECT record FROM recent_uploads {where} ORDER BY at DESC LIMIT ?"
        rows = await self.store.read(lambda c: c.execute(sql, (*args, limit)).fetchall())
        return [record for (record,) in rows]

    async def namespaces(self) -> list[str]:
        rows = await self.store.read(
            lambda c: c.execute("SELECT DISTINCT namespace FROM recent_uploads").fetchall()
        )
        return [namespace for (namespace,) in rows]

    async def forget(self, namespace: str, entry: str) -> None:
        await self.store.write(
            lambda c: c.execute(
                "DELETE FROM recent_uploads WHERE namespace = ? AND entry = ?", (namespace, entry)
            )
        )
