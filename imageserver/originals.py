"""Originals and their info.json: ingest (hash, probe, store), read back, delete.

Ingest is idempotent: the same bytes hash to the same key, and a second upload finds the info.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from . import render
from .errors import Conflict, NotFound, Undecodable
from .guards import PerKeyLimit
from .hashes import NamespaceHashes
from .keys import MD5, ImageKey, check_name, check_namespace, content_hash
from .memcache import ByteLRU
from .pool import RenderPool
from .storage import Storage

JSON = "application/json"
log = logging.getLogger(__name__)


class RenderOutputs(Protocol):
    """Makes the caller's outputs of an original (Variants.for_upload). `probe` is the header
    ingest just read, so the render need not read it again; None for a known original."""

    def __call__(self, key: ImageKey, *, probe: render.Probe | None) -> Awaitable[object]: ...


class Listener(Protocol):
    """Told of originals stored and deleted (jobs/uploads.py records them for the dashboard).
    Awaited on the upload's path: one small write at most. A failure is logged, never raised:
    the original is stored (or gone) whatever a listener makes of it."""

    async def created(self, ingested: Ingested) -> None: ...

    async def deleted(self, key: ImageKey) -> None: ...


@dataclass(frozen=True)
class Ingested:
    key: ImageKey
    info: dict[str, Any]
    created: bool  # False: these bytes were stored already (the same hash)


# info.json of recent originals, kept in memory: `.auto` outputs and /original read it on every
# request, and it never changes while the original exists (a few hundred bytes each).
INFO_CACHE_BYTES = 4 * 1024 * 1024
MD5_ON_LOOP_BYTES = 1024 * 1024


class Originals:
    def __init__(
        self,
        storage: Storage,
        pool: RenderPool,
        limits: render.Limits,
        md5_namespaces: Iterable[str] = (),
    ) -> None:
        self.storage = storage
        self.hashes = NamespaceHashes(storage, md5_namespaces)
        self.pool = pool
        self.limits = limits
        self._infos: ByteLRU[dict[str, Any]] = ByteLRU(INFO_CACHE_BYTES, INFO_CACHE_BYTES)
        self._names: PerKeyLimit[str] = PerKeyLimit(1)
        self.listeners: list[Listener] = []  # of ingest and keep_file's new originals, deletes

    async def ingest(
        self,
        namespace: str,
        data: bytes,
        render_outputs: RenderOutputs | None = None,
        *,
        password: str | None = None,
        name: str | None = None,
    ) -> Ingested:
        """Checks before storing: nothing that fails to decode or breaks a limit is kept.

        `render_outputs(key)` (at least one output) makes the caller's outputs, for known and new
        originals alike. For a new one they run before it is stored, after the probe's trial
        decode: a decode shrunk on load into 32 px (a JPEG's at 1/8), whose pixels are the
        placeholder's ThumbHash (info.json `placeholder`), so outputs need not prove it again.

        `password` opens an encrypted PDF. Its decrypted copy is stored, so renders need no
        password later; its key hashes the uploaded bytes with the password (keys.content_hash).

        `name` stores it under `{ns}/_/{name}` (keys.ImageKey) instead of its content hash. A
        name is written once: its outputs are served as immutable, so other bytes under a name
        already taken are a Conflict; the same bytes again are a no-op, as for a content key.
        """
        namespace = check_namespace(namespace)
        content, data, encrypted = await self._unlocked(namespace, data, password)
        extra: dict[str, Any] = {"encrypted": True} if encrypted else {}
        if name is None:
            return await self._ingest(content, content, data, render_outputs, extra)
        key = ImageKey(namespace, check_name(name), named=True)
        async with self._names.holding(key.prefix):  # one writer per name in this process
            # its info.json's "hash" stays the content hash (describe's is the key's: the name)
            extra |= {"hash": content.hash, "name": name}
            return await self._ingest(key, content, data, render_outputs, extra)

    async def _ingest(
        self,
        key: ImageKey,
        content: ImageKey,
        data: bytes,
        render_outputs: RenderOutputs | None,
        extra: dict[str, Any],
    ) -> Ingested:
        """`key` is where the original goes: `content` itself, or a name for it."""
        existing = await self.storage.get(key.info)
        if existing is not None:
            info = json.loads(existing)
            _check_same(key, info, content)
            if render_outputs is not None:
                await render_outputs(key, probe=None)
            return Ingested(key, info, created=False)
        found = await self._checked(key, data, render_outputs)
        info = await self._store(key, data, found, extra)
        return await self._announced(Ingested(key, info, created=True))

    async def adopt(self, namespace: str, rendered: render.Rendered) -> Ingested:
        """Stores an image this server rendered (a rasterized PDF page) as an original of its
        own. Its size and format are known, so it is not decoded again."""
        namespace = check_namespace(namespace)
        key = await self._key(namespace, rendered.data)
        existing = await self.storage.get(key.info)
        if existing is not None:
            return Ingested(key, json.loads(existing), created=False)
        info = await self._store(key, rendered.data, render.probe_of(rendered))
        return Ingested(key, info, created=True)

    async def _store(
        self, key: ImageKey, data: bytes, found: render.Probe, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await self._put(key, data, describe(key, found, len(data)) | (extra or {}))

    async def _put(self, key: ImageKey, data: bytes, info: dict[str, Any]) -> dict[str, Any]:
        await self.hashes.mark(key.namespace)
        content_type = info["content_type"]
        await self.storage.put(key.original, data, content_type=content_type, durable=True)
        await self.storage.put(key.info, json.dumps(info).encode(), content_type=JSON, durable=True)
        return info

    async def keep_file(self, namespace: str, data: bytes, content_type: str) -> Ingested:
        """Bytes of no image format, kept as they came (the seed downloader's files): an
        original's key and layout, an info.json marked `file` with the type its server declared,
        and no renders (an output of it answers 415, as any unsupported original's does)."""
        namespace = check_namespace(namespace)
        key = await self._key(namespace, data)
        existing = await self.storage.get(key.info)
        if existing is not None:
            return Ingested(key, json.loads(existing), created=False)
        info = {"hash": key.hash, "content_type": content_type, "size": len(data), "file": True}
        return await self._announced(Ingested(key, await self._put(key, data, info), created=True))

    async def _announced(self, ingested: Ingested) -> Ingested:
        for listener in self.listeners:
            await _told(listener.created(ingested), ingested.key)
        return ingested

    async def _unlocked(
        self, namespace: str, data: bytes, password: str | None
    ) -> tuple[ImageKey, bytes, bool]:
        """The key and the bytes to store: a decrypted copy when the password opened a PDF."""
        if password:
            copy = await self.pool.run(
                render.unlock, data, password, isolated=render.isolated(data)
            )
            if copy is not None:
                return await self._key(namespace, data, password), copy, True
        return await self._key(namespace, data), data, False

    async def _key(self, namespace: str, data: bytes, password: str = "") -> ImageKey:
        """The key of the uploaded bytes, once the namespace's hash marker agrees (hashes.py).
        MD5 costs 1.4 ms per MB on the loop (xxh3 0.1): a large one is hashed in a thread."""
        await self.hashes.checked(namespace)
        if self.hashes.of(namespace) == MD5 and len(data) > MD5_ON_LOOP_BYTES:
            return await asyncio.to_thread(self.key_of, namespace, data, password)
        return self.key_of(namespace, data, password)

    def key_of(self, namespace: str, data: bytes, password: str = "") -> ImageKey:
        """Where these bytes go in `namespace`: its configured hash (--md5-namespaces)."""
        return ImageKey(namespace, content_hash(data, password, self.hashes.of(namespace)))

    async def _checked(
        self, key: ImageKey, data: bytes, render_outputs: RenderOutputs | None
    ) -> render.Probe:
        """Header and limits first (milliseconds), then a small trial decode (shrunk on load),
        which makes the placeholder, then the outputs, if any (given the placeholder)."""
        isolated = render.isolated(data)
        found = await self.pool.run(render.probe, data, self.limits, isolated=isolated)
        if render_outputs is None:
            return found
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
        removed = await self.storage.delete_prefix(key.prefix)
        for listener in self.listeners:
            await _told(listener.deleted(key), key)
        return removed


async def _told(call: Awaitable[None], key: ImageKey) -> None:
    try:
        await call
    except Exception:
        log.warning("a listener of originals failed on %s", key.prefix, exc_info=True)


def _check_same(key: ImageKey, info: dict[str, Any], content: ImageKey) -> None:
    """A content key holds its own bytes by definition; a named one, the bytes it was given."""
    if info["hash"] != content.hash:
        raise Conflict(
            f"name: {key.hash!r} in namespace {key.namespace} holds other bytes (hash "
            f"{info['hash']}, these are {content.hash}); a name is written once"
        )


def describe(key: ImageKey, found: render.Probe, size: int) -> dict[str, Any]:
    """info.json: the seed's four fields, then size, frames/pages/alpha where they apply, and
    the placeholder (ThumbHash) of a probed original."""
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
    if found.placeholder is not None:  # ThumbHash bytes, base64 as ThumbHash's own demo shows them
        info["placeholder"] = base64.b64encode(found.placeholder).decode("ascii")
    return info
