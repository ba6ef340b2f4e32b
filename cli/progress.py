"""The progress bar of `process` on stderr: done and total, rate, ETA. Drawn only on a terminal.

The total comes from a second walk in a daemon thread, so the batch starts at once and never
holds the list of files; until that count is done (or for paths on stdin) there is no ETA.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TextIO

from imageserver.batch import STDIN, expand

_REDRAW_S = 0.1
_BAR_WIDTH = 24
_CLEAR_LINE = "\r\x1b[K"


class ProgressBar:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.total: int | None = None  # set once by the counting thread
        self.started = time.monotonic()
        self._drawn_at = 0.0

    def count_in_background(self, paths: Sequence[str]) -> None:
        """A list on stdin cannot be counted without consuming it: no total then."""
        if STDIN not in paths:
            threading.Thread(target=self._count, args=(paths,), name="count", daemon=True).start()

    def _count(self, paths: Sequence[str]) -> None:
        self.total = sum(1 for path in paths for _ in expand(path))

    def draw(self, done: int, failed: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._drawn_at >= _REDRAW_S:
            self._drawn_at = now
            self.stream.write(_CLEAR_LINE + self.line(done, failed, now - self.started))
            self.stream.flush()

    def clear(self) -> None:
        self.stream.write(_CLEAR_LINE)
        self.stream.flush()

    def line(self, done: int, failed: int, elapsed_s: float) -> str:
        rate = done / elapsed_s if elapsed_s > 0 else 0.0
        parts = [f"{done} files", f"{rate:.1f} files/s"]
        total = self.total
        if total:
            filled = min(_BAR_WIDTH, _BAR_WIDTH * done // total)
            bar = "[" + "#" * filled + "." * (_BAR_WIDTH - filled) + "]"
            parts[0] = f"{bar} {done}/{total} {100 * done // total}%"
            if rate > 0:
                parts.append("ETA " + duration(max(0, total - done) / rate))
        if failed:
            parts.append(f"{failed} failed")
        return "  ".join(parts)


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
