"""The CRIM Service Gateway's (VESTA) spelling of a job: its request onto the native job body,
and a job's view (views.py) as Celery's states and result shapes. The rules stay the native ones
(request.py parses what this maps). Pure: no aiohttp, no saq, no I/O.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from .. import __version__
from ..errors import BadRequest
from .request import COMMON_FIELDS, MAX_TEXT
from .views import CANCELLED_ERROR, State

# The native fields a gateway request may set; every other field goes to `misc` (seed 1.7.0),
# `ann_doc_id` too (we keep no annotations). The namespace and the document come from the route.
NATIVE_FIELDS = (COMMON_FIELDS - {"kind", "source", "extra"}) | {"outputs", "password"}
REVOKED_CODE = 109  # the gateway's code of a cancelled task


class TaskStatus(StrEnum):
    """Celery's task states as the gateway answers them (RECEIVED and STORING are never ours)."""

    PENDING = "PENDING"
    RECEIVED = "RECEIVED"
    STARTED = "STARTED"
    PROGRESS = "PROGRESS"
    STORING = "STORING"
    FAILURE = "FAILURE"
    SUCCESS = "SUCCESS"
    REVOKED = "REVOKED"
    RETRY = "RETRY"
    EXPIRED = "EXPIRED"


def native_body(service: str, fields: Mapping[str, Any], doc_id: str | None) -> dict[str, Any]:
    """`POST /{service}/annotate` (`doc_url`), `/annotate/{storage_doc_id}` (a stored original's
    hash) or `/process` as the body of `POST /jobs`: an ingest into namespace `service`."""
    body = {name: value for name, value in fields.items() if name in NATIVE_FIELDS}
    body["namespace"] = service
    doc_url = fields.get("doc_url")
    if (doc_id is None) == (not doc_url):
        raise BadRequest("doc_url: expected either it or /annotate/{storage_doc_id}")
    body.update({"hash": doc_id} if doc_id is not None else {"source": doc_url})
    misc = {k: v for k, v in fields.items() if k not in NATIVE_FIELDS and k != "doc_url"}
    if misc:
        body["extra"] = _misc_text(misc)
    return body


def _misc_text(misc: dict[str, Any]) -> str:
    """Kept as the job's `extra`, so callbacks and job views carry it back."""
    text = json.dumps(misc, separators=(",", ":"))
    if len(text) > MAX_TEXT:
        raise BadRequest(
            f"misc: the unknown arguments take {len(text)} characters as JSON, at most {MAX_TEXT}"
        )
    return text


def dashed(job_id: str) -> str:
    """Our 32-hex job id as the gateway's UUID."""
    return str(uuid.UUID(hex=job_id))


def job_id_of(text: str) -> str:
    """A UUID, dashed or not, as our job id."""
    try:
        return uuid.UUID(hex=text).hex
    except ValueError:
        raise BadRequest(f"uuid: expected a UUID, got {text!r}") from None


def status_answer(task_uuid: str, view: Mapping[str, Any] | None) -> dict[str, Any]:
    """`GET /{service}/status?uuid=`: a job unknown or past its TTL is EXPIRED, as the gateway
    answers a task whose queue has expired."""
    if view is None:
        return {"uuid": task_uuid, "status": TaskStatus.EXPIRED.value, "result": None}
    status, result = _status_of(view)
    return {"uuid": task_uuid, "status": status.value, "result": result, "misc": misc_of(view)}


def revoked(view: Mapping[str, Any]) -> dict[str, Any]:
    """REVOKED's result: cancelled before it ran, or stopped while running."""
    message = "terminated" if view["started_at"] else "revoked"
    return {"code": REVOKED_CODE, "message": message}


def misc_of(view: Mapping[str, Any]) -> dict[str, Any]:
    """The unknown arguments the job was submitted with (none for a native job's plain extra)."""
    try:
        misc = json.loads(view["request"].get("extra") or "{}")
    except ValueError:
        return {}
    return misc if isinstance(misc, dict) else {}


def _status_of(view: Mapping[str, Any]) -> tuple[TaskStatus, Any]:
    state, error = State(view["state"]), _error(view)
    if state is State.SUCCEEDED:
        return TaskStatus.SUCCESS, view["result"]
    if state is State.RUNNING:
        return TaskStatus.PROGRESS, _progress(view)
    if state is State.QUEUED:  # a failed attempt waiting out its backoff still has its error
        return (TaskStatus.RETRY, error) if error else (TaskStatus.PENDING, None)
    if state is State.CANCELLED and view["error"] == CANCELLED_ERROR["code"]:
        return TaskStatus.REVOKED, revoked(view)
    return TaskStatus.FAILURE, error  # failed; or abandoned (its worker died on every attempt)


def _error(view: Mapping[str, Any]) -> dict[str, Any] | None:
    return {"code": view["error"], "message": view["message"]} if view["error"] else None


def _progress(view: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "current": view["progress"],
        "total": 100,
        "start_time": view["started_at"],
        "worker_id_version": f"imageserver {__version__}",
        "host": None,
        "type": view["request"].get("namespace"),
    }
