"""The native API's paths in /openapi.json: uploads, images and outputs, jobs, operations.
Pure data; the seeds' spellings are in openapi/seeds.py."""

from __future__ import annotations

from .schemas import (
    API_KEY,
    HEX32,
    NAMESPACE,
    TOKENS_DOC,
    Json,
    errors,
    json_body,
    operation,
    path,
    query,
    schema,
)

IMAGE = "/{namespace}/{aaa}/{bbb}/{ccc}/{rest}"
NAMED_IMAGE = "/{namespace}/_/{name}"
BINARY = {"type": "string", "format": "binary"}
_JSON_OBJECT = {"type": "object"}

NAMESPACE_PARAM = path("namespace", "a namespace", {"type": "string", "pattern": NAMESPACE})
_HASH_PARTS = (
    path("aaa", "the hash's digits 1-3", {"type": "string", "pattern": "^[0-9a-f]{3}$"}),
    path("bbb", "the hash's digits 4-6", {"type": "string", "pattern": "^[0-9a-f]{3}$"}),
    path("ccc", "the hash's digits 7-9", {"type": "string", "pattern": "^[0-9a-f]{3}$"}),
    path("rest", "the hash's digits 10-32", {"type": "string", "pattern": "^[0-9a-f]{23}$"}),
)
IMAGE_PARAMS = (NAMESPACE_PARAM, *_HASH_PARTS)
NAMED_PARAMS = (
    NAMESPACE_PARAM,
    path("name", "the original's name", {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}),
)
TOKEN = path(
    "token",
    f"`SIZE[-OPTIONS][@Nx].FORMAT`, a preset, or `placeholder.FORMAT` (grammar: {TOKENS_DOC})",
    {"type": "string", "pattern": r"^[A-Za-z0-9.@_-]+\.[a-z]+$"},
)
JOB_ID = path("id", "a job's id", {"type": "string", "pattern": HEX32})
QUEUE_NAME = path("name", "a configured queue (--job-queues)", schema("Queue"))

_UPLOAD_BODY = {
    "description": "The original: the raw body, or a multipart form's `file` part (curl -F "
    "file=@x.jpg); none with ?source=",
    "required": False,
    "content": {
        "application/octet-stream": {"schema": BINARY},
        "image/*": {"schema": BINARY},
        "application/pdf": {"schema": BINARY},
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": BINARY}, "required": ["file"]}
        },
    },
}
UPLOAD = operation(
    "Upload an original",
    "images",
    {
        "200": json_body(schema("Uploaded"), "info.json's fields, with path and urls"),
        "202": json_body(schema("Accepted"), "with ?callback=: accepted as an ingest job"),
        **errors(400, 401, 403, 404, 409, 413, 415, 422, 503),
    },
    parameters=(
        query("source", "fetch the original from this URL instead of the body"),
        query("outputs", f"comma-separated output tokens rendered before answering ({TOKENS_DOC})"),
        query("password", "an encrypted PDF's password"),
        query(
            "callback", "makes the upload an ingest job (the seed's form), called back at its end"
        ),
    ),
    body=_UPLOAD_BODY,
    security=API_KEY,
    description="Stores the body (or ?source=) under its content hash; uploading the same bytes "
    "again is a no-op.",
)
_IMMUTABLE = "immutable: Cache-Control public, max-age=31536000; ETag; If-None-Match gives 304"
_NOT_MODIFIED = {"304": {"description": "If-None-Match matched the ETag"}}
_MOVED = {
    "description": "to the canonical spelling (301) or a preset's token (302), or to "
    "storage (302, --s3-public-url)",
    "headers": {"Location": {"schema": {"type": "string"}}},
}


def _info(tag: str) -> Json:
    return operation(
        "An original's info.json",
        tag,
        {"200": json_body(schema("Info"), "what the upload answered"), **errors(400, 404, 503)},
    )


def _original(tag: str) -> Json:
    ok = {"description": _IMMUTABLE, "content": {"*/*": {"schema": BINARY}}}
    return operation(
        "The original's bytes", tag, {"200": ok, **_NOT_MODIFIED, **errors(400, 404, 503)}
    )


def _output(tag: str) -> Json:
    ok = {"description": _IMMUTABLE, "content": {"image/*": {"schema": BINARY}}}
    return operation(
        "An output, rendered on first request",
        tag,
        {
            "200": ok,
            **_NOT_MODIFIED,
            "301": _MOVED,
            "302": _MOVED,
            **errors(400, 403, 404, 415, 422, 503),
        },
        parameters=(TOKEN,),
        description=f"The token names the output: size, options, format ({TOKENS_DOC}). Without "
        "a signature, a namespace's URL policy may refuse to render (403).",
    ) | {"externalDocs": {"description": "The output tokens", "url": TOKENS_DOC}}


