"""Hits cost at most one storage read each, and none for small outputs held in memory."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from imageserver.storage import Storage
from imageserver.web.appkeys import SERVICES
from tests.conftest import Server, ServerFactory, image_bytes


class Counting:
    """The server's own storage, counting the calls that do I/O (a spy: it changes nothing).
    `url` is not counted: it answers from settings (S3 redirect mode) or is None."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.storage, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            if name != "url":
                self.calls[name] += 1
            return await method(*args, **kwargs)

        return counted


def _spy(server: Server) -> Counting:
    services = server.app[SERVICES]
    spy = Counting(services.storage)
    services.variants.storage = spy  # type: ignore[assignment]
    services.originals.storage = spy  # type: ignore[assignment]
    return spy


async def _get(server: Server, url: str, **headers: str) -> bytes:
    async with server.session.get(url, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.read()


@pytest.mark.parametrize("memory_cache_bytes", [0, 64 * 2**20])
async def test_a_hit_reads_storage_once_at_most(
    start_server: ServerFactory, memory_cache_bytes: int
) -> None:
    server = await start_server(memory_cache_bytes=memory_cache_bytes)
    info = await server.upload(image_bytes("grid.jpg"))
    base = server.image_url(info["hash"])
    avif = {"Accept": "image/avif,image/webp,*/*"}
    await _get(server, base + "/w100.jpg")  # rendered and stored
    await _get(server, base + "/w100.auto", **avif)  # negotiated, rendered and stored
    spy = _spy(server)
    for _ in range(3):
        spy.calls.clear()
        await _get(server, base + "/w100.jpg")
        jpg = dict(spy.calls)
        spy.calls.clear()
        await _get(server, base + "/w100.auto", **avif)
        auto = dict(spy.calls)
        if memory_cache_bytes:
            assert jpg == auto == {}  # from memory: no storage at all
        else:
            assert jpg == auto == {"get": 1}  # the output; info.json is held in memory


async def test_original_reads_only_the_original(server: Server) -> None:
    info = await server.upload(image_bytes("grid.jpg"))
    await _get(server, server.image_url(info["hash"]) + "/info.json")
    spy = _spy(server)
    assert await _get(server, server.image_url(info["hash"]) + "/original") == image_bytes(
        "grid.jpg"
    )
    assert dict(spy.calls) == {"get": 1}
