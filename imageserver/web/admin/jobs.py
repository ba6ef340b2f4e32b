"""Jobs pages: counts per queue and state, a filtered and paged table, a job's page, actions."""

from __future__ import annotations

from aiohttp import web


async def overview(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError


async def listing(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError


async def detail(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError


async def act(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError


async def counts(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError
