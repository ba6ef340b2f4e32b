"""The route table, in one place: which handler, and which need an API key.

Specific paths come first: aiohttp matches in order.
"""

from __future__ import annotations

from aiohttp import web

from . import handlers
from .middleware import needs_api_key

IMAGE = "/{namespace}/{aaa}/{bbb}/{ccc}/{rest}"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", handlers.index)
    app.router.add_get("/healthz", handlers.healthz)
    app.router.add_get("/metrics", handlers.metrics)
    app.router.add_post("/{namespace}", needs_api_key(handlers.upload))
    app.router.add_get(IMAGE + "/info.json", handlers.info)
    app.router.add_get(IMAGE + "/original", handlers.original)
    app.router.add_get(IMAGE + "/{token}", handlers.output)
    app.router.add_delete(IMAGE, needs_api_key(handlers.delete))
