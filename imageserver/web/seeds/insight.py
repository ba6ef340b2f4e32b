"""insight-reloaded's API: `GET /?url=&callback=`, `GET /{queue}?url=...`, `/status`,
`/{queue}/status` (docs/migrating.md "Migrating from insight-reloaded").

A preview request is an ingest job (web/jobs.py) into `insight_namespace`, its original stored
under a name (keys.ImageKey, `/{ns}/_/{name}/`): the client's `hash=`, else sha1 of the url as the
seed computes it. So its URL is known when the job is accepted, and answers 404 until it is stored.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from ...errors import BadRequest
from ...keys import ImageKey, check_name
from .. import handlers, jobs
from ..appkeys import JOBS
from ..middleware import check_api_key

__all__ = ["JOBS", "index", "queue_status", "status", "submit"]

FIELDS = ("url", "callback", "hash")


async def index(request: web.Request) -> web.Response:
    """Without a query, who we are; with one, a preview job for the default queue."""
    if not request.query:
        return _hello()
    return await _submit(request, request.app[JOBS].settings.job_default_queue, "")


async def submit(request: web.Request) -> web.Response:
    """`GET /{queue}?url=`: a write behind a GET, so the API key is checked here (routes.py)."""
    queue = request.match_info["queue"]
    request.app[JOBS].queue(queue)  # 404 for a queue that is not configured
    if not request.query:
        return _hello()
    return await _submit(request, queue, f" '{queue}'")


def _hello() -> web.Response:
    return web.json_response({"insight_reloaded": "Bonjour", **handlers.about()})


async def _submit(request: web.Request, queue: str, spelt: str) -> web.Response:
    """The seed's fields as the native job body; every rule is the job API's (parse_request)."""
    check_api_key(request)
    url, name = _url_and_name(request)
    namespace = request.app[JOBS].settings.insight_namespace
    body = {"namespace": namespace, "source": url, "queue": queue, "name": name}
    body["callback"] = request.query.get("callback")
    answer = (await jobs.enqueue(request, body))[0]  # 200 either way, as the seed answers
    preview = ImageKey(namespace, name, named=True)
    return web.json_response(
        {
            "insight_reloaded": f"Job added to queue{spelt}.",
            **answer,
            "name": name,
            "preview_url": f"{handlers.public_base(request)}/{preview.info}",
        }
    )


def _url_and_name(request: web.Request) -> tuple[str, str]:
    """The source, and the name its preview is stored under: `hash=` or sha1(url), as the seed."""
    query = request.query
    unknown = sorted(set(query) - set(FIELDS))
    if unknown:  # a misspelt field would be lost silently
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}: expected {', '.join(FIELDS)}")
    url = query.get("url")
    if not url:
        raise BadRequest("url: expected the URL of the document to preview")
    if "hash" in query:
        return url, check_name(query["hash"], "hash")
    return url, hashlib.sha1(url.encode()).hexdigest()


async def status(request: web.Request) -> web.Response:
    """`GET /status`: the jobs API's counts, with the seed's sentence."""
    counts = await request.app[JOBS].status()
    waiting = counts["number_in_queue"]
    return _counted(f"There is {waiting} job in the queue.", counts)


async def queue_status(request: web.Request) -> web.Response:
    """`GET /{queue}/status` (dispatched by seeds.status): one queue's counts."""
    queue = request.match_info["name"]
    counts = await request.app[JOBS].queue_status(queue)
    waiting = counts["number_in_queue"]
    return _counted(f"There is {waiting} job in the '{queue}' queue.", counts)


def _counted(sentence: str, counts: dict[str, Any]) -> web.Response:
    return web.json_response({"insight_reloaded": sentence, **counts})
