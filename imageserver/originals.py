"""Originals and their info.json: ingest (hash, probe, store), read back, delete.

Ingest is idempotent: the same bytes hash to the same key, and a second upload finds the info.
"""

from __future__ import annotations

import json
from typing import Any

from . import render
from .errors import NotFound
from .keys import ImageKey, check_namespace, content_hash
from .pool import RenderPool
from .storage import Storage

JSON = "application/json"


class Originals:
    def __init__(self, storage: Storage, pool: RenderPool, limits: render.Limits) -> None:
        self.storage = storage
        self.pool = pool
        self.limits = limits

    async def ingest(self, namespace: str, data: bytes) -> tuple[ImageKey, dict[str, Any]]:
        """Probes before storing: nothing that fails to decode or breaks a limit is kept."""
        key = ImageKey(check_namespace(namespace), content_hash(data))
        existing = await self.storage.get(key.info)
        if existing is not None:
            return key, json.loads(existing)
        found = await self.pool.run(render.probe, data, self.limits)
        info = describe(key, found, len(data))
        await self.storage.put(key.original, data, content_type=found.input.mime, durable=True)
        await self.storage.put(key.info, json.dumps(info).encode(), content_type=JSON, durable=True)
        return key, info

    async def info(self, key: ImageKey) -> dict[str, Any]:
        raw = await self.storage.get(key.info)
        if raw is None:
            raise NotFound(f"no image {key.hash} in namespace {key.namespace}")
        return json.loads(raw)

    async def original(self, key: ImageKey) -> bytes:
        data = await self.storage.get(key.original)
        if data is None:
            raise NotFound(f"no image {key.hash} in namespace {key.namespace}")
        return data

    async def delete(self, key: ImageKey) -> int:
        if not await self.storage.exists(key.info):
            raise NotFound(f"no image {key.hash} in namespace {key.namespace}")
        return await self.storage.delete_prefix(key.prefix)


def describe(key: ImageKey, found: render.Probe, size: int) -> dict[str, Any]:
    """info.json: the seed's four fields, then size, and frames/pages/alpha where they apply."""
    info: dict[str, Any] = {
        "hash": key.hash,
        "width": found.width,
        "height": found.height,
        "content_type": found.input.mime,
        "size": size,
    }
    if found.frames > 1:
        info["frames"] = found.frames
    if found.pages > 1:
        info["pages"] = found.pages
    if found.alpha:
        info["alpha"] = True
    return info
