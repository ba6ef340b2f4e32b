"""The reusable parts of /openapi.json: schemas, parameters, responses and security schemes, and
the small builders the path tables use. Pure data: no aiohttp, no I/O."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

TOKENS_DOC = "docs/tokens.md"
HEX32 = "^[0-9a-f]{32}$"
NAMESPACE = "^[a-z0-9][a-z0-9_-]{0,63}$"
# Which statuses carry which errors (docs/api.md "Errors"); every one is the Error schema.
ERROR_STATUSES = {
    400: "Malformed request: a token, namespace, name, field or body (the message names it)",
    401: "No valid API key (`Authorization: Bearer KEY`), or no valid gateway JWT",
    403: "A source or callback refused, or a render the namespace's URL policy does not allow",
    404: "No such image, output, job, queue or route",
    409: "The resource's state does not allow it (a job's, or a name already taken)",
    413: "The body is over --max-upload-bytes",
    415: "Not a supported image",
    422: "Undecodable, over a limit, or an encrypted PDF without its password",
    503: "Overloaded (Retry-After), storage unavailable, or in maintenance",
}


def ref(kind: str, name: str) -> Json:
    return {"$ref": f"#/components/{kind}/{name}"}


def schema(name: str) -> Json:
    return ref("schemas", name)


def json_body(body: Json, description: str) -> Json:
    """A response (or request body) whose content is JSON of `body`."""
    return {"description": description, "content": {"application/json": {"schema": body}}}


def errors(*statuses: int) -> dict[str, Json]:
    return {str(status): ref("responses", f"E{status}") for status in statuses}


def query(name: str, description: str, body: Json | None = None, required: bool = False) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": body or {"type": "string"},
    }


def path(name: str, description: str, body: Json | None = None) -> Json:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": body or {"type": "string", "minLength": 1},
    }


def operation(
    summary: str,
    tag: str,
    responses: dict[str, Json],
    *,
    parameters: tuple[Json, ...] = (),
    body: Json | None = None,
    security: list[Json] | None = None,
    description: str = "",
) -> Json:
    """One operation: its answers (`errors()` for the error statuses it may give)."""
    built: Json = {"summary": summary, "tags": [tag], "responses": responses}
    optional = {
        "description": description,
        "parameters": list(parameters),
        "requestBody": body,
        "security": security,
    }
    return built | {key: value for key, value in optional.items() if value}


def _obj(properties: Json, required: tuple[str, ...] = (), more: bool = True) -> Json:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": more,
    }


_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_NULL_STR = {"type": ["string", "null"]}

INFO = _obj(
    {
        "hash": {**_STR, "description": "xxh3-128 (or MD5 in --md5-namespaces), 32 hex digits"},
        "width": {**_INT, "description": "as displayed, after EXIF orientation"},
        "height": _INT,
        "content_type": _STR,
        "size": {**_INT, "description": "bytes"},
        "frames": {**_INT, "description": "animations"},
        "pages": {**_INT, "description": "multi-page TIFF, every PDF"},
        "alpha": _BOOL,
        "placeholder": {**_STR, "description": "the ThumbHash, base64"},
        "name": {**_STR, "description": "named originals (/{namespace}/_/{name})"},
        "file": {**_BOOL, "description": "a download job's non-image file"},
        "encrypted": _BOOL,
    },
    ("hash", "content_type", "size"),
)
UPLOADED = {
    "allOf": [
        schema("Info"),
        _obj(
            {
                "path": {**_STR, "description": "the original's path; an output's is path/token"},
                "urls": _obj(
                    {
                        "original": _STR,
                        "info": _STR,
                        "outputs": {
                            "type": "object",
                            "additionalProperties": _STR,
                            "description": "token -> URL (signed when signing keys are set)",
                        },
                    },
                    ("original", "info", "outputs"),
                ),
            },
            ("path", "urls"),
        ),
    ]
}
JOB_REQUEST = _obj(
    {
        "kind": {"enum": ["ingest", "download", "rasterize"], "default": "ingest"},
        "namespace": {**_STR, "pattern": NAMESPACE},
        "source": {**_STR, "description": "URL to fetch (http, https)"},
        "hash": {**_STR, "pattern": HEX32, "description": "a stored original, instead of source"},
        "name": {**_STR, "description": "store under /{namespace}/_/{name} (ingest)"},
        "password": {**_STR, "description": "an encrypted PDF's; never shown"},
        "outputs": {
            "oneOf": [{"type": "array", "items": _STR}, _STR],
            "description": f"output tokens to render ({TOKENS_DOC})",
        },
        "rasterize": _obj({"dpi": _INT, "format": _STR, "max_side": _INT}, more=False),
        "queue": schema("Queue"),
        "callback": {**_STR, "description": "URL POSTed when the job ends, or a Redis stream"},
        "callback_type": {"enum": ["http", "redis", "kafka"]},
        "extra": _STR,
        "headers": {"type": "object", "additionalProperties": _STR},
        "group": _STR,
        "group_limit": {**_INT, "minimum": 1, "maximum": 1000},
        "mime": _STR,
        "timeout_s": {"type": "number"},
        "proxy": _STR,
        "idempotency_key": _STR,
    },
    ("namespace",),
    more=False,
)
ACCEPTED = _obj(
    {"job_id": _STR, "queue": _STR, "number_in_queue": _INT, "status_url": _STR},
    ("job_id", "queue", "number_in_queue", "status_url"),
)
JOB = _obj(
    {
        "job_id": _STR,
        "kind": _STR,
        "queue": _STR,
        "state": {"enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
        "progress": {**_INT, "minimum": 0, "maximum": 100},
        "attempts": _INT,
        "max_attempts": {"type": ["integer", "null"]},
        "created_at": _NULL_STR,
        "started_at": _NULL_STR,
        "finished_at": _NULL_STR,
        "error": _NULL_STR,
        "message": _NULL_STR,
        "result": {"type": ["object", "null"]},
        "callback": {"type": ["object", "null"]},
        "request": {"type": "object"},
    },
    ("job_id", "kind", "queue", "state", "attempts", "created_at", "request"),
)
QUEUE_STATUS = _obj(
    {"queue": _STR, "number_in_queue": _INT, "queued": _INT, "running": _INT},
    ("queue", "number_in_queue", "queued", "running"),
)
STATUS = _obj(
    {
        "number_in_queue": _INT,
        "running": _INT,
        "queues": {"type": "object", "additionalProperties": schema("QueueStatus")},
    },
    ("number_in_queue", "running", "queues"),
)
ERROR = _obj(
    {
        "error": {**_STR, "description": "a code: bad_size, not_found, ... (docs/api.md 'Errors')"},
        "message": {**_STR, "description": "for people: names the field and what was expected"},
    },
    ("error", "message"),
)

SCHEMAS = {
    "Error": ERROR,
    "Info": INFO,
    "Uploaded": UPLOADED,
    "JobRequest": JOB_REQUEST,
    "Accepted": ACCEPTED,
    "Job": JOB,
    "QueueStatus": QUEUE_STATUS,
    "Status": STATUS,
}
SECURITY_SCHEMES = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "--api-key: writes and job views need one when keys are set",
    },
    "gatewayJwt": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "the CRIM gateway's `Authorization: <JWT>` (--gateway-jwt-*)",
    },
}
# Writes name the key; `{}` says it is needed only when --api-key is set.
API_KEY: list[Json] = [{"apiKey": []}, {}]
GATEWAY: list[Json] = [{"gatewayJwt": []}, {"apiKey": []}, {}]


def components(queues: list[str]) -> Json:
    """`queues`: the configured ones (--job-queues), the only names a job or a lookup takes."""
    responses = {
        f"E{status}": json_body(schema("Error"), description)
        for status, description in ERROR_STATUSES.items()
    }
    queue = {"type": "string", "enum": queues, "description": "a configured queue"}
    return {
        "schemas": SCHEMAS | {"Queue": queue},
        "responses": responses,
        "securitySchemes": SECURITY_SCHEMES,
    }
