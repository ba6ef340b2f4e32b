"""Jobs pages: counts per queue and state, a filtered and paged table, a job's page, actions.

Thin handlers over `Jobs` (jobs/client.py); what a job shows is `job_view`, the JSON API's view,
so the request's headers and a PDF's password never reach a page.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from ...errors import BadRequest, ImageServerError, NotFound
from ...jobs import Jobs
from ...jobs.tasks import parsers
from ...jobs.views import FINISHED, State, job_view
from ..appkeys import JOBS
from .auth import flash, prefix_of, redirect, render

PAGE_SIZE = 50
RECENT_FAILURES = 10
STATES = [state.value for state in State]


def _jobs(request: web.Request) -> Jobs:
    return request.app[JOBS]


# -- pure decisions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The table's GET form, parsed once; an empty field is no filter."""

    state: State | None = None
    queue: str | None = None
    group: str | None = None
    kind: str | None = None
    page: int = 1

    def matches(self, view: Mapping[str, Any]) -> bool:
        """What the backend cannot select by: group and kind live in the job's request."""
        if self.kind is not None and view["kind"] != self.kind:
            return False
        return self.group is None or view["request"].get("group") == self.group

    def query(self, page: int) -> str:
        fields = {"state": self.state, "queue": self.queue, "group": self.group, "kind": self.kind}
        shown = {name: value for name, value in fields.items() if value}
        return urlencode({**shown, **({"page": page} if page > 1 else {})})


def parse_filters(query: Mapping[str, str], queues: list[str], kinds: list[str]) -> Filters:
    """Unknown values fail with a message naming the field, like the JSON API's filters."""
    state = _one_of("state", query.get("state") or None, STATES)
    queue = _one_of("queue", query.get("queue") or None, queues)
    kind = _one_of("kind", query.get("kind") or None, kinds)
    page = query.get("page", "1")
    if not page.isdigit() or int(page) < 1:
        raise BadRequest(f"page: expected an integer from 1, got {page!r}")
    group = query.get("group", "").strip() or None
    return Filters(State(state) if state else None, queue, group, kind, int(page))


def _one_of(field: str, value: str | None, choices: list[str]) -> str | None:
    if value is not None and value not in choices:
        raise BadRequest(f"{field}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def actions_for(view: Mapping[str, Any]) -> list[str]:
    """The buttons a job's page offers in its state (Jobs refuses the others with 409)."""
    finished = State(view["state"]) in FINISHED
    if not finished:
        return ["cancel"]
    shown = ["retry"] if view["state"] in (State.FAILED, State.CANCELLED) else []
    if view["callback"] is not None:
        shown.append("callback")
    return [*shown, "delete"]


def shown_fields(fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A request's fields as text (strings as they are, anything else as JSON); unset ones
    (null) are left out."""
    shown = {k: v for k, v in fields.items() if v is not None}
    return [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in shown.items()]


# -- pages ------------------------------------------------------------------------------------


async def overview(request: web.Request) -> web.StreamResponse:
    jobs = _jobs(request)
    failed = Filters(state=State.FAILED)
    recent = [view async for view in _paged(jobs, failed, 0, RECENT_FAILURES)]
    context = {"counts": await _counts(jobs), "states": STATES, "failures": recent}
    return render(request, "jobs_overview.html", context)


async def counts(request: web.Request) -> web.StreamResponse:
    """What admin.js polls: {"queues": {queue: {state: n}}, "total": {state: n}}."""
    return web.json_response(await _counts(_jobs(request)))


async def _counts(jobs: Jobs) -> dict[str, Any]:
    queues = await jobs.state_counts()
    total = {state: sum(row[state] for row in queues.values()) for state in STATES}
    return {"queues": queues, "total": total}


async def listing(request: web.Request) -> web.StreamResponse:
    jobs = _jobs(request)
    filters = parse_filters(request.query, list(jobs.queues), sorted(parsers()))
    start = (filters.page - 1) * PAGE_SIZE
    rows = [view async for view in _paged(jobs, filters, start, PAGE_SIZE + 1)]
    context = {
        "filters": filters,
        "jobs": rows[:PAGE_SIZE],
        "states": STATES,
        "queues": list(jobs.queues),
        "kinds": sorted(parsers()),
        "previous": filters.query(filters.page - 1) if filters.page > 1 else None,
        "next": filters.query(filters.page + 1) if len(rows) > PAGE_SIZE else None,
    }
    return render(request, "jobs_list.html", context)


async def _paged(
    jobs: Jobs, filters: Filters, start: int, count: int
) -> AsyncIterator[dict[str, Any]]:
    """The views of the matching jobs from the `start`th, at most `count`: one pass over the
    state's jobs, so a deep page costs what the pages before it do."""
    seen = 0
    async with aclosing(jobs.iter_listed(filters.state, filters.queue)) as listing:
        async for job in listing:
            view = job_view(job)
            if not filters.matches(view):
                continue
            seen += 1
            if seen > start:
                yield view
            if seen >= start + count:
                return


async def detail(request: web.Request) -> web.StreamResponse:
    view = job_view(await _jobs(request).get(request.match_info["id"]))
    context = {
        "job": view,
        "request_fields": shown_fields(view["request"]),
        "result": json.dumps(view["result"], indent=2) if view["result"] is not None else None,
        "actions": actions_for(view),
        "finished": State(view["state"]) in FINISHED,
    }
    return render(request, "jobs_detail.html", context)


# -- actions ----------------------------------------------------------------------------------

# action -> what it does; it answers a message and whether the job is gone (back to the list)
Act = Callable[[Jobs, str], Awaitable[tuple[str, bool]]]


async def _retry(jobs: Jobs, job_id: str) -> tuple[str, bool]:
    await jobs.retry(job_id)
    return "Queued again, from its first attempt.", False


async def _cancel(jobs: Jobs, job_id: str) -> tuple[str, bool]:
    await jobs.cancel(job_id)
    return "Cancelled (a running job stops within a second or two).", False


async def _callback(jobs: Jobs, job_id: str) -> tuple[str, bool]:
    await jobs.resend_callback(job_id)
    return "Callback sent again.", False


async def _delete(jobs: Jobs, job_id: str) -> tuple[str, bool]:
    _, removed = await jobs.delete(job_id)
    if removed:
        return f"Job {job_id} deleted.", True
    return "It had not finished: cancelled instead.", False


ACTIONS: dict[str, Act] = {
    "retry": _retry,
    "cancel": _cancel,
    "callback": _callback,
    "delete": _delete,
}


async def act(request: web.Request) -> web.StreamResponse:
    """POST prefix/jobs/{id}/{action}, then 303 back to the job (or the list once it is gone)
    with what happened; a refusal (409, 404) is that message, not an error page."""
    job_id, name = request.match_info["id"], request.match_info["action"]
    if name not in ACTIONS:
        raise NotFound(f"no action {name!r}; the actions are {', '.join(ACTIONS)}")
    prefix = prefix_of(request)
    try:
        message, gone = await ACTIONS[name](_jobs(request), job_id)
        level = "info"
    except ImageServerError as exc:
        message, gone, level = exc.message, isinstance(exc, NotFound), "error"
    response = redirect(f"{prefix}/jobs" if gone else f"{prefix}/jobs/{quote(job_id, safe='')}")
    flash(request, response, message, level)
    return response
