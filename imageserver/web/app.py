"""`create_app(settings)`: the one composition root of the HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from ..jobs import Jobs, Workers
from ..jwtauth import load_keys
from ..services import build_services
from ..settings import Settings
from .accesslog import redact_access_log
from .appkeys import GATEWAY_JWT, JOBS, SERVICES, SIBLINGS
from .middleware import error_middleware
from .routes import add_routes
from .siblings import Siblings, publishing

# For whatever runs the app (web.run_app, web.AppRunner): a client that hangs up cancels its
# handler, so a render only it waited for is not started (flights.py). Writes run to the end
# regardless (middleware.runs_to_completion).
SERVER_OPTIONS: dict[str, Any] = {"handler_cancellation": True}


def create_app(settings: Settings, siblings: Siblings | None = None) -> web.Application:
    """`siblings`: the other serving processes (serve --processes N), whose counts /metrics adds."""
    app = web.Application(middlewares=[error_middleware])
    redact_access_log()
    app[SERVICES] = build_services(settings)
    app[JOBS] = Jobs(settings)
    jwt_keys = load_keys(settings.gateway_jwt_secret, settings.gateway_jwt_public_key)
    if jwt_keys is not None:  # the gateway's routes then take a JWT instead of an API key
        app[GATEWAY_JWT] = jwt_keys
    app.cleanup_ctx.append(_services_context)
    app.cleanup_ctx.append(_jobs_context)
    if siblings is not None:
        app[SIBLINGS] = siblings
        app.cleanup_ctx.append(lambda app: publishing(app[SIBLINGS], app[SERVICES].metrics))
    add_routes(app)
    return app


async def _services_context(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    await services.open()
    sweeping = None
    if services.settings.sweep_after_s > 0:  # in the background: a big store takes a while
        sweeping = asyncio.ensure_future(services.storage.sweep(services.settings.sweep_after_s))
    yield
    if sweeping is not None:
        sweeping.cancel()
    await services.close()


async def _jobs_context(app: web.Application) -> AsyncIterator[None]:
    """After the services: the workers use them. `--no-workers` serves the API alone."""
    jobs = app[JOBS]
    await jobs.open()
    workers = Workers(jobs, app[SERVICES]) if jobs.settings.workers else None
    if workers is not None:
        await workers.start()
    yield
    if workers is not None:
        await workers.stop()
    await jobs.close()
