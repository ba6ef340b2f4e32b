"""Responses for content-addressed bytes: immutable caching, ETag, 304 and HEAD."""

from __future__ import annotations

from aiohttp import web

from ..keys import IMMUTABLE


def immutable_bytes(
    request: web.Request,
    body: bytes,
    content_type: str,
    etag: str,
    extra_headers: dict[str, str] | None = None,
) -> web.Response:
    """URLs name their content, so a client that has the ETag has the bytes: 304 it."""
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE, **(extra_headers or {})}
    if _etag_matches(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = content_type
    return web.Response(body=body, headers=headers)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {c.strip().removeprefix("W/") for c in header.split(",")}
    return "*" in candidates or etag in candidates
