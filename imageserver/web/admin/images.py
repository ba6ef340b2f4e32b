"""Images page: recent uploads per namespace with thumbnails, an original's info and outputs."""

from __future__ import annotations

from aiohttp import web


async def page(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError


async def detail(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError


async def delete(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError
