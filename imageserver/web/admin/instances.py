"""Instances page: every server and worker process, from heartbeats in the job backend."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from ...jobs.instances import STALE_BEATS, SWEPT_BEATS, Instance, live_instances
from ..appkeys import JOBS
from . import auth


@dataclass(frozen=True)
class InstanceRow:
    """One process as the page shows it: durations already in words."""

    instance: Instance
    uptime: str
    last_seen: str  # "3 s ago"
    last_seen_iso: str
    stale: bool


async def page(request: web.Request) -> web.StreamResponse:
    jobs = request.app[JOBS]
    now_s = time.time()
    rows = [row(instance, now_s) for instance in await live_instances(jobs.backend)]
    context = {
        "rows": rows,
        "stale_count": sum(r.stale for r in rows),
        "interval_s": jobs.config.instance_heartbeat_s,
        "stale_beats": STALE_BEATS,
        "swept_beats": SWEPT_BEATS,
    }
    return auth.render(request, "instances.html", context)


def row(instance: Instance, now_s: float) -> InstanceRow:
    seen = datetime.fromtimestamp(instance.last_seen, UTC).isoformat(timespec="seconds")
    return InstanceRow(
        instance=instance,
        uptime=duration(instance.uptime_s(now_s)),
        last_seen=duration(now_s - instance.last_seen) + " ago",
        last_seen_iso=seen.replace("+00:00", "Z"),
        stale=instance.stale(now_s),
    )


_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def duration(seconds: float) -> str:
    """The largest unit and the next, rounded down: "3 s", "5 min 2 s", "2 h 0 min", "4 d 1 h"."""
    left = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in _UNITS:
        if parts or left >= size or unit == "s":
            parts.append(f"{left // size} {unit}")
            left %= size
        if len(parts) == 2:
            break
    return " ".join(parts)
