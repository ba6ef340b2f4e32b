"""Originals and their info.json: ingest (hash, probe, store), read back, delete.

Ingest is idempotent: the same bytes hash to the same key, and a second upload finds the info.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from . import render
from .errors import NotFound, Undecodable
from .keys import ImageKey, check_namespace, content_hash
from .memcache import ByteLRU
from .pool import RenderPool
from .storage import Storage

JSON = "application/json"


class RenderOutputs(Protocol):
    """Makes the caller's outputs of an original (Variants.for_upload). `probe` is the header
    ingest just read, so the render need not read it again; None for a known original."""

    def __call__(self, key: ImageKey, *, probe: render.Probe | None) -> Awaitable[object]: ...


@dataclass(frozen=True)
class Ingested:
    key: ImageKey
    info: dict[str, Any]
    created: bool  # False: these bytes were stored already (the same hash)


# info.json of recent originals, kept in memory: `.auto` outputs and /original read it on every
# request, and it never changes while the original exists (a few hundred bytes each).
INFO_CACHE_BYTES = 4 * 1024 * 1024


class Originals:
    def __init__(self, storage: Storage, pool: RenderPool, limits: render.Limits) -> None:
        self.storage = storage
        self.pool = pool
        self.limits = limits
        self._infos: ByteLRU[dict[str, Any]] = ByteLRU(INFO_CACHE_BYTES, INFO_CACHE_BYTES)

    async def ingest(
        self,
        namespace: str,
        data: bytes,
        render_outputs: RenderOutputs | None = None,
        *,
        password: str | None = None,
    ) -> Ingested:
        """Checks before storing: nothing that fails to decode or breaks a limit is kept.

        `render_outputs(key)` (at least one output) makes the caller's outputs, for known and new
        originals alike. For a new one they run before it is stored, in place of the probe's trial
        decode: their renders decode the pixels anyway, so N outputs cost N decodes, not N + 1.

        `password` opens an encrypted PDF. Its decrypted copy is stored, so renders need no
        password later; its key hashes the uploaded bytes with the password (keys.content_hash).
        """
        namespace = check_namespace(namespace)
        key, data, encrypted = await self._unlocked(namespace, data, password)
        existing = await self.storage.get(key.info)
        if existing is not None:
            if render_outputs is not None:
                await render_outputs(key, probe=None)
            return Ingested(key, json.loads(existing), created=False)
        found = await self._checked(key, data, render_outputs)
        info = await self._store(key, data, found, {"encrypted": True} if encrypted else {})
        return Ingested(key, info, created=True)

    async def adopt(self, namespace: str, rendered: render.Rendered) -> Ingested:
        """Stores an image this server rendered (a rasterized PDF page) as an original of its
        own. Its size and format are known, so it is not decoded again."""
        key = ImageKey(check_namespace(namespace), content_hash(rendered.data))
        existing = await self.storage.get(key.info)
        if existing is not None:
            return Ingested(key, json.loads(existing), created=False)
        info = await self._store(key, rendered.data, render.probe_of(rendered))
        return Ingested(key, info, created=True)

    async def _store(
        self, key: ImageKey, data: bytes, found: render.Probe, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        info = describe(key, found, len(data)) | (extra or {})
        await self.storage.put(key.original, data, content_type=found.input.mime, durable=True)
        await self.storage.put(key.info, json.dumps(info).encode(), content_type=JSON, durable=True)
        return info

    async def _unlocked(
        self, namespace: str, data: bytes, password: str | None
    ) -> tuple[ImageKey, bytes, bool]:
        """The key and the bytes to store: a decrypted copy when the password opened a PDF."""
        if password:
            copy = await self.pool.run(
                render.unlock, data, password, isolated=render.isolated(data)
            )
            if copy is not None:
                return ImageKey(namespace, content_hash(data, password)), copy, True
        return ImageKey(namespace, content_hash(data)), data, False

    async def _checked(
        self, key: ImageKey, data: bytes, render_outputs: RenderOutputs | None
    ) -> render.Probe:
        """Header and limits first (milliseconds), then the trial decode or the outputs."""
        isolated = render.isolated(data)
        if render_outputs is None:
            return await self.pool.run(render.probe, data, self.limits, isolated=isolated)
        found = await self.pool.run(render.inspect, data, self.limits, isolated=isolated)
        try:
            await render_outputs(key, probe=found)
        except Undecodable:  # the bytes are bad: outputs made before that showed go too
            await self.storage.delete_prefix(key.prefix)
            raise
        return found

    async def info(self, key: ImageKey) -> dict[str, Any]:
        """From memory once read: a hit on an `.auto` output touches no storage."""
        cached = self._infos.get(key.info)
        if cached is not None:
            return cached
        raw = await self.storage.get(key.info)
        if raw is None:
            raise NotFound(f"no image {key.hash} in namespace {key.namespace}")
        info = json.loads(raw)
        self._infos.put(key.info, info, len(raw))
        return info

    async def original(self, key: ImageKey) -> bytes:
        data = await self.storage.get(key.original)
        if data is None:
            raise NotFound(f"no image {key.hash} in namespace {key.namespace}")
        return data

    async def delete(self, key: ImageKey) -> int:
        """Other serving processes (--processes N) may keep this info in memory a while: their
        `.auto` and /original answer 404 once they find the original gone."""
        if not await self.storage.exists(key.info):
            raise NotFound(f"no image {key.hash} in namespace {key.namespace}")
        self._infos.discard(key.info)
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
    if found.pages > 1 or found.input.document:
        info["pages"] = found.pages
    if found.alpha:
        info["alpha"] = True
    return info
