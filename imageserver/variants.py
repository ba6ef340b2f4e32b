"""Outputs: get-or-render with one render per output however many ask at once.

Lookup order: memory (hot small outputs), storage, then render from the original and store.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import time
from dataclasses import dataclass

import xxhash

from . import render
from .errors import ImageServerError, NotFound, StorageFull, Undecodable
from .flights import Flight, Flights
from .formats import INPUT_FORMATS, OUTPUT_FORMATS
from .guards import FailureMemory, PerKeyLimit
from .keys import ImageKey
from .memcache import ByteLRU
from .metrics import Metrics
from .originals import Originals, RenderOutputs
from .overlays import Overlays
from .pool import RenderPool
from .storage import Storage
from .transform import Transform

log = logging.getLogger(__name__)
# Originals whose renders run in worker processes (PDF): the heavy ones, that take turns
ISOLATED_TYPES = frozenset(f.mime for f in INPUT_FORMATS.values() if f.isolated)


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
        *,
        failures: FailureMemory[tuple[str, int]] | None = None,
        per_document: PerKeyLimit[str] | None = None,
        overlays: Overlays | None = None,
    ) -> None:
        self.storage = storage
        self.originals = originals
        self.pool = pool
        self.cache = cache
        self.limits = limits
        self.metrics = metrics
        self.fast_shrink = fast_shrink
        self.failures = failures or FailureMemory(0)
        self.per_document = per_document or PerKeyLimit(1)
        self.overlays = overlays or Overlays(storage, pool, limits, {})
        self._flights: Flights[Output] = Flights(lambda: metrics.lookup("abandoned"))

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
        a render already in flight for it is joined, since that one is fresh anyway. A render
        whose every requester hangs up before a worker takes it is not started (flights.py).
        """
        self.overlays.check([transform])
        output_key = key.output(transform.token())
        cached = None if force else self.cached(output_key)
        if cached is not None:
            return cached
        return await self._flights.join(
            output_key,
            lambda flight: self._load_or_render(key, transform, original, force, flight),
        )

    async def stored(self, key: ImageKey, transform: Transform) -> Output | None:
        """Memory or storage, never a render: for requests whose URL policy forbids rendering."""
        self.overlays.check([transform])
        output_key = key.output(transform.token())
        return self.cached(output_key) or await self._from_storage(output_key, transform)

    async def _from_storage(self, output_key: str, transform: Transform) -> Output | None:
        data = await self.storage.get(output_key)
        if data is None:
            return None
        self.metrics.lookup("storage")
        return self._remember(output_key, Output.of(data, transform))

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
        self.overlays.check(transforms)
        unique = list({t.token(): t for t in transforms}.values())
        missing = unique if force else await self._missing(key, unique)
        if not missing:
            return []
        batch = asyncio.ensure_future(self._make(key, missing, original, probe))
        for i, transform in enumerate(missing):
            self._flights.add(key.output(transform.token()), self._pick(batch, i))
        await asyncio.shield(batch)
        return missing

    async def _missing(self, key: ImageKey, transforms: list[Transform]) -> list[Transform]:
        """One listing of the original's outputs, not one lookup per output (S3: one request)."""
        stored = set(await self.storage.list(key.prefix))
        return [t for t in transforms if not self._have(key.output(t.token()), stored)]

    def _have(self, output_key: str, stored: set[str]) -> bool:
        if output_key in self._flights or output_key in stored:
            return True
        return output_key in self.cache

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
        self,
        key: ImageKey,
        transform: Transform,
        original: bytes | None,
        force: bool,
        flight: Flight[Output],
    ) -> Output:
        stored = (
            None if force else await self._from_storage(key.output(transform.token()), transform)
        )
        if stored is not None:
            return stored
        return (await self._make(key, [transform], original, flight=flight))[0]

    async def _make(
        self,
        key: ImageKey,
        transforms: list[Transform],
        original: bytes | None,
        probe: render.Probe | None = None,
        flight: Flight[Output] | None = None,
    ) -> list[Output]:
        """Placeholders are drawn from the original's ThumbHash, without its pixels; the other
        outputs render together. Returned in the order asked."""
        drawn = [t for t in transforms if t.placeholder]
        if not drawn:
            return await self._render_batch(key, transforms, original, probe, flight)
        rest = [t for t in transforms if not t.placeholder]
        outputs = await self._draw_placeholders(key, drawn, original, probe)
        if rest:
            outputs += await self._render_batch(key, rest, original, probe, flight)
        made = dict(zip((t.token() for t in drawn + rest), outputs, strict=True))
        return [made[t.token()] for t in transforms]

    async def _draw_placeholders(
        self,
        key: ImageKey,
        transforms: list[Transform],
        original: bytes | None,
        probe: render.Probe | None,
    ) -> list[Output]:
        """A few milliseconds each (the ThumbHash decode is pure Python): in the pool, not on
        the event loop. Stored and served like any output."""
        hashed = await self._placeholder(key, original, probe)
        rendered = [await self.pool.run(render.draw_placeholder, hashed, t) for t in transforms]
        return await self._kept(key, transforms, rendered)

    async def _placeholder(
        self, key: ImageKey, original: bytes | None, probe: render.Probe | None
    ) -> bytes:
        """The original's ThumbHash: the upload's probe, else its info.json (from memory once
        read). An original stored before placeholders has none: its bytes are probed (a small
        decode) for each output format once, since outputs are stored; its info.json is not
        rewritten, as info.json is written once (originals.py)."""
        if probe is not None and probe.placeholder is not None:
            return probe.placeholder
        stored = (await self.originals.info(key)).get("placeholder")
        if stored:
            return base64.b64decode(stored)
        data = original if original is not None else await self.originals.original(key)
        found = await self.pool.run(render.probe, data, self.limits, isolated=render.isolated(data))
        if found.placeholder is None:  # probe makes one for every image it can decode
            raise Undecodable(f"no placeholder could be made for {key.hash}")
        return found.placeholder

    async def _render_batch(
        self,
        key: ImageKey,
        transforms: list[Transform],
        original: bytes | None,
        probe: render.Probe | None = None,
        flight: Flight[Output] | None = None,
    ) -> list[Output]:
        """`flight`: the request's, marked started once a worker is free (from then on it runs to
        the end, whoever still waits). A page that failed lately fails again at once, and a
        document's renders wait for each other before they take a worker (guards.py)."""
        pages = {(key.prefix, t.page) for t in transforms}
        self._check_failures(pages)
        overlays = await self.overlays.of(transforms)  # read once per process, before a worker
        async with await self._document_turn(key, original), self.pool.slot():
            self._check_failures(pages)  # the renders before it in the queue may have failed
            if flight is not None:
                flight.started = True
            # the original is read only once a worker is free for it
            data = original if original is not None else await self.originals.original(key)
            started = time.perf_counter()
            try:
                rendered = await self.pool.execute(
                    render.render_many,
                    data,
                    transforms,
                    self.limits,
                    probe,
                    self.fast_shrink,
                    overlays,
                    isolated=render.isolated(data),
                )
            except ImageServerError as exc:
                if len(pages) == 1:
                    self.failures.remember(next(iter(pages)), exc)
                raise
            seconds = (time.perf_counter() - started) / len(transforms)
        for transform in transforms:
            self.metrics.rendered(transform.format, seconds)
        return await self._kept(key, transforms, rendered)

    async def _kept(
        self, key: ImageKey, transforms: list[Transform], rendered: list[render.Rendered]
    ) -> list[Output]:
        """Made outputs are stored, and remembered in memory."""
        keys = [key.output(t.token()) for t in transforms]
        await self._store(keys, rendered)
        for _ in transforms:
            self.metrics.lookup("render")
        return [
            self._remember(k, Output.of(r.data, t))
            for k, r, t in zip(keys, rendered, transforms, strict=True)
        ]

    def _check_failures(self, pages: set[tuple[str, int]]) -> None:
        for page in pages:
            self.failures.check(page)

    async def _document_turn(
        self, key: ImageKey, original: bytes | None
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Documents (PDF) take turns per original; images need none. Known from the info,
        which memory holds once read, or from the bytes at upload."""
        if original is not None:
            document = render.isolated(original)
        else:
            try:
                document = (await self.originals.info(key)).get("content_type") in ISOLATED_TYPES
            except NotFound:
                document = False  # reading the original says what is wrong
        return self.per_document.holding(key.prefix) if document else contextlib.nullcontext()

    async def _store(self, keys: list[str], rendered: list[render.Rendered]) -> None:
        """A full disk does not fail the request: the render is served (and kept in memory),
        and the next request for it renders again, until there is space."""
        puts = (
            self.storage.put(k, r.data, content_type=r.format.mime)
            for k, r in zip(keys, rendered, strict=True)
        )
        results = await asyncio.gather(*puts, return_exceptions=True)
        for failure in (r for r in results if isinstance(r, BaseException)):
            if not isinstance(failure, StorageFull):
                raise failure
            log.warning("rendered %s but did not store it: %s", keys[0], failure.message)

    def _remember(self, output_key: str, output: Output) -> Output:
        self.cache.put(output_key, output, len(output.body))
        return output
