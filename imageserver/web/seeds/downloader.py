"""The skroutz downloader's API: `POST /download`, `GET /hb`, `POST /retry/{id}`,
`GET /dashboard/aggregations` (README "Migrating from the skroutz downloader")."""

from __future__ import annotations

from aiohttp import web


async def download(request: web.Request) -> web.Response:
    raise NotImplementedError


async def heartbeat(request: web.Request) -> web.Response:
    raise NotImplementedError


async def retry_callback(request: web.Request) -> web.Response:
    raise NotImplementedError


async def aggregations(request: web.Request) -> web.Response:
    raise NotImplementedError
