"""Groups page: the downloader's aggregations (per group limit, in flight, queued, failures)."""

from __future__ import annotations

from aiohttp import web


async def page(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError
