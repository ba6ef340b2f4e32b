"""GET /openapi.json: the API's OpenAPI 3.1 description, built from the tables beside this
(native.py, seeds.py, schemas.py). tests/web/test_openapi.py keeps it equal to web/routes.py, so a
route added without its description fails there."""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.typedefs import Handler

from ... import __version__
from ...settings import Settings
from .native import image_paths, job_paths, operation_paths
from .schemas import Json, components
from .seeds import downloader_paths, gateway_paths, insight_paths, queue_submit

TAGS = [
    {"name": "images", "description": "uploads, originals and outputs"},
    {"name": "jobs", "description": "background work: ingest, download, rasterize"},
    {"name": "operations", "description": "health, metrics and this description"},
    {"name": "insight-reloaded", "description": "the seed's spellings (docs/migrating.md)"},
    {"name": "skroutz downloader", "description": "the seed's spellings (docs/migrating.md)"},
    {"name": "CRIM gateway", "description": "the seed's spellings (docs/migrating.md)"},
]


def describe(settings: Settings) -> Json:
    """The whole document; `servers` is the public base URL when one is set (else clients take
    the URL they fetched this from, as OpenAPI says)."""
    paths = {
        **operation_paths(),
        **image_paths(),
        **job_paths(),
        **insight_paths(),
        **downloader_paths(),
        **gateway_paths(),
    }
    paths["/{namespace}"]["get"] = queue_submit()  # one path item per spelling (OpenAPI)
    document: Json = {
        "openapi": "3.1.0",
        "info": {
            "title": "imageserver",
            "version": __version__,
            "description": "On-demand image server: upload originals into namespaces, render "
            "outputs named in the URL. Every error is JSON {error, message}.",
        },
        "tags": TAGS,
        "paths": paths,
        "components": components(settings.job_queues),
    }
    if settings.public_url:
        document["servers"] = [{"url": settings.public_url.rstrip("/")}]
    return document


def handler(settings: Settings) -> Handler:
    """The settings never change while serving, so neither does the document: it is encoded at
    its first request (not at start, which most servers never ask it of) and kept."""
    encoded: list[bytes] = []

    async def serve(_request: web.Request) -> web.Response:
        if not encoded:
            encoded.append(json.dumps(describe(settings)).encode())
        return web.Response(body=encoded[0], content_type="application/json")

    return serve
