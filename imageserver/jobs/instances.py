"""Heartbeats of every server and worker process, kept in the job backend (SQLite or Redis), so
the dashboard lists the live instances of one deployment wherever they run.

Each process writes its record every `instance_heartbeat_s`; a record silent for STALE_BEATS
intervals is shown stale, one silent for SWEPT_BEATS is deleted; a graceful stop deletes its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from .. import __version__
from .backends import Backend

logger = logging.getLogger(__name__)
STALE_BEATS = 3  # a process that missed this many heartbeats is shown stale
SWEPT_BEATS = 10  # ... and this many: its record is deleted (its TTL)


@dataclass(frozen=True)
class Instance:
    """One process, as its last heartbeat described it. Times are epoch seconds."""

    id: str
    kind: str  # "server" or "worker"
    host: str
    pid: int
    version: str
    started_at: float
    last_seen: float
    interval_s: float  # its own heartbeat interval: whether it is stale is judged by it
    load: float  # the machine's 1-minute load average
    running: int | None = None  # jobs running in the process; None: it runs no workers
    port: int | None = None  # servers: the port they were told to listen on

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> Instance:
        return cls(**json.loads(text))

    def stale(self, now_s: float) -> bool:
        return now_s - self.last_seen > STALE_BEATS * self.interval_s

    def uptime_s(self, now_s: float) -> float:
        return max(0.0, now_s - self.started_at)


def describe(kind: str, interval_s: float, port: int | None = None) -> Instance:
    """This process, as of now: a fresh random id per call (one per Heartbeat)."""
    now_s = time.time()
    return Instance(
        id=uuid.uuid4().hex,
        kind=kind,
        host=socket.gethostname(),
        pid=os.getpid(),
        version=__version__,
        started_at=now_s,
        last_seen=now_s,
        interval_s=interval_s,
        load=_load(),
        port=port,
    )


def _load() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # not every platform can tell
        return 0.0


async def live_instances(backend: Backend) -> list[Instance]:
    """Every record not yet swept, oldest process first; stale ones included (`Instance.stale`)."""
    found = [Instance.from_json(text) for text in await backend.instances()]
    return sorted(found, key=lambda instance: (instance.started_at, instance.id))


class Heartbeat:
    """Writes this process's record now and every `interval_s` until `stop()`, which deletes it.

    `running`: how many jobs the process runs right now (its Workers), when it has any.
    """

    def __init__(
        self,
        backend: Backend,
        kind: str,
        interval_s: float,
        port: int | None = None,
        running: Callable[[], int] | None = None,
    ) -> None:
        self.backend = backend
        self.instance = describe(kind, interval_s, port)
        self._running = running
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.beat()  # listed as soon as the process is up, not one interval later
        self._task = asyncio.create_task(self._beating())

    async def beat(self) -> None:
        running = self._running() if self._running is not None else None
        self.instance = replace(self.instance, last_seen=time.time(), load=_load(), running=running)
        ttl_s = SWEPT_BEATS * self.instance.interval_s
        await self.backend.beat(self.instance.id, self.instance.to_json(), ttl_s)

    async def _beating(self) -> None:
        """A failed write (the backend down a moment) is tried again at the next beat: a process
        is not stopped because its heartbeat could not be written."""
        while True:
            await asyncio.sleep(self.instance.interval_s)
            try:
                await self.beat()
            except Exception as error:  # whatever the backend raised
                logger.warning("heartbeat not written: %s", error)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.backend.forget(self.instance.id)
        except Exception:  # the backend is down: its record is swept after SWEPT_BEATS
            logger.warning("heartbeat of %s not removed", self.instance.id, exc_info=True)
