"""Cross-cutting request handling: error JSON and request metrics; the API-key guard.

Handlers raise typed errors; only here do they become `{"error", "message"}` responses.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import re
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from ..cors import READS
from ..errors import ImageServerError, Unauthorized
from .appkeys import SERVICES

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Typed errors become JSON; every answer is counted by status (one layer, for speed), and
    an output's latency kept for the dashboard (only output routes have a `token`)."""
    started = time.perf_counter()
    try:
        response = await handler(request)
    except ImageServerError as exc:
        response = error_response(exc.status, exc.code, exc.message)
        response.headers.update(exc.headers())
    except web.HTTPException as exc:
        if exc.status < 400:
            _counted(request, exc.status, started)
            raise  # redirects pass through
        response = _http_error(request, exc)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        response = error_response(500, "internal", "internal server error")
    _counted(request, response.status, started)
    return response


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's own errors (no route, a body too large, ...). A GET of a path routed for other
    methods only (DELETE of an image's base path, POST /download) finds nothing there, as any
    unknown path: a 404, not a 405. Other methods' 405 says which would do (Allow)."""
    if exc.status == 405 and request.method in READS:
        exc = web.HTTPNotFound()
    response = error_response(exc.status, _code(exc.reason), exc.reason)
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


def _counted(request: web.Request, status: int, started: float) -> None:
    metrics = request.app[SERVICES].metrics
    metrics.request(request.method, status)
    if "token" in request.match_info:
        metrics.served(time.perf_counter() - started)


def needs_api_key(handler: Handler) -> Handler:
    """Wraps write handlers in the route table: writes need a bearer key when keys are set.

    A wrapper rather than a middleware, so reads (the hot path) pay nothing for it.
    """

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        check_api_key(request)
        return await handler(request)

    return guarded


def check_api_key(request: web.Request) -> None:
    """For handlers that are writes only sometimes (insight-reloaded's GET with ?url=)."""
    keys = request.app[SERVICES].settings.api_keys
    if keys and not bearer_authorised(request, keys):
        raise Unauthorized("this request needs 'Authorization: Bearer <api key>'")


def runs_to_completion(handler: Handler) -> Handler:
    """Wraps write handlers in the route table: with handler cancellation (web/app.py), a client
    hanging up would stop an upload between its original and its info, or a delete halfway.
    The write goes on in a task of its own; only the answer is lost."""

    @functools.wraps(handler)
    async def shielded(request: web.Request) -> web.StreamResponse:
        task = asyncio.ensure_future(handler(request))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_log_failure)
            raise

    return shielded


def _log_failure(task: asyncio.Future[web.StreamResponse]) -> None:
    """A write whose client left has nobody to answer: an unexpected failure is logged here."""
    exc = None if task.cancelled() else task.exception()
    if exc is not None and not isinstance(
        exc, ImageServerError | web.HTTPException | ConnectionError
    ):
        log.error("%s after its client left", type(exc).__name__, exc_info=exc)


def bearer_authorised(request: web.Request, keys: list[str]) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return key_matches(token, keys)


def key_matches(token: str, keys: list[str]) -> bool:
    """Also the admin dashboard's login form (web/admin/auth.py)."""
    # compare with every key, so timing does not tell which one nearly matched
    matches = [hmac.compare_digest(token.encode(), key.encode()) for key in keys]
    return any(matches)


def _code(reason: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", reason.lower()).strip("_")