def image_paths() -> dict[str, Json]:
    pages_ok = json_body(_JSON_OBJECT, "the manifest of the PDF's last rasterize job")
    deleted = {
        "type": "object",
        "properties": {"hash": {"type": "string"}, "deleted": {"type": "integer"}},
        "required": ["hash", "deleted"],
    }
    return {
        "/{namespace}": {
            "parameters": [NAMESPACE_PARAM],
            "post": UPLOAD,
        },
        IMAGE: {
            "parameters": list(IMAGE_PARAMS),
            "delete": operation(
                "Remove an original, its info and every output",
                "images",
                {"200": json_body(deleted, "deleted: objects removed"), **errors(400, 401, 503)},
                security=API_KEY,
            ),
        },
        IMAGE + "/info.json": {"parameters": list(IMAGE_PARAMS), "get": _info("images")},
        IMAGE + "/original": {"parameters": list(IMAGE_PARAMS), "get": _original("images")},
        IMAGE + "/pages.json": {
            "parameters": list(IMAGE_PARAMS),
            "get": operation("A PDF's pages", "images", {"200": pages_ok, **errors(400, 404)}),
        },
        IMAGE + "/{token}": {"parameters": list(IMAGE_PARAMS), "get": _output("images")},
        NAMED_IMAGE + "/info.json": {"parameters": list(NAMED_PARAMS), "get": _info("images")},
        NAMED_IMAGE + "/original": {"parameters": list(NAMED_PARAMS), "get": _original("images")},
        NAMED_IMAGE + "/{token}": {"parameters": list(NAMED_PARAMS), "get": _output("images")},
    }


def _accepted(description: str) -> Json:
    return json_body(schema("Accepted"), description)


def job_paths() -> dict[str, Json]:
    job = schema("Job")
    listed = {"type": "object", "properties": {"jobs": {"type": "array", "items": job}}}
    states = {"enum": ["queued", "running", "succeeded", "failed", "cancelled"]}
    idempotency = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "the same key always names the same job",
        "schema": {"type": "string"},
    }
    body = {"required": True, "content": {"application/json": {"schema": schema("JobRequest")}}}
    one = {"parameters": [JOB_ID]}
    return {
        "/jobs": {
            "post": operation(
                "Submit a job",
                "jobs",
                {
                    "202": _accepted("accepted"),
                    "200": _accepted("the idempotency key's existing job"),
                    **errors(400, 401, 403, 413),
                },
                parameters=(idempotency,),
                body=body,
                security=API_KEY,
            ),
            "get": operation(
                "List jobs, in no particular order",
                "jobs",
                {"200": json_body(listed, "at most `limit` jobs"), **errors(400, 401, 404)},
                parameters=(
                    query("state", "only jobs in this state", states),
                    query("queue", "only jobs of this queue", schema("Queue")),
                    query(
                        "limit", "at most this many (50)", {"type": "string", "pattern": "^[0-9]+$"}
                    ),
                ),
                security=API_KEY,
            ),
        },
        "/jobs/{id}": one
        | {
            "get": operation(
                "A job",
                "jobs",
                {"200": json_body(job, "the job"), **errors(401, 404)},
                security=API_KEY,
            ),
            "delete": operation(
                "Cancel a queued or running job (202), or remove a finished one (200)",
                "jobs",
                {
                    "200": json_body(job, "removed: what it was"),
                    "202": json_body(job, "cancelled, or being cancelled"),
                    **errors(401, 404, 409),
                },
                security=API_KEY,
            ),
        },
        "/jobs/{id}/retry": one
        | {
            "post": operation(
                "Run a failed or cancelled job again",
                "jobs",
                {"202": _accepted("queued again"), **errors(401, 404, 409)},
                security=API_KEY,
            )
        },
        "/jobs/{id}/callback": one
        | {
            "post": operation(
                "Send a finished job's callback again",
                "jobs",
                {"202": json_body(job, "the callback is queued"), **errors(401, 404, 409)},
                security=API_KEY,
            )
        },
        "/queues/{name}/status": {
            "parameters": [QUEUE_NAME],
            "get": operation(
                "A queue's counts",
                "jobs",
                {"200": json_body(schema("QueueStatus"), "waiting and running"), **errors(404)},
            ),
        },
    }


def operation_paths() -> dict[str, Json]:
    health = {
        "type": "object",
        "properties": {"status": {"enum": ["ok", "maintenance"]}},
        "required": ["status"],
    }
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "/healthz": {
            "get": operation(
                "For load balancers",
                "operations",
                {
                    "200": json_body(health, "serving"),
                    "503": json_body(health, "--maintenance-file exists: drain this node"),
                },
            )
        },
        "/metrics": {
            "get": operation(
                "Prometheus text: requests, renders, lookups, jobs",
                "operations",
                {"200": {"description": "the exposition format", "content": text}},
            )
        },
        "/openapi.json": {
            "get": operation(
                "This description",
                "operations",
                {"200": json_body(_JSON_OBJECT, "OpenAPI 3.1")},
            )
        },
    }
