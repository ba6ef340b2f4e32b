"""Thin handlers of the jobs API: parse, call `Jobs`, shape the answer. No status codes chosen
here but 202 (accepted) and 200 (an idempotency key's existing job, a finished job removed)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from ..errors import BadRequest
from ..fetch import read_capped
from ..jobs import Jobs
from ..jobs.request import parse_request
from ..jobs.tasks import parsers
from ..jobs.views import State, job_view
from .appkeys import JOBS
from .handlers import public_base

MAX_BODY_BYTES = 64 * 1024
DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 1000


def _jobs(request: web.Request) -> Jobs:
    return request.app[JOBS]


def with_job_form(upload: Handler) -> Handler:
    """`POST /{namespace}?source=&callback=` is the seed's job form; without a callback, the
    synchronous upload it always was."""

    async def upload_or_enqueue(request: web.Request) -> web.StreamResponse:
        if "callback" not in request.query:
            return await upload(request)
        body = {**request.query, "namespace": request.match_info["namespace"]}
        return await _enqueue(request, body)

    return upload_or_enqueue


async def submit(request: web.Request) -> web.Response:
    """POST /jobs with a JSON object: every field of the form, plus headers, group, mime, ..."""
    return await _enqueue(request, await json_object(request))


async def json_object(request: web.Request) -> dict[str, Any]:
    """A job's JSON body, capped at MAX_BODY_BYTES (also the seeds' JSON submissions)."""
    raw = await read_capped(
        request.content, MAX_BODY_BYTES, what="job", declared_length=request.content_length
    )
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BadRequest("body: expected a JSON object")
    return body


async def _enqueue(request: web.Request, body: dict[str, Any]) -> web.Response:
    answer, created = await enqueue(request, body)
    return web.json_response(answer, status=202 if created else 200)


async def enqueue(request: web.Request, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A job body, parsed and submitted: the accepted answer, and whether the job is new. The
    seeds' spellings (web/seeds/) submit through here too, and shape the answer their way."""
    jobs = _jobs(request)
    if "Idempotency-Key" in request.headers:
        body = {"idempotency_key": request.headers["Idempotency-Key"], **body}
    parsed = parse_request(body, jobs.settings, parsers())
    # the job's result and callback carry URLs: the public ones, as this answer's
    job, created = await jobs.submit(parsed, public_base(request))
    # a resubmitted key answers with its job as stored, whatever queue this body names
    return await _accepted(request, job.key, job.get_queue().name), created


async def _accepted(request: web.Request, job_id: str, queue: str) -> dict[str, Any]:
    waiting = (await _jobs(request).queue_status(queue))["number_in_queue"]
    return {
        "job_id": job_id,
        "queue": queue,
        "number_in_queue": waiting,
        "status_url": f"{public_base(request)}/jobs/{job_id}",
    }


async def get(request: web.Request) -> web.Response:
    return web.json_response(job_view(await _jobs(request).get(request.match_info["id"])))


async def cancel(request: web.Request) -> web.Response:
    """202: a queued job is cancelled now, a running one once its worker notices (a second);
    200: a finished job is removed, answered with what it was."""
    jobs = _jobs(request)
    job, removed = await jobs.delete(request.match_info["id"])
    if removed:
        return web.json_response(job_view(job))
    return web.json_response(job_view(await jobs.get(job.key)), status=202)


async def retry(request: web.Request) -> web.Response:
    job = await _jobs(request).retry(request.match_info["id"])
    return web.json_response(await _accepted(request, job.key, job.get_queue().name), status=202)


async def resend_callback(request: web.Request) -> web.Response:
    job = await _jobs(request).resend_callback(request.match_info["id"])
    return web.json_response(job_view(job), status=202)


LIST_FILTERS = frozenset({"state", "queue", "limit"})


async def listed(request: web.Request) -> web.Response:
    """GET /jobs?state=failed&queue=normal&limit=50, in no particular order."""
    unknown = sorted(set(request.query) - LIST_FILTERS)
    if unknown:  # a misspelt filter would silently list every job
        expected = ", ".join(sorted(LIST_FILTERS))
        raise BadRequest(f"unknown filter(s) {', '.join(unknown)}: expected {expected}")
    jobs = _jobs(request)
    state = _state(request.query.get("state"))
    queue = request.query.get("queue")
    if queue is not None:
        jobs.queue(queue)  # 404 for an unknown queue
    found = await jobs.listed(state, queue, _limit(request.query.get("limit")))
    return web.json_response({"jobs": [job_view(job) for job in found]})


def _state(text: str | None) -> State | None:
    if text is None:
        return None
    try:
        return State(text)
    except ValueError:
        expected = ", ".join(s.value for s in State)
        raise BadRequest(f"state: expected one of {expected}, got {text!r}") from None


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIST_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIST_LIMIT:
        raise BadRequest(f"limit: expected an integer 1-{MAX_LIST_LIMIT}, got {text!r}")
    return int(text)


async def status(request: web.Request) -> web.Response:
    return web.json_response(await _jobs(request).status())


async def queue_status(request: web.Request) -> web.Response:
    return web.json_response(await _jobs(request).queue_status(request.match_info["name"]))
