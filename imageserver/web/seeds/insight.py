"""insight-reloaded's API: `GET /?url=&callback=`, `GET /{queue}?url=...`, `/status`,
`/{queue}/status` (README "Migrating from insight-reloaded")."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import JOBS

__all__ = ["JOBS", "index", "queue_status", "status", "submit"]


async def index(request: web.Request) -> web.Response:
    raise NotImplementedError


async def submit(request: web.Request) -> web.Response:
    raise NotImplementedError


async def status(request: web.Request) -> web.Response:
    raise NotImplementedError


async def queue_status(request: web.Request) -> web.Response:
    raise NotImplementedError
