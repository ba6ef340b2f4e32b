"""Thin handlers: parse the request, call a service, shape the response. No status codes here."""

from __future__ import annotations

import asyncio
import os
import time

from aiohttp import web

from .. import __version__, access, negotiate, presets, publicurl
from ..access import Policy
from ..documents import MANIFEST
from ..errors import Forbidden, ImageServerError, NotFound
from ..keys import ImageKey, check_namespace
from ..services import Services
from ..transform import AUTO_FORMAT, Transform, parse_token, parse_tokens
from ..variants import Output
from .appkeys import JOBS, SERVICES, SIBLINGS
from .bodies import upload_bytes
from .responses import fallback_bytes, immutable_bytes, original_headers

PRESET_REDIRECT_CACHE = "public, max-age=3600"


def _services(request: web.Request) -> Services:
    return request.app[SERVICES]


def _image_key(request: web.Request) -> ImageKey:
    """Either route form (web/routes.py): a content hash's partitions, or a name."""
    m = request.match_info
    if "name" in m:
        return ImageKey.of_name(m["namespace"], m["name"])
    return ImageKey.from_path(m["namespace"], m["aaa"], m["bbb"], m["ccc"], m["rest"])


def about() -> dict[str, str]:
    """GET /'s answer (web/seeds/insight.py serves it, with insight-reloaded's greeting)."""
    return {"name": "imageserver", "version": __version__}


async def healthz(request: web.Request) -> web.Response:
    """A load balancer drains a node by creating its maintenance file."""
    if await in_maintenance(request):
        return web.json_response({"status": "maintenance"}, status=503)
    return web.json_response({"status": "ok"})


async def in_maintenance(request: web.Request) -> bool:
    """Whether --maintenance-file exists: /healthz and the seeds' heartbeats answer 503 then."""
    maintenance_file = _services(request).settings.maintenance_file
    return bool(maintenance_file) and await asyncio.to_thread(os.path.exists, maintenance_file)


async def metrics(request: web.Request) -> web.Response:
    """The whole server's counts: with serve --processes N, the other processes' are added;
    the jobs' are read from their backend."""
    siblings = request.app.get(SIBLINGS)
    others = await asyncio.to_thread(siblings.others) if siblings is not None else []
    counts = _services(request).metrics
    jobs = await counts.job_tally(request.app[JOBS].tally)  # every worker's, on every node
    body = counts.exposition(others, jobs)
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


async def upload(request: web.Request) -> web.Response:
    services = _services(request)
    namespace = check_namespace(request.match_info["namespace"])
    outputs = _requested_outputs(request, services) + services.outputs_on_upload(namespace)
    data = await _original_bytes(request, services)
    render_outputs = services.variants.for_upload(outputs, data)
    password = request.query.get("password")  # encrypted PDFs; never logged (web/accesslog.py)
    ingested = await services.originals.ingest(namespace, data, render_outputs, password=password)
    settings = services.settings
    answer = publicurl.upload_answer(
        ingested.info,
        ingested.key,
        [t.token() for t in outputs],
        public_base(request),
        settings.url_signing_keys,
        settings.url_signature_bytes,
    )
    return web.json_response(answer)


def public_base(request: web.Request) -> str:
    """Where every URL the server answers starts (publicurl.py): the proxy's, not ours."""
    settings = _services(request).settings
    return publicurl.base_url(settings, request.scheme, request.host, request.headers)


def _requested_outputs(request: web.Request, services: Services) -> list[Transform]:
    """Validated before the body is read: a bad token costs the client nothing."""
    outputs = parse_tokens(
        request.query.get("outputs", ""),
        max_side=services.settings.max_output_side,
        presets=services.settings.namespace_presets.get(request.match_info["namespace"]),
    )
    services.variants.overlays.check(outputs)
    return outputs


async def _original_bytes(request: web.Request, services: Services) -> bytes:
    source = request.query.get("source")
    if source:
        return await services.sources.fetch(source)
    return await upload_bytes(request, services.settings)


async def info(request: web.Request) -> web.Response:
    return web.json_response(await _services(request).originals.info(_image_key(request)))


async def original(request: web.Request) -> web.Response:
    originals = _services(request).originals
    key = _image_key(request)
    described = await originals.info(key)
    data = await originals.original(key)
    etag = '"' + described["hash"] + '"'
    content_type = described["content_type"]
    headers = original_headers(content_type, file=described.get("file", False))
    return immutable_bytes(request, data, content_type, etag, headers)


async def pages(request: web.Request) -> web.Response:
    """A PDF's pages.json, from its last rasterize job: the next one rewrites it, so no
    immutable caching here."""
    key = _image_key(request)
    body = await _services(request).storage.get(key.output(MANIFEST))
    if body is None:
        raise NotFound(f"no pages.json for {key.hash} in {key.namespace}: rasterize it first")
    headers = {"Cache-Control": "no-cache"}
    return web.Response(body=body, content_type="application/json", headers=headers)


async def output(request: web.Request) -> web.Response:
    services = _services(request)
    settings = services.settings
    policy = settings.policy_of(request.match_info["namespace"])
    hot = services.variants.cached(request.path[1:])
    if hot is not None and (
        policy is Policy.PUBLIC or settings.stored_outputs_public or _signed(request, services)
    ):
        return immutable_bytes(request, hot.body, hot.content_type, hot.etag)
    key = _image_key(request)
    token = request.match_info["token"]
    named = settings.namespace_presets.get(key.namespace, {})
    transform = parse_token(token, max_side=settings.max_output_side, presets=named)
    preset = presets.is_preset(token, named)
    # presets-only: the preset's own URL is the one that may render, so it is served, not moved
    if transform.token() != token and not (preset and policy is Policy.PRESETS_ONLY):
        raise _to_canonical(request, transform, preset)
    allowed = access.decide(
        policy,
        signed=_signed(request, services),
        preset=preset,
        stored_public=settings.stored_outputs_public,
    )
    if not allowed.stored:
        raise Forbidden(access.refusal(policy, key.namespace))
    concrete = await _negotiated(request, services, key, transform)
    vary = {"Vary": "Accept"} if concrete is not transform else None
    try:
        result = await _lookup(services, key, concrete, allowed.render, vary)
    except ImageServerError as exc:
        services.metrics.event("image_request_fail")
        if services.fallback is None or not services.fallback.covers(exc):
            raise
        return fallback_bytes(services.fallback, exc)
    if result is None:
        raise Forbidden(access.refusal(policy, key.namespace))
    return immutable_bytes(request, result.body, result.content_type, result.etag, vary)


async def _lookup(
    services: Services,
    key: ImageKey,
    transform: Transform,
    render: bool,
    vary: dict[str, str] | None,
) -> Output | None:
    """Memory first (`.auto`'s pick too), then a redirect to storage, then the render if the
    URL policy allows one; None: not stored, and this request may not render it."""
    result = services.variants.cached(key.output(transform.token()))
    if result is not None:
        return result
    location = await services.variants.location(key, transform)
    if location is not None:
        raise web.HTTPFound(location, headers=vary)
    if not render:
        return await services.variants.stored(key, transform)
    return await services.variants.get(key, transform)


def _signed(request: web.Request, services: Services) -> bool:
    target = request.raw_path
    if "?" not in target:
        return False
    return services.signatures.valid_target(target, time.time())


async def _negotiated(
    request: web.Request, services: Services, key: ImageKey, transform: Transform
) -> Transform:
    """`.auto` becomes the best format the client accepts; stored under that format's name."""
    if transform.format != AUTO_FORMAT:
        return transform
    info = await services.originals.info(key)
    return negotiate.resolve(
        transform,
        request.headers.get("Accept", ""),
        alpha=info.get("alpha", False),
        animated=info.get("frames", 1) > 1,
    )


def _to_canonical(request: web.Request, transform: Transform, preset: bool) -> web.HTTPException:
    """Other spellings move for good (301). A preset may be redefined, so its redirect is
    temporary (302) and cached briefly: outputs stay stored and served under canonical names."""
    location = _canonical_location(request, transform)
    if preset:
        return web.HTTPFound(location, headers={"Cache-Control": PRESET_REDIRECT_CACHE})
    return web.HTTPMovedPermanently(location)


def _canonical_location(request: web.Request, transform: Transform) -> str:
    path = request.path.rsplit("/", 1)[0] + "/" + transform.token()
    return path + ("?" + request.query_string if request.query_string else "")


async def delete(request: web.Request) -> web.Response:
    services = _services(request)
    key = _image_key(request)
    removed = await services.delete_original(key)
    return web.json_response({"hash": key.hash, "deleted": removed})
