"""Dashboard access: a login page that sets a signed session cookie, or a bearer key; CSRF
tokens on every state-changing form; the security headers and `render` every page goes through.

The session is stateless: expiry + HMAC signature under a key derived from the API keys, so every
server process verifies it and changing the keys logs everyone out. Logging out drops the cookie.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from ...errors import ImageServerError
from ..appkeys import SERVICES
from ..handlers import public_base
from ..middleware import bearer_authorised, error_response, key_matches

STATIC = Path(__file__).parent / "static"
TEMPLATES = Path(__file__).parent / "templates"
PREFIX = web.AppKey("admin_prefix", str)

SESSION_COOKIE = "session"
CSRF_COOKIE = "csrf"
FLASH_COOKIE = "flash"
CSRF_FIELD = "csrf_token"
# A page that sends nothing but its own files: no inline script or style, never framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_SESSION_CONTEXT = b"imageserver admin session v1"


def setup(app: web.Application, prefix: str) -> None:
    """Templates (autoescaped) for this app, and where the dashboard lives for cookies and links."""
    app[PREFIX] = prefix
    aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, default_helpers=False
    )


# -- pure decisions ---------------------------------------------------------------------------


def session_value(keys: list[str], now_s: float, ttl_s: int) -> str:
    """`<expiry>.<signature>`: nothing secret in it, nothing to store on the server."""
    expiry = int(now_s) + ttl_s
    return f"{expiry}.{_signature(keys, expiry)}"


def session_valid(value: str, keys: list[str], now_s: float) -> bool:
    expiry, _, signature = value.partition(".")
    if not expiry.isdigit() or int(expiry) <= now_s:
        return False
    return hmac.compare_digest(signature.encode(), _signature(keys, int(expiry)).encode())


def _signature(keys: list[str], expiry: int) -> str:
    """Signed with a key derived from every API key: any process with the same keys verifies it,
    and a change of keys invalidates every session."""
    secret = hmac.new(_SESSION_CONTEXT, json.dumps(sorted(keys)).encode(), hashlib.sha256)
    return hmac.new(secret.digest(), str(expiry).encode(), hashlib.sha256).hexdigest()


def tokens_match(cookie: str | None, field: str | None) -> bool:
    """The double-submit check: the form's hidden token is the one in the csrf cookie."""
    if not cookie or not field:
        return False
    return hmac.compare_digest(cookie.encode(), field.encode())


def cross_site(headers: Any, host: str) -> bool:
    """What the browser says about where a POST comes from, when it says it: another site's
    `Sec-Fetch-Site`, or an `Origin` of another host than `host`, the public one (--public-url,
    or trusted forwarded headers: a proxy in front may rewrite Host). Host only: a TLS proxy in
    front changes the scheme the server sees."""
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc != host


def safe_next(target: str | None, prefix: str) -> str:
    """Where a login goes on to: a dashboard path only, never another site (open redirect)."""
    inside = target is not None and (target == prefix or target.startswith(prefix + "/"))
    if inside and target and not target.startswith("//") and "\\" not in target:
        return target
    return prefix or "/"


# -- access -----------------------------------------------------------------------------------


def _keys(request: web.Request) -> list[str]:
    return request.app[SERVICES].settings.api_keys


def prefix_of(request: web.Request) -> str:
    return request.app[PREFIX]


def signed_in(request: web.Request) -> bool:
    """No keys: open (writes are open then too). Else a bearer key or a valid session."""
    keys = _keys(request)
    if not keys or bearer_authorised(request, keys):
        return True
    return session_valid(request.cookies.get(SESSION_COOKIE, ""), keys, time.time())


async def _csrf_ok(request: web.Request) -> bool:
    """A bearer key is never sent by a browser on its own, so it needs no token."""
    keys = _keys(request)
    if keys and bearer_authorised(request, keys):
        return True
    if cross_site(request.headers, urlsplit(public_base(request)).netloc):
        return False
    form = await request.post()
    field = form.get(CSRF_FIELD)
    return tokens_match(request.cookies.get(CSRF_COOKIE), field if isinstance(field, str) else None)


def page(handler: Handler) -> Handler:
    """GET pages: a session (or bearer) or a redirect to the login page; `.json` answers 401."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        if signed_in(request):
            return secured(await _answered(handler, request))
        if request.path.endswith(".json"):
            message = "this needs a dashboard session or 'Authorization: Bearer <api key>'"
            return secured(error_response(401, "unauthorized", message))
        login = f"{prefix_of(request)}/login?{urlencode({'next': request.path_qs})}"
        return secured(redirect(login))

    return guarded


def action(handler: Handler) -> Handler:
    """POST forms: a session (or bearer) and the CSRF token; 403 without the token."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not signed_in(request):
            return secured(redirect(f"{prefix_of(request)}/login"))
        if not await _csrf_ok(request):
            return render_error(
                request,
                403,
                "This form's CSRF token is missing or out of date: "
                "reload the page and submit it again.",
            )
        return secured(await _answered(handler, request))

    return guarded


async def _answered(handler: Handler, request: web.Request) -> web.StreamResponse:
    """A typed error becomes a page saying what went wrong, never a stack trace (JSON for
    `.json`)."""
    try:
        return await handler(request)
    except ImageServerError as exc:
        if request.path.endswith(".json"):
            return error_response(exc.status, exc.code, exc.message)
        return render_error(request, exc.status, exc.message)


def redirect(location: str) -> web.Response:
    """303: after a POST the browser GETs the page (raising web.HTTPSeeOther would skip the
    security headers)."""
    return web.Response(status=303, headers={"Location": location})


def secured(response: web.StreamResponse) -> web.StreamResponse:
    response.headers.update(SECURITY_HEADERS)
    return response


# -- login and logout -------------------------------------------------------------------------


async def login_page(request: web.Request) -> web.StreamResponse:
    target = safe_next(request.query.get("next"), prefix_of(request))
    if signed_in(request):  # no keys, or already in
        return secured(redirect(target))
    return render(request, "login.html", {"next": target, "error": None})


async def login(request: web.Request) -> web.StreamResponse:
    """The key is compared like a bearer key (every key, constant time); the session it opens
    lasts admin_session_ttl_s."""
    if not await _csrf_ok(request):
        return render_error(request, 403, "The login form is out of date: reload it.")
    form = await request.post()
    target = safe_next(str(form.get("next", "")), prefix_of(request))
    keys, key = _keys(request), str(form.get("key", ""))
    if not keys:
        return secured(redirect(target))
    if not key or not key_matches(key, keys):
        error = "That is not one of this server's API keys."
        return render(request, "login.html", {"next": target, "error": error}, status=401)
    response = redirect(target)
    ttl_s = request.app[SERVICES].settings.admin_session_ttl_s
    _set_cookie(request, response, SESSION_COOKIE, session_value(keys, time.time(), ttl_s), ttl_s)
    return secured(response)


async def logout(request: web.Request) -> web.StreamResponse:
    response = redirect(f"{prefix_of(request)}/login")
    response.del_cookie(SESSION_COOKIE, path=_cookie_path(request))
    flash(request, response, "Logged out.")
    return secured(response)


# -- rendering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flash:
    level: str  # "info" or "error"
    message: str


def flash(
    request: web.Request, response: web.StreamResponse, message: str, level: str = "info"
) -> None:
    """A message for the next page (after a POST's redirect), in a short-lived cookie."""
    _set_cookie(request, response, FLASH_COOKIE, quote(f"{level}:{message}", safe=""), 60)


def _flash_of(request: web.Request) -> Flash | None:
    level, _, message = unquote(request.cookies.get(FLASH_COOKIE, "")).partition(":")
    if level not in ("info", "error") or not message:
        return None
    return Flash(level, message)


def render(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    """A dashboard page: the context gets csrf_token, prefix, user, open_access (no API keys),
    flash (the last action's message), static (a versioned URL of static/) and path."""
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    shown = _flash_of(request)
    full = {
        **context,
        "csrf_token": token,
        "prefix": prefix_of(request),
        "user": "operator" if _keys(request) and signed_in(request) else None,
        "open_access": not _keys(request),
        "flash": shown,
        "static": functools.partial(static_url, request),
        "path": request.path,
    }
    response = aiohttp_jinja2.render_template(template, request, full, status=status)
    if CSRF_COOKIE not in request.cookies:
        _set_cookie(request, response, CSRF_COOKIE, token, None)
    if shown is not None:
        response.del_cookie(FLASH_COOKIE, path=_cookie_path(request))
    secured(response)
    return response


def render_error(request: web.Request, status: int, message: str) -> web.Response:
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def static_url(request: web.Request, filename: str) -> str:
    """The URL of a file of static/ with its content hash (cached for good by browsers)."""
    wanted = f"{prefix_of(request)}/static"
    for resource in request.app.router.resources():
        if isinstance(resource, web.StaticResource) and resource.canonical == wanted:
            return str(resource.url_for(filename=filename))
    raise LookupError(f"no static route at {wanted}")


def _cookie_path(request: web.Request) -> str:
    return prefix_of(request) or "/"


def _set_cookie(
    request: web.Request,
    response: web.StreamResponse,
    name: str,
    value: str,
    max_age_s: int | None,
) -> None:
    """Every dashboard cookie: script cannot read it, another site's request does not carry it,
    plain HTTP does not either (browsers count http://localhost and 127.0.0.1 as secure)."""
    response.set_cookie(
        name,
        value,
        path=_cookie_path(request),
        max_age=max_age_s,
        httponly=True,
        secure=True,
        samesite="Strict",
    )
