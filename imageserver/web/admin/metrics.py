"""Metrics page: renders/s, hit ratio, latency p50/p99 and queue depth over the last hour."""

from __future__ import annotations

from aiohttp import web


async def page(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError
