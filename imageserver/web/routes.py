"""The route table, in one place: which handler, and which need an API key.

Specific paths come first: aiohttp matches in order.
"""

from __future__ import annotations

from aiohttp import web

from . import handlers, jobs
from .middleware import needs_api_key

IMAGE = "/{namespace}/{aaa}/{bbb}/{ccc}/{rest}"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", handlers.index)
    app.router.add_get("/healthz", handlers.healthz)
    app.router.add_get("/metrics", handlers.metrics)
    app.router.add_get("/status", jobs.status)
    app.router.add_get("/queues/{name}/status", jobs.queue_status)
    # job views carry callback URLs and extra: with API keys set, reading them needs one too
    app.router.add_post("/jobs", needs_api_key(jobs.submit))
    app.router.add_get("/jobs", needs_api_key(jobs.listed))
    app.router.add_get("/jobs/{id}", needs_api_key(jobs.get))
    app.router.add_delete("/jobs/{id}", needs_api_key(jobs.cancel))
    app.router.add_post("/jobs/{id}/retry", needs_api_key(jobs.retry))
    app.router.add_post("/jobs/{id}/callback", needs_api_key(jobs.resend_callback))
    app.router.add_post("/{namespace}", needs_api_key(jobs.with_job_form(handlers.upload)))
    app.router.add_get(IMAGE + "/info.json", handlers.info)
    app.router.add_get(IMAGE + "/original", handlers.original)
    app.router.add_get(IMAGE + "/pages.json", handlers.pages)
    app.router.add_get(IMAGE + "/{token}", handlers.output)
    app.router.add_delete(IMAGE, needs_api_key(handlers.delete))
