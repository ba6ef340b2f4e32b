"""The CRIM Service Gateway's API: `POST /{service}/annotate` (form, `doc_url=`), `/process`
(JSON), `GET /{service}/status?uuid=`, `/cancel` (docs/migrating.md "Migrating from the CRIM Service
Gateway"). A service is a namespace; a task is an ingest job (jobs/vesta.py maps both ways).

Submissions and cancels need `Authorization: <JWT>` when a gateway_jwt_* key is set, else the API
key rule of writes; the status is a job view (an API key when keys are set), as the seed's own
status route takes no JWT.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...errors import BadRequest
from ...jobs.vesta import TaskStatus, dashed, job_id_of, native_body, revoked, status_answer
from ...jobs.views import job_view
from ..appkeys import GATEWAY_JWT, JOBS
from ..jobs import enqueue, json_object
from ..middleware import check_api_key


async def annotate(request: web.Request) -> web.Response:
    """`POST /{service}/annotate` with `doc_url`, or `/annotate/{storage_doc_id}` for an
    original stored in the service's namespace: `{"uuid": ...}` of the job."""
    _authorise(request)
    fields = await _fields(request)
    body = native_body(request.match_info["service"], fields, request.match_info.get("doc_id"))
    answer, _ = await enqueue(request, body)
    return web.json_response({"uuid": dashed(answer["job_id"])})


process = annotate  # seed 1.8.0: the same request, its body JSON (or a form)


async def status(request: web.Request) -> web.Response:
    """`GET /{service}/status?uuid=`: unknown or past the jobs' TTL is EXPIRED."""
    check_api_key(request)
    task_uuid = request.query["uuid"]
    job = await request.app[JOBS].find(job_id_of(task_uuid))
    return web.json_response(status_answer(task_uuid, job_view(job) if job else None))


async def cancel(request: web.Request) -> web.Response:
    """`POST /{service}/cancel` with `uuid` (seed 1.1.0): revoked before it ran, terminated if
    running (within a second); a finished job is a 409, an unknown one a 404."""
    _authorise(request)
    task_uuid = (await _fields(request)).get("uuid")
    if not isinstance(task_uuid, str):
        raise BadRequest("uuid: expected the task's UUID")
    job = await request.app[JOBS].cancel(job_id_of(task_uuid))
    answer = {
        "uuid": task_uuid,
        "status": TaskStatus.REVOKED.value,
        "result": revoked(job_view(job)),
    }
    return web.json_response(answer)


def _authorise(request: web.Request) -> None:
    keys = request.app.get(GATEWAY_JWT)
    if keys is None:
        check_api_key(request)
    else:
        keys.verify(request.headers.get("Authorization", ""))


async def _fields(request: web.Request) -> dict[str, Any]:
    """The query, then the body over it: JSON (seed 1.8.0) or a form (`--data-urlencode`)."""
    if request.content_type == "application/json":
        return {**request.query, **await json_object(request)}
    form = await request.post()
    files = [name for name, value in form.items() if not isinstance(value, str)]
    if files:
        raise BadRequest(f"{files[0]}: expected a text field, not a file")
    return {**request.query, **form}
