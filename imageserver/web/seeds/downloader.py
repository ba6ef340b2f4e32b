"""The skroutz downloader's API: `POST /download`, `GET /hb`, `POST /retry/{id}`,
`GET /dashboard/aggregations` (docs/migrating.md "Migrating from the skroutz downloader").

A download is a job of kind `download` (jobs/tasks.py) in --downloader-namespace, submitted as
POST /jobs submits; its fields are renamed here, and every rule is the native one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ...errors import BadRequest
from ...jobs.views import job_view
from .. import handlers, jobs
from ..appkeys import JOBS

# The seed's field -> the native one (docs/jobs.md). Both of a callback's spellings (the older
# `callback_url`, the newer `callback_type` + `callback_dst`) land on `callback`.
FIELDS = {
    "aggr_id": "group",
    "aggr_limit": "group_limit",
    "aggr_proxy": "proxy",
    "url": "source",
    "callback_url": "callback",
    "callback_dst": "callback",
    "callback_type": "callback_type",
    "extra": "extra",
    "mime_type": "mime",
    "download_timeout": "timeout_s",
    "request_headers": "headers",
}
AGGREGATION_PREFIX = "jobs:"  # the seed's Redis key of an aggregation, which clients show


def native_body(body: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """The job body POST /jobs would take. Other fields pass as they are, so a native one
    (`outputs`, `queue`, ...) works and anything else is refused as POST /jobs refuses it."""
    native = {"kind": "download", "namespace": namespace}
    given = {name: name for name in body if name not in FIELDS}  # native name -> body's field
    for seed, name in FIELDS.items():
        if seed in body:
            if name in given:
                raise BadRequest(f"{given[name]}, {seed}: expected one of them, not both")
            given[name] = seed
    return native | {name: body[field] for name, field in given.items()}


async def download(request: web.Request) -> web.Response:
    """201 `{"id": ...}`, the seed's answer; the job is GET /jobs/{id} like any other."""
    settings = request.app[JOBS].settings
    body = native_body(await jobs.json_object(request), settings.downloader_namespace)
    answer, _ = await jobs.enqueue(request, body)
    return web.json_response({"id": answer["job_id"]}, status=201)


async def heartbeat(request: web.Request) -> web.Response:
    """The seed's plain-text answers, 503 exactly when /healthz answers it."""
    if await handlers.in_maintenance(request):
        maintenance_file = request.app[JOBS].settings.maintenance_file
        return web.Response(text=f"Service disabled, '{maintenance_file}' exists!", status=503)
    return web.Response(text="OK")


async def retry_callback(request: web.Request) -> web.Response:
    """The job's callback, sent again as POST /jobs/{id}/callback sends it; the seed's 201."""
    job = await request.app[JOBS].resend_callback(request.match_info["id"])
    return web.json_response(job_view(job), status=201)


async def aggregations(request: web.Request) -> web.Response:
    """Groups with queued jobs, most first: `[{"name": "jobs:<aggr_id>", "size": n}]`."""
    pending = await request.app[JOBS].pending_groups()
    listed = [{"name": AGGREGATION_PREFIX + group, "size": n} for group, n in pending.most_common()]
    return web.json_response(listed)
