"""Outputs: get-or-render with one render per output however many ask at once.

Lookup order: memory (hot small outputs), storage, then render from the original and store.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable
from dataclasses import dataclass

import xxhash

from . import render
from .formats import OUTPUT_FORMATS
from .keys import ImageKey
from .memcache import ByteLRU
from .metrics import Metrics
from .originals import Originals, RenderOutputs
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
        fast_shrink: bool = False,
    ) -> None:
        self.storage = storage
        self.originals = originals
        self.pool = pool
        self.cache = cache
        self.limits = limits
        self.metrics = metrics
        self.fast_shrink = fast_shrink
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
        task = self._inflight.get(output_key) or self._track(
            output_key, self._load_or_render(key, transform, original, force)
        )
        # shield: a client that hangs up must not cancel the render the others wait for
        return await asyncio.shield(task)

    def _track(self, output_key: str, work: Awaitable[Output]) -> asyncio.Future[Output]:
        task = asyncio.ensure_future(work)
        self._inflight[output_key] = task
        task.add_done_callback(functools.partial(self._done, output_key))
        return task

    def _done(self, output_key: str, task: asyncio.Future[Output]) -> None:
        self._inflight.pop(output_key, None)
        if not task.cancelled():
            task.exception()  # seen: whoever awaited it has the error; nobody may have (ensure)

    @staticmethod
    async def _pick(batch: asyncio.Future[list[Output]], index: int) -> Output:
        return (await batch)[index]

    async def ensure(
        self,
        key: ImageKey,
        transforms: list[Transform],
        original: bytes | None = None,
        *,
        probe: render.Probe | None = None,
        force: bool = False,
    ) -> list[Transform]:
        """Makes the outputs that are missing in one render job (one decode per size), and
        returns them. Requests for those outputs that arrive meanwhile join the job.
        `probe`: the original's header, when the caller has just read it.
        """
        unique = list({t.token(): t for t in transforms}.values())
        missing = unique if force else await self._missing(key, unique)
        if not missing:
            return []
        batch = asyncio.ensure_future(self._render_batch(key, missing, original, probe))
        for i, transform in enumerate(missing):
            self._track(key.output(transform.token()), self._pick(batch, i))
        await asyncio.shield(batch)
        return missing

    async def _missing(self, key: ImageKey, transforms: list[Transform]) -> list[Transform]:
        """One listing of the original's outputs, not one lookup per output (S3: one request)."""
        stored = set(await self.storage.list(key.prefix))
        return [t for t in transforms if not self._have(key.output(t.token()), stored)]

    def _have(self, output_key: str, stored: set[str]) -> bool:
        if output_key in self._inflight or output_key in stored:
            return True
        return self.cache.get(output_key) is not None

    def for_upload(self, transforms: list[Transform], original: bytes) -> RenderOutputs | None:
        """Ingest's callback for an upload's outputs, rendered from the uploaded bytes; their
        decode doubles as the upload's decode check. None when no output is asked for."""
        if not transforms:
            return None
        return functools.partial(self.ensure, transforms=transforms, original=original)

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
        return (await self._render_batch(key, [transform], original))[0]

    async def _render_batch(
        self,
        key: ImageKey,
        transforms: list[Transform],
        original: bytes | None,
        probe: render.Probe | None = None,
    ) -> list[Output]:
        async with self.pool.slot():  # the original is read only once a worker is free for it
            data = original if original is not None else await self.originals.original(key)
            started = time.perf_counter()
            rendered = await self.pool.execute(
                render.render_many,
                data,
                transforms,
                self.limits,
                probe,
                self.fast_shrink,
                isolated=render.isolated(data),
            )
            seconds = (time.perf_counter() - started) / len(transforms)
        for transform in transforms:
            self.metrics.lookup("render")
            self.metrics.rendered(transform.format, seconds)
        keys = [key.output(t.token()) for t in transforms]
        await asyncio.gather(
            *(
                self.storage.put(k, r.data, content_type=r.format.mime)
                for k, r in zip(keys, rendered, strict=True)
            )
        )
        return [
            self._remember(k, Output.of(r.data, t))
            for k, r, t in zip(keys, rendered, transforms, strict=True)
        ]

    def _remember(self, output_key: str, output: Output) -> Output:
        self.cache.put(output_key, output, len(output.body))
        return output
