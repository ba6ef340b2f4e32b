"""Metrics across serving processes (`serve --processes N`): any process's /metrics is the
whole server's. Each process writes a snapshot of its counts into a directory the processes
share, every `PUBLISH_S` and as it stops; a scrape adds its own live counts to the others'.

A process restarted in a dead one's place (the same index) takes up its last counts, so the
server's counters never step back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from ..metrics import Metrics, Snapshot

PUBLISH_S = 1.0  # how stale a sibling's counts may be in a scrape


@dataclass(frozen=True)
class Siblings:
    directory: Path
    index: int  # this process's number among them, 0 to N-1

    def publish(self, metrics: Metrics) -> None:
        """Atomic: a scrape reads the whole previous snapshot or the whole new one."""
        temporary = self.directory / f".{self.index}.json"
        temporary.write_text(json.dumps(metrics.snapshot()))
        os.replace(temporary, self._file(self.index))

    def others(self) -> list[Snapshot]:
        found = []
        for path in self.directory.glob("[0-9]*.json"):
            if path != self._file(self.index):
                try:
                    found.append(json.loads(path.read_text()))
                except (OSError, ValueError):  # removed or replaced while listed: next scrape
                    continue
        return found

    def take_over(self, metrics: Metrics) -> None:
        """The counts this index's previous process published, if there was one."""
        try:
            metrics.restore(json.loads(self._file(self.index).read_text()))
        except FileNotFoundError:
            return

    def _file(self, index: int) -> Path:
        return self.directory / f"{index}.json"


@contextlib.asynccontextmanager
async def publishing(siblings: Siblings, metrics: Metrics) -> AsyncIterator[None]:
    """For the app's cleanup context: publishes while the process serves, and once at the end."""
    siblings.take_over(metrics)

    async def loop() -> None:
        while True:
            await asyncio.to_thread(siblings.publish, metrics)
            await asyncio.sleep(PUBLISH_S)

    task = asyncio.ensure_future(loop())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    siblings.publish(metrics)
