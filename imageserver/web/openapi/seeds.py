"""The seeds' routes in /openapi.json, tagged by seed (docs/migrating.md): thin
spellings of the native API. Pure data."""

from __future__ import annotations

from .native import JOB_ID
from .schemas import API_KEY, GATEWAY, Json, errors, json_body, operation, path, query, schema

INSIGHT, DOWNLOADER, GATEWAY_TAG = "insight-reloaded", "skroutz downloader", "CRIM gateway"
_OBJECT = {"type": "object"}
_PREVIEW = (
    query("url", "the document to preview"),
    query("callback", "URL called when the preview is stored"),
    query("hash", "the name the preview is stored under (default: sha1 of url)"),
)
SERVICE = path("service", "the gateway's service: a namespace")


def _answer(description: str) -> Json:
    return json_body(_OBJECT, description)


def insight_paths() -> dict[str, Json]:
    return {
        "/": {
            "get": operation(
                "Who we are; with ?url=, a preview job in the default queue",
                INSIGHT,
                {"200": _answer("name and version, or the job accepted"), **errors(400, 401, 403)},
                parameters=_PREVIEW,
                security=API_KEY,
            )
        },
        "/status": {
            "get": operation(
                "Jobs waiting and running, every queue",
                INSIGHT,
                {"200": json_body(schema("Status"), "with the seed's sentence")},
            )
        },
        "/{name}/status": {
            "parameters": [path("name", "a queue (insight-reloaded), or a gateway service")],
            "get": operation(
                "A queue's counts; with ?uuid=, a CRIM gateway task's status",
                INSIGHT,
                {"200": _answer("counts, or the task's status"), **errors(401, 404)},
                parameters=(query("uuid", "the gateway task (its job id, dashed)"),),
                description="Both seeds spell their status route so; the gateway's (with "
                "?uuid=) needs an API key when keys are set.",
            ),
        },
    }


def queue_submit() -> Json:
    """`GET /{queue}?url=`: in /{namespace}'s path item, as OpenAPI knows one spelling of a
    path; the segment names a queue here."""
    queue = path("namespace", "here: a configured queue (--job-queues)", schema("Queue"))
    return operation(
        "A preview job in this queue",
        INSIGHT,
        {"200": _answer("the seed's greeting, or the job accepted"), **errors(400, 401, 403, 404)},
        parameters=(queue, *_PREVIEW),
        security=API_KEY,
    )


def downloader_paths() -> dict[str, Json]:
    created = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
        "description": "the seed's fields (url, callback_url or callback_type + callback_dst, "
        "aggr_id, aggr_limit, aggr_proxy, extra, mime_type, download_timeout, request_headers) "
        "or the native job fields",
    }
    text = {"text/plain": {"schema": {"type": "string"}}}
    aggregations = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
        },
    }
    return {
        "/download": {
            "post": operation(
                "Submit a download job",
                DOWNLOADER,
                {"201": json_body(created, "the job's id"), **errors(400, 401, 403, 413)},
                body=body,
                security=API_KEY,
            )
        },
        "/hb": {
            "get": operation(
                "Heartbeat",
                DOWNLOADER,
                {
                    "200": {"description": "OK", "content": text},
                    "503": {"description": "--maintenance-file exists", "content": text},
                },
            )
        },
        "/retry/{id}": {
            "parameters": [JOB_ID],
            "post": operation(
                "Send a finished job's callback again",
                DOWNLOADER,
                {"201": json_body(schema("Job"), "the job"), **errors(401, 404, 409)},
                security=API_KEY,
            ),
        },
        "/dashboard/aggregations": {
            "get": operation(
                "Groups with queued jobs, most first",
                DOWNLOADER,
                {"200": json_body(aggregations, "name: jobs:<aggr_id>"), **errors(401)},
                security=API_KEY,
            )
        },
    }


def _task_body(fields: str) -> Json:
    form = {"type": "object", "additionalProperties": {"type": "string"}}
    return {
        "required": False,
        "description": fields,
        "content": {
            "application/x-www-form-urlencoded": {"schema": form},
            "application/json": {"schema": form},
        },
    }


def gateway_paths() -> dict[str, Json]:
    uuid = {"type": "object", "properties": {"uuid": {"type": "string"}}, "required": ["uuid"]}
    submit_errors = errors(400, 401, 403, 404, 413)

    def submit(summary: str) -> Json:
        return operation(
            summary,
            GATEWAY_TAG,
            {"200": json_body(uuid, "the task's uuid"), **submit_errors},
            body=_task_body("doc_url (the document), callback_url, ... as a form or JSON"),
            security=GATEWAY,
        )

    return {
        "/{service}/annotate": {"parameters": [SERVICE], "post": submit("Submit a task")},
        "/{service}/annotate/{doc_id}": {
            "parameters": [SERVICE, path("doc_id", "an original stored in the service")],
            "post": submit("Submit a task on a stored original"),
        },
        "/{service}/process": {"parameters": [SERVICE], "post": submit("Submit a task (JSON)")},
        "/{service}/cancel": {
            "parameters": [SERVICE],
            "post": operation(
                "Cancel a task",
                GATEWAY_TAG,
                {"200": _answer("revoked"), **errors(400, 401, 404, 409)},
                body=_task_body("uuid: the task's"),
                security=GATEWAY,
            ),
        },
    }
