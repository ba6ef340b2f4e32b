"""The watermarks' originals (--watermarks): read from storage at their first use, kept in memory.

An original never changes under its key (a content hash, or a name written once), so its bytes
are read once per process. A missing one is not remembered: once the operator uploads it, the
next render finds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from . import render, watermarks
from .errors import ImageServerError, Misconfigured
from .pool import RenderPool
from .storage import Storage
from .transform import Transform
from .watermarks import Watermark


class Overlays:
    def __init__(
        self,
        storage: Storage,
        pool: RenderPool,
        limits: render.Limits,
        specs: Mapping[str, Watermark],
    ) -> None:
        self.storage = storage
        self.pool = pool
        self.limits = limits
        self.specs = dict(specs)
        self._loaded: dict[str, render.Overlay] = {}
        self._lock = asyncio.Lock()

    def check(self, transforms: Iterable[Transform]) -> None:
        """A name that is not configured is the client's 400, before anything is read."""
        watermarks.check_known(transforms, self.specs)

    async def of(self, transforms: Iterable[Transform]) -> dict[str, render.Overlay]:
        """The overlays `transforms` name, their bytes read now if not yet."""
        names = {t.watermark for t in transforms if t.watermark is not None}
        return {name: await self._overlay(name) for name in sorted(names)}

    async def _overlay(self, name: str) -> render.Overlay:
        loaded = self._loaded.get(name)
        if loaded is not None:
            return loaded
        async with self._lock:  # the first renders that need it read it once between them
            if name not in self._loaded:
                self._loaded[name] = await self._load(name, self.specs[name])
        return self._loaded[name]

    async def _load(self, name: str, spec: Watermark) -> render.Overlay:
        """Its limits are checked again from the header (milliseconds): it was an upload like
        any other, and a watermark must be a still image or animation's first frame, no PDF."""
        key = watermarks.source_key(spec.source)
        data = await self.storage.get(key.original)
        if data is None:
            raise Misconfigured(
                f"watermark {name}: its original {spec.source} is not stored; upload it to "
                f"namespace {key.namespace}, or change --watermarks"
            )
        if render.isolated(data):
            raise Misconfigured(f"watermark {name}: {spec.source} is a document, not an image")
        try:
            await self.pool.run(render.inspect, data, self.limits)
        except ImageServerError as exc:
            raise Misconfigured(f"watermark {name}: {spec.source}: {exc.message}") from None
        return render.Overlay(spec, data)
