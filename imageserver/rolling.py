"""Per-minute buckets over the last hour, for the dashboard's charts: counts by name, a latency
histogram and the deepest sampled queue, per minute. Pure: no I/O and no clock (callers pass
`now_s`), so rotation and percentiles are tested with plain numbers.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MINUTE_S = 60
WINDOW_MINUTES = 60
# Latencies from 0.5 ms to about 68 s, each bound 10% above the last: a percentile read from
# the histogram is within 10% of the true one, in fixed memory whatever the request rate.
LATENCY_BOUNDS_S = tuple(0.0005 * 1.1**i for i in range(125))


@dataclass
class Minute:
    """One minute's worth: `minute` is epoch seconds // 60."""

    minute: int
    counts: dict[str, int] = field(default_factory=dict)
    latencies: dict[int, int] = field(default_factory=dict)  # bucket index -> requests
    depth: float = 0.0  # the highest sample taken in the minute

    def merge(self, other: Minute) -> None:
        """Another process's same minute: counts and latencies add, depths (of separate pools)
        add up to the server's."""
        for name, n in other.counts.items():
            self.counts[name] = self.counts.get(name, 0) + n
        for index, n in other.latencies.items():
            self.latencies[index] = self.latencies.get(index, 0) + n
        self.depth += other.depth

    def to_json(self) -> list[Any]:
        return [self.minute, self.counts, sorted(self.latencies.items()), self.depth]

    @classmethod
    def from_json(cls, raw: list[Any]) -> Minute:
        minute, counts, latencies, depth = raw
        return cls(int(minute), dict(counts), {int(i): int(n) for i, n in latencies}, depth)


class Rolling:
    """The last `window_minutes` minutes; a minute older than that is dropped as a new one
    starts. Counting costs a dict update: it runs on every output request."""

    def __init__(self, window_minutes: int = WINDOW_MINUTES) -> None:
        self.window_minutes = window_minutes
        self._minutes: dict[int, Minute] = {}
        self._current: Minute | None = None

    def count(self, now_s: float, name: str, n: int = 1) -> None:
        counts = self._at(now_s).counts
        counts[name] = counts.get(name, 0) + n

    def observe(self, now_s: float, seconds: float) -> None:
        latencies = self._at(now_s).latencies
        index = bisect.bisect_left(LATENCY_BOUNDS_S, seconds)
        latencies[index] = latencies.get(index, 0) + 1

    def sample(self, now_s: float, depth: float) -> None:
        minute = self._at(now_s)
        minute.depth = max(minute.depth, depth)

    def window(self, now_s: float) -> list[Minute]:
        """Every minute of the window, oldest first, the current one last; empty ones too."""
        last = _minute_of(now_s)
        return [
            self._minutes.get(m) or Minute(m)
            for m in range(last - self.window_minutes + 1, last + 1)
        ]

    def merge(self, other: Rolling) -> None:
        for minute in other._minutes.values():
            mine = self._minutes.setdefault(minute.minute, Minute(minute.minute))
            mine.merge(minute)

    def to_json(self) -> list[Any]:
        return [minute.to_json() for minute in sorted(self._minutes.values(), key=_by_minute)]

    @classmethod
    def from_json(cls, raw: Iterable[list[Any]], window_minutes: int = WINDOW_MINUTES) -> Rolling:
        rolling = cls(window_minutes)
        for item in raw:
            minute = Minute.from_json(item)
            rolling._minutes[minute.minute] = minute
        return rolling

    def _at(self, now_s: float) -> Minute:
        number = _minute_of(now_s)
        current = self._current
        if current is not None and current.minute == number:
            return current
        current = self._current = self._minutes.setdefault(number, Minute(number))
        oldest = number - self.window_minutes + 1
        for stale in [m for m in self._minutes if m < oldest]:
            del self._minutes[stale]
        return current


def merged(parts: Iterable[Rolling], window_minutes: int = WINDOW_MINUTES) -> Rolling:
    """Several processes' buckets as one (serve --processes N)."""
    total = Rolling(window_minutes)
    for part in parts:
        total.merge(part)
    return total


def percentile(latencies: dict[int, int], q: float) -> float | None:
    """The `q` quantile (0-1) of a histogram, as its bucket's upper bound (the last bucket, past
    every bound, reads as the last bound); None when it holds nothing."""
    total = sum(latencies.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(latencies):
        seen += latencies[index]
        if seen >= rank:
            return LATENCY_BOUNDS_S[min(index, len(LATENCY_BOUNDS_S) - 1)]
    raise AssertionError("unreachable: rank <= total")


def combined_latencies(minutes: Iterable[Minute]) -> dict[int, int]:
    total: dict[int, int] = {}
    for minute in minutes:
        for index, n in minute.latencies.items():
            total[index] = total.get(index, 0) + n
    return total


def total(minutes: Iterable[Minute], *names: str) -> int:
    return sum(minute.counts.get(name, 0) for minute in minutes for name in names)


def hit_ratio(
    minutes: Iterable[Minute], hits: tuple[str, ...], misses: tuple[str, ...]
) -> float | None:
    """Hits over hits and misses; None when there was neither."""
    minutes = list(minutes)
    found, missed = total(minutes, *hits), total(minutes, *misses)
    return found / (found + missed) if found + missed else None


def per_second(minute: Minute, name: str, now_s: float) -> float:
    """The minute's count as a rate; the current minute over the seconds it has lasted so far."""
    elapsed_s = min(MINUTE_S, max(1.0, now_s - minute.minute * MINUTE_S))
    return minute.counts.get(name, 0) / elapsed_s


def _minute_of(now_s: float) -> int:
    return int(now_s // MINUTE_S)


def _by_minute(minute: Minute) -> int:
    return minute.minute
