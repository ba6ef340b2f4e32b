"""The seeds' HTTP APIs, spelt as their READMEs spell them: thin mappings onto the same services.

One module per seed (docs/migrating.md); none holds a rule of its own: each parses its
seed's request into what the native handlers take, calls the same services, and shapes the
seed's answer. Routes are in web/routes.py with every other.
"""

from __future__ import annotations

from aiohttp import web

from ...errors import NotFound
from . import downloader, gateway, insight

__all__ = ["downloader", "gateway", "insight", "status"]


async def status(request: web.Request) -> web.Response:
    """`GET /{name}/status`: the CRIM gateway's `?uuid=` lookup, or insight-reloaded's count of
    queue `name`; both seeds spell their status route so."""
    if "uuid" in request.query:
        return await gateway.status(request)
    if request.match_info["name"] in request.app[insight.JOBS].queues:
        return await insight.queue_status(request)
    raise NotFound(f"no queue {request.match_info['name']!r}, and no ?uuid= to look up")
