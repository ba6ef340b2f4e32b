"""CORS on the routes a page may read (cors.py decides): images, info.json, pages.json,
originals, job views, /openapi.json. A middleware installed only when `cors_origins` is set, so a
server without it pays nothing; outermost, so errors and redirects carry the headers too (a
browser drops a cross-origin 404 or a redirect to storage without them)."""

from __future__ import annotations

from collections.abc import MutableMapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ..cors import READS, Cors
from ..settings import Settings
from .routes import IMAGE, NAMED_IMAGE

SHARED_READS = frozenset(
    {
        *(IMAGE + suffix for suffix in ("/info.json", "/original", "/pages.json", "/{token}")),
        *(NAMED_IMAGE + suffix for suffix in ("/info.json", "/original", "/{token}")),
        "/jobs",
        "/jobs/{id}",
        "/openapi.json",
    }
)


def cors_middleware(settings: Settings) -> Middleware | None:
    if not settings.cors_origins:
        return None
    cors = Cors(settings.cors_origins)

    @web.middleware
    async def cross_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return await _preflight(request, cors) or await handler(request)
        if request.method not in READS or _route(request.match_info) not in SHARED_READS:
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # a redirect (errors are answers by now)
            _allow(exc.headers, request, cors)
            raise
        _allow(response.headers, request, cors)
        return response

    return cross_origin


async def _preflight(request: web.Request, cors: Cors) -> web.Response | None:
    """204 with the allowance for a GET of a shared read; None: no allowance, and OPTIONS is
    answered as any unrouted method is (405)."""
    headers = request.headers
    allowance = cors.preflight_headers(
        headers.get("Origin"), headers.get("Access-Control-Request-Method")
    )
    if allowance is None:
        return None
    as_get = await request.app.router.resolve(request.clone(method="GET"))
    if _route(as_get) not in SHARED_READS:
        return None
    return web.Response(status=204, headers=allowance)


def _route(match_info: web.UrlMappingMatchInfo) -> str | None:
    resource = match_info.route.resource
    return resource.canonical if resource is not None else None


def _allow(headers: MutableMapping[str, str], request: web.Request, cors: Cors) -> None:
    """The allowance for the request's origin, if any; `Vary: Origin` either way when origins
    are echoed, so that a shared cache does not hand one origin's answer to another."""
    allowance = cors.read_headers(request.headers.get("Origin"))
    if allowance is not None:
        headers.update(allowance)
    if cors.vary:
        vary = headers.get("Vary")
        headers["Vary"] = f"{vary}, Origin" if vary else "Origin"
