"""`create_app(settings)`: the one composition root of the HTTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from ..services import build_services
from ..settings import Settings
from .appkeys import SERVICES
from .middleware import error_middleware
from .routes import add_routes


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[SERVICES] = build_services(settings)
    app.cleanup_ctx.append(_services_context)
    add_routes(app)
    return app


async def _services_context(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    await services.open()
    yield
    await services.close()
