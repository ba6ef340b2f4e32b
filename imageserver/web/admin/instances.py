"""Instances page: every server and worker process, from heartbeats in the job backend."""

from __future__ import annotations

from aiohttp import web


async def page(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError
