"""`create_app(settings)`: the one composition root of the HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from ..jobs import Jobs, Workers
from ..jobs.instances import Heartbeat
from ..jobs.uploads import RecentUploads
from ..jwtauth import load_keys
from ..services import build_services
from ..settings import Settings
from .accesslog import redact_access_log
from .admin.metrics import sampling
from .appkeys import GATEWAY_JWT, JOBS, SERVICES, SIBLINGS
from .cors import cors_middleware
from .middleware import error_middleware
from .routes import add_routes
from .siblings import Siblings, publishing

# For whatever runs the app (web.run_app, web.AppRunner): a client that hangs up cancels its
# handler, so a render only it waited for is not started (flights.py). Writes run to the end
# regardless (middleware.runs_to_completion).
SERVER_OPTIONS: dict[str, Any] = {"handler_cancellation": True}


def create_app(settings: Settings, siblings: Siblings | None = None) -> web.Application:
    """`siblings`: the other serving processes (serve --processes N), whose counts /metrics adds."""
    cross_origin = cors_middleware(settings)  # outermost: its headers go on errors too
    middlewares = [error_middleware] if cross_origin is None else [cross_origin, error_middleware]
    app = web.Application(middlewares=middlewares)
    redact_access_log()
    app[SERVICES] = build_services(settings)
    app[JOBS] = Jobs(settings)
    jwt_keys = load_keys(settings.gateway_jwt_secret, settings.gateway_jwt_public_key)
    if jwt_keys is not None:  # the gateway's routes then take a JWT instead of an API key
        app[GATEWAY_JWT] = jwt_keys
    app.cleanup_ctx.append(_services_context)
    app.cleanup_ctx.append(_jobs_context)
    app.cleanup_ctx.append(sampling)  # the dashboard's queue depth, every second
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
    """After the services: the workers use them. `--no-workers` serves the API alone. The
    heartbeat lists this process on the dashboard's Instances (jobs/instances.py)."""
    jobs, settings = app[JOBS], app[JOBS].settings
    await jobs.open()
    uploads = RecentUploads(jobs.backend)  # for the dashboard's Images (jobs/uploads.py)
    uploads.attach(app[SERVICES].originals)
    workers = Workers(jobs, app[SERVICES]) if settings.workers else None
    if workers is not None:
        await workers.start()
    running = workers.running if workers is not None else None
    heartbeat = Heartbeat(
        jobs.backend, "server", settings.instance_heartbeat_s, settings.port, running
    )
    await heartbeat.start()
    yield
    await heartbeat.stop()
    if workers is not None:
        await workers.stop()
    uploads.detach(app[SERVICES].originals)
    await jobs.close()
