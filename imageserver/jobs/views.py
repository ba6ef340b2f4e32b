"""What clients see of a job: its state, the JSON of GET /jobs/{id}, and the callback payload.

saq's statuses map onto five states; our own error and callback delivery live in `job.meta`
(saq's `job.error` holds a traceback, which is for logs, not for clients). Pure: no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..keys import ImageKey

if TYPE_CHECKING:
    from saq.job import Job


class State(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


# saq Status values -> State; a job waiting out a retry's backoff is queued too.
_STATES = {
    "new": State.QUEUED,
    "queued": State.QUEUED,
    "active": State.RUNNING,
    "aborting": State.RUNNING,
    "complete": State.SUCCEEDED,
    "failed": State.FAILED,
    "aborted": State.CANCELLED,
}
FINISHED = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})
CANCELLED_ERROR = {"code": "cancelled", "message": "cancelled by DELETE /jobs/{id}"}
ABANDONED_ERROR = {"code": "abandoned", "message": "its worker died or hung on every attempt"}
SWEPT = "swept"  # saq's error for a job its sweep took from a dead worker
# saq retries a job while `retries` > `attempts`: job_max_attempts 0 (for ever) stores this, shown
# as max_attempts null.
UNLIMITED_ATTEMPTS = 2**31 - 1


def state_of(job: Job) -> State:
    return _STATES[job.status.value]


def saq_statuses(state: State) -> list[str]:
    return [status for status, mapped in _STATES.items() if mapped is state]


def error_of(job: Job) -> dict[str, str] | None:
    """Our error code and message. A cancelled job's is the cancel's, whatever its attempts
    met before; saq tells a client's cancel from a sweep's by its own error text."""
    if state_of(job) is State.CANCELLED:
        return ABANDONED_ERROR if job.error == SWEPT else CANCELLED_ERROR
    return job.meta.get("error")


def job_view(job: Job) -> dict[str, Any]:
    """GET /jobs/{id}. The request's headers stay out: they may carry the source's credentials."""
    request = job.kwargs["request"] if job.kwargs else {}
    error = error_of(job) or {}
    return {
        "job_id": job.key,
        "kind": job.function,
        "queue": job.get_queue().name,
        "state": state_of(job).value,
        "progress": round(job.progress * 100),
        "attempts": job.attempts,
        "max_attempts": None if job.retries >= UNLIMITED_ATTEMPTS else job.retries,
        "created_at": iso_ms(job.queued),
        "started_at": iso_ms(job.started),
        "finished_at": iso_ms(job.completed),
        "error": error.get("code"),
        "message": error.get("message"),
        "result": job.result if state_of(job) is State.SUCCEEDED else None,
        "callback": _callback_view(request, job.meta.get("callback")),
        "request": _request_view(request),
    }


def _request_view(request: dict[str, Any]) -> dict[str, Any]:
    """The submitted fields, flat as they were sent; kind and queue are shown above. Not the
    source's headers nor a PDF's password: they are credentials."""
    shown = {k: v for k, v in request.items() if k not in ("kind", "queue", "fetch", "params")}
    fetch = {k: v for k, v in (request.get("fetch") or {}).items() if k != "headers"}
    params = {k: v for k, v in request.get("params", {}).items() if k != "password"}
    return {**params, **fetch, **shown}


def _callback_view(
    request: dict[str, Any], delivery: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Where the callback goes (a URL, or a Redis stream) and how its delivery went."""
    target = request.get("callback")
    if not target:
        return None
    kind = request.get("callback_type", "http")
    where = {"url": target} if kind == "http" else {"stream": target}
    return {"type": kind, **where, "state": "pending", "attempts": 0, **(delivery or {})}


def callback_payload(job: Job) -> dict[str, Any]:
    """The seed downloader's payload, plus what an image job made: hash, info, outputs.

    `delivered` and `delivery_error` say how the job's previous callback ended, for one sent
    again (POST /jobs/{id}/callback): delivered, or failed for good and why. The retries of one
    callback carry the same payload.
    """
    request = job.kwargs["request"] if job.kwargs else {}
    result = job.result if state_of(job) is State.SUCCEEDED else None
    error = error_of(job) or {}
    source = (request.get("fetch") or {}).get("source")
    delivery = job.meta.get("callback") or {}
    return {
        "job_id": job.key,
        "success": result is not None,
        "error": error.get("code", ""),
        "message": error.get("message", ""),
        "extra": request.get("extra"),
        "source_url": source,
        "resource_url": source or "",
        "download_url": _original_url(job, request, result),
        "response_code": job.meta.get("response_code", 0),
        "delivered": delivery.get("state") == "delivered",
        "delivery_error": (delivery.get("state") == "failed" and delivery.get("last_error")) or "",
        "hash": result.get("hash") if result else None,
        "info": result.get("info") if result else None,
        "outputs": result.get("outputs", {}) if result else {},
    }


def _original_url(job: Job, request: dict[str, Any], result: dict[str, Any] | None) -> str:
    """Where the stored original is served (the seed's `download_url`); "" before there is one."""
    if not result or "hash" not in result:
        return ""
    params, name = request["params"], request["params"].get("name")
    key = ImageKey(params["namespace"], name or result["hash"], named=name is not None)
    return f"{(job.kwargs or {}).get('base_url', '')}/{key.original}"


def iso_ms(epoch_ms: int) -> str | None:
    """saq's epoch milliseconds as ISO 8601 UTC; 0 (not yet) as None."""
    if not epoch_ms:
        return None
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
