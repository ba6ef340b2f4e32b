"""Groups page: the downloader's aggregations (per group limit, in flight, queued, failures).

A group is what jobs name in `fetch.group` with its `fetch.group_limit`; its fetches hold leases
of the slot `group:NAME` (jobs/limits.py, jobs/runner.py), which is what "in flight" counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web
from saq import Job, Status

from ...jobs.client import Jobs
from ...jobs.views import State, error_of, iso_ms, state_of
from ..appkeys import JOBS
from . import auth

SLOT_PREFIX = "group:"  # jobs/runner.py names a group's slot so
# Jobs that say something about a group now: waiting, running, or failed within the job TTL.
_WATCHED = (Status.NEW, Status.QUEUED, Status.ACTIVE, Status.ABORTING, Status.FAILED)


@dataclass
class GroupRow:
    name: str
    limit: int | None = None  # of its latest queued or running job; None: it has none
    in_flight: int = 0  # fetches holding one of its slots now
    queued: int = 0  # waiting, a retry's backoff included (Jobs.pending_groups counts so too)
    running: int = 0
    failures: int = 0
    last_error: str | None = None
    last_failed_at: str | None = None
    _limit_from_ms: int = -1  # `queued` time of the job `limit` was read from
    _failed_ms: int = -1


async def page(request: web.Request) -> web.StreamResponse:
    jobs = request.app[JOBS]
    rows = summarize(await _watched_jobs(jobs), await jobs.backend.held(SLOT_PREFIX))
    return auth.render(request, "groups.html", {"rows": rows, "ttl_s": jobs.config.ttl_s})


async def _watched_jobs(jobs: Jobs) -> list[Job]:
    """One pass over the unfinished and failed jobs of every queue: for dashboards."""
    return [job for queue in jobs.queues.values() async for job in queue.iter_jobs(_WATCHED)]


def summarize(jobs: Iterable[Job], held: Mapping[str, int]) -> list[GroupRow]:
    """Rows of every group a watched job or a held slot names, the most queued first."""
    rows: dict[str, GroupRow] = {}
    for job in jobs:
        fetch = ((job.kwargs or {}).get("request") or {}).get("fetch") or {}
        if fetch.get("group"):
            _count(rows.setdefault(fetch["group"], GroupRow(fetch["group"])), job, fetch)
    for slot, count in held.items():
        name = slot.removeprefix(SLOT_PREFIX)
        rows.setdefault(name, GroupRow(name)).in_flight = count
    return sorted(rows.values(), key=lambda row: (-row.queued, -row.in_flight, row.name))


def _count(row: GroupRow, job: Job, fetch: Mapping[str, object]) -> None:
    state = state_of(job)
    if state is State.FAILED:
        row.failures += 1
        if job.completed > row._failed_ms:
            error = error_of(job) or {}
            row.last_error = ": ".join(filter(None, (error.get("code"), error.get("message"))))
            row._failed_ms, row.last_failed_at = job.completed, iso_ms(job.completed)
        return
    row.queued += state is State.QUEUED
    row.running += state is State.RUNNING
    limit = fetch.get("group_limit")
    if isinstance(limit, int) and job.queued > row._limit_from_ms:
        row.limit, row._limit_from_ms = limit, job.queued
