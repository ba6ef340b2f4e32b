"""Whole documents into images: every page of a stored PDF becomes an original of its own.

Pages render in the PDF worker processes, as many at once as there are workers. Each page image is
stored like an upload (its own hash and info), and a manifest beside the PDF, `pages.json`, lists
them in page order. Running it again with the same options stores nothing new.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from . import render
from .errors import UnsupportedMedia
from .formats import sniff
from .keys import ImageKey
from .originals import JSON
from .pages import Raster
from .services import Services

MANIFEST = "pages.json"
Progress = Callable[[float], Awaitable[None]]  # the share of pages done, 0-1


async def rasterize(
    services: Services, key: ImageKey, raster: Raster, progress: Progress
) -> dict[str, Any]:
    """Renders every page of the PDF at `key`, stores each, and stores and returns the manifest."""
    data = await services.originals.original(key)
    found = sniff(data[:1024])
    if found is None or not found.document:
        raise UnsupportedMedia(f"rasterize: expected a PDF, got {found.mime if found else 'data'}")
    count = (await services.originals.info(key))["pages"]
    pages = _Pages(services, key.namespace, data, raster, count, progress)
    manifest = {
        "hash": key.hash,
        "dpi": raster.dpi,
        "format": raster.format,
        "max_side": raster.max_side,
        "pages": await pages.all(),
    }
    body = json.dumps(manifest).encode()
    await services.storage.put(key.output(MANIFEST), body, content_type=JSON)
    return manifest


class _Pages:
    """The pages of one document, at most one per PDF worker at a time, progress as they end."""

    def __init__(
        self,
        services: Services,
        namespace: str,
        data: bytes,
        raster: Raster,
        count: int,
        progress: Progress,
    ) -> None:
        self.services = services
        self.namespace = namespace
        self.data = data
        self.raster = raster
        self.count = count
        self.progress = progress
        self.done = 0
        self._slots = asyncio.Semaphore(services.settings.resolved_pdf_workers())

    async def all(self) -> list[dict[str, Any]]:
        """In page order; the first page to fail stops the others and is the error."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._one(page)) for page in range(1, self.count + 1)]
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None
        return [task.result() for task in tasks]

    async def _one(self, page: int) -> dict[str, Any]:
        pool, limits = self.services.pool, self.services.originals.limits
        async with self._slots:
            rendered = await pool.run(
                render.rasterize, self.data, page, self.raster, limits, isolated=True
            )
        adopted = await self.services.originals.adopt(self.namespace, rendered)
        self.done += 1
        await self.progress(self.done / self.count)
        return {"page": page, **_entry(adopted.key, adopted.info)}


def _entry(key: ImageKey, info: dict[str, Any]) -> dict[str, Any]:
    fields = ("hash", "width", "height", "size", "content_type")
    return {**{name: info[name] for name in fields}, "url": "/" + key.original}
