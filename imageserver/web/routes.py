"""The route table, in one place: which handler, and which are writes (an API key when keys
are set; run to the end when their client hangs up).

Specific paths come first: aiohttp matches in order. The seeds' own spellings (web/seeds/) sit
beside the native routes they map onto; their top-level names are reserved (keys.py).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from ..keys import NAMED
from . import handlers, jobs, openapi, seeds
from .admin import add_admin_routes
from .appkeys import SERVICES
from .middleware import needs_api_key, runs_to_completion
from .seeds import downloader, gateway, insight

IMAGE = "/{namespace}/{aaa}/{bbb}/{ccc}/{rest}"
# An original stored under a client's name (keys.NAMED): read like IMAGE, never deleted (a name
# is written once, and its outputs are cached as immutable)
NAMED_IMAGE = "/{namespace}/" + NAMED + "/{name}"


def _write(handler: Handler) -> Handler:
    return needs_api_key(runs_to_completion(handler))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", insight.index)  # the index; with ?url=, insight-reloaded's submit
    add_admin_routes(app, app[SERVICES].settings.admin_prefix)  # before /{queue}
    app.router.add_get("/healthz", handlers.healthz)
    app.router.add_get("/hb", downloader.heartbeat)
    app.router.add_get("/metrics", handlers.metrics)
    app.router.add_get("/openapi.json", openapi.handler(app[SERVICES].settings))
    app.router.add_get("/status", insight.status)
    app.router.add_get("/queues/{name}/status", jobs.queue_status)
    # job views carry callback URLs and extra: with API keys set, reading them needs one too
    app.router.add_post("/jobs", _write(jobs.submit))
    app.router.add_get("/jobs", needs_api_key(jobs.listed))
    app.router.add_get("/jobs/{id}", needs_api_key(jobs.get))
    app.router.add_delete("/jobs/{id}", _write(jobs.cancel))
    app.router.add_post("/jobs/{id}/retry", _write(jobs.retry))
    app.router.add_post("/jobs/{id}/callback", _write(jobs.resend_callback))
    app.router.add_post("/download", _write(downloader.download))
    app.router.add_post("/retry/{id}", _write(downloader.retry_callback))
    app.router.add_get("/dashboard/aggregations", needs_api_key(downloader.aggregations))
    app.router.add_post("/{namespace}", _write(jobs.with_job_form(handlers.upload)))
    app.router.add_get("/{queue}", insight.submit)  # checks the API key itself
    app.router.add_get("/{name}/status", seeds.status)
    # the gateway checks its JWT (or the API key) itself
    app.router.add_post("/{service}/annotate", runs_to_completion(gateway.annotate))
    app.router.add_post("/{service}/annotate/{doc_id}", runs_to_completion(gateway.annotate))
    app.router.add_post("/{service}/process", runs_to_completion(gateway.process))
    app.router.add_post("/{service}/cancel", runs_to_completion(gateway.cancel))
    app.router.add_get(IMAGE + "/info.json", handlers.info)
    app.router.add_get(IMAGE + "/original", handlers.original)
    app.router.add_get(IMAGE + "/pages.json", handlers.pages)
    app.router.add_get(IMAGE + "/{token}", handlers.output)
    app.router.add_get(NAMED_IMAGE + "/info.json", handlers.info)
    app.router.add_get(NAMED_IMAGE + "/original", handlers.original)
    app.router.add_get(NAMED_IMAGE + "/{token}", handlers.output)
    app.router.add_delete(IMAGE, _write(handlers.delete))
