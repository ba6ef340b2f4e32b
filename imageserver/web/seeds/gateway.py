"""The CRIM Service Gateway's API: `POST /{service}/annotate` (form, `doc_url=`), `/process`
(JSON), `GET /{service}/status?uuid=`, `/cancel` (README "Migrating from the CRIM Service
Gateway")."""

from __future__ import annotations

from aiohttp import web


async def annotate(request: web.Request) -> web.Response:
    raise NotImplementedError


async def process(request: web.Request) -> web.Response:
    raise NotImplementedError


async def status(request: web.Request) -> web.Response:
    raise NotImplementedError


async def cancel(request: web.Request) -> web.Response:
    raise NotImplementedError
