"""Cross-cutting request handling: error JSON, auth for writes, request metrics.

Handlers raise typed errors; only here do they become `{"error", "message"}` responses.
"""

from __future__ import annotations

import hmac
import logging
import re

from aiohttp import web
from aiohttp.typedefs import Handler

from ..errors import ImageServerError, Overloaded, Unauthorized
from .appkeys import SERVICES

log = logging.getLogger(__name__)
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[SERVICES].metrics.request(request.method, status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ImageServerError as exc:
        response = error_response(exc.status, exc.code, exc.message)
        if isinstance(exc, Overloaded):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects pass through
        return error_response(exc.status, _code(exc.reason), exc.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal server error")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Writes need a bearer key when keys are configured; reads stay public."""
    keys = request.app[SERVICES].settings.api_keys
    if keys and request.method in _WRITE_METHODS and not _authorised(request, keys):
        raise Unauthorized("this request needs 'Authorization: Bearer <api key>'")
    return await handler(request)


def _authorised(request: web.Request, keys: list[str]) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    # compare with every key, so timing does not tell which one nearly matched
    matches = [hmac.compare_digest(token.encode(), key.encode()) for key in keys]
    return any(matches)


def _code(reason: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", reason.lower()).strip("_")
