"""Responses for content-addressed bytes: immutable caching, ETag, 304 and HEAD; the headers that
keep user uploads from running as pages of our origin."""

from __future__ import annotations

from aiohttp import web

from ..errors import ImageServerError
from ..fallback import Fallback
from ..keys import IMMUTABLE


def immutable_bytes(
    request: web.Request,
    body: bytes,
    content_type: str,
    etag: str,
    extra_headers: dict[str, str] | None = None,
) -> web.Response:
    """URLs name their content, so a client that has the ETag has the bytes: 304 it."""
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE,
        "X-Content-Type-Options": "nosniff",  # a polyglot stays the image its type says
        **(extra_headers or {}),
    }
    if _etag_matches(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = content_type
    return web.Response(body=body, headers=headers)


def fallback_bytes(fallback: Fallback, error: ImageServerError) -> web.Response:
    """The fallback image for a failed render (--fallback-image): 200, so an <img> shows it;
    cached briefly, as the failure may pass; never stored as the output. The real status and
    error code ride in headers, for logs and for clients that care."""
    headers = {
        "Cache-Control": f"public, max-age={fallback.ttl_s}",
        "X-Content-Type-Options": "nosniff",
        "X-Imageserver-Status": str(error.status),
        "X-Imageserver-Error": error.code,
    }
    return web.Response(body=fallback.body, content_type=fallback.content_type, headers=headers)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {c.strip().removeprefix("W/") for c in header.split(",")}
    return "*" in candidates or etag in candidates


# An original is whatever a user uploaded. Opened as a page, an SVG runs its scripts on our origin
# (stored XSS): it is sandboxed (no script, no requests, an opaque origin) and downloaded rather
# than shown. Other images are sandboxed too, which costs them nothing; PDFs are not, as
# browsers' PDF viewers refuse to run sandboxed (their scripts run in the viewer, not the page).
SANDBOX = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
SCRIPTABLE = frozenset({"image/svg+xml"})
UNSANDBOXED = frozenset({"application/pdf"})


def original_headers(content_type: str, *, file: bool = False) -> dict[str, str]:
    """`file`: a download of no image format (jobs' `download` kind), whose type is only what
    its server claimed: always sandboxed, always an attachment, whatever it claims to be."""
    sandboxed = file or content_type not in UNSANDBOXED
    headers = {"Content-Security-Policy": SANDBOX} if sandboxed else {}
    if file or content_type in SCRIPTABLE:
        headers["Content-Disposition"] = "attachment"
    return headers
