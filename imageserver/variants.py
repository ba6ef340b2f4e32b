"""Outputs: get-or-render with one render per output however many ask at once.

Lookup order: memory (hot small outputs), storage, then render from the original and store.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import xxhash

from . import render
from .formats import OUTPUT_FORMATS
from .keys import ImageKey
from .memcache import ByteLRU
from .metrics import Metrics
from .originals import Originals
from .pool import RenderPool
from .storage import Storage
from .transform import Transform


@dataclass(frozen=True)
class Output:
    body: bytes
    content_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, transform: Transform) -> Output:
        etag = '"' + xxhash.xxh3_64_hexdigest(body) + '"'
        return cls(body, OUTPUT_FORMATS[transform.format].mime, etag)


class Variants:
    def __init__(
        self,
        storage: Storage,
        originals: Originals,
        pool: RenderPool,
        cache: ByteLRU[Output],
        limits: render.Limits,
        metrics: Metrics,
    ) -> None:
        self.storage = storage
        self.originals = originals
        self.pool = pool
        self.cache = cache
        self.limits = limits
        self.metrics = metrics
        self._inflight: dict[str, asyncio.Task[Output]] = {}

    def cached(self, output_key: str) -> Output | None:
        """The memory lookup alone: hot hits skip parsing, since only canonical keys get cached."""
        output = self.cache.get(output_key)
        if output is not None:
            self.metrics.lookup("memory")
        return output

    async def get(
        self,
        key: ImageKey,
        transform: Transform,
        original: bytes | None = None,
        *,
        force: bool = False,
    ) -> Output:
        """`original` saves a storage read when the caller has the bytes (at upload).

        `force` renders again even when memory or storage holds the output (`process --force`);
        a render already in flight for it is joined, since that one is fresh anyway.
        """
        output_key = key.output(transform.token())
        cached = None if force else self.cached(output_key)
        if cached is not None:
            return cached
        task = self._inflight.get(output_key)
        if task is None:
            task = asyncio.ensure_future(self._load_or_render(key, transform, original, force))
            self._inflight[output_key] = task
            task.add_done_callback(lambda _: self._inflight.pop(output_key, None))
        # shield: a client that hangs up must not cancel the render the others wait for
        return await asyncio.shield(task)

    async def ensure(
        self,
        key: ImageKey,
        transforms: list[Transform],
        original: bytes | None = None,
        *,
        force: bool = False,
    ) -> None:
        await asyncio.gather(*(self.get(key, t, original, force=force) for t in transforms))

    async def location(self, key: ImageKey, transform: Transform) -> str | None:
        """Where the client may fetch a stored output itself (S3 redirect mode), else None.

        None for outputs not stored yet too: those render here, and the render is served.
        """
        output_key = key.output(transform.token())
        url = await self.storage.url(output_key)
        if url is None or not await self.storage.exists(output_key):
            return None
        self.metrics.lookup("redirect")
        return url

    def forget(self, key: ImageKey) -> None:
        self.cache.discard_prefix(key.prefix + "/")

    async def _load_or_render(
        self, key: ImageKey, transform: Transform, original: bytes | None, force: bool
    ) -> Output:
        output_key = key.output(transform.token())
        stored = None if force else await self.storage.get(output_key)
        if stored is not None:
            self.metrics.lookup("storage")
            return self._remember(output_key, Output.of(stored, transform))
        self.metrics.lookup("render")
        data = original if original is not None else await self.originals.original(key)
        started = time.perf_counter()
        rendered = await self.pool.run(render.render, data, transform, self.limits)
        self.metrics.rendered(transform.format, time.perf_counter() - started)
        await self.storage.put(output_key, rendered.data, content_type=rendered.format.mime)
        return self._remember(output_key, Output.of(rendered.data, transform))

    def _remember(self, output_key: str, output: Output) -> Output:
        self.cache.put(output_key, output, len(output.body))
        return output
