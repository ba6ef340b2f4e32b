"""Ingest with outputs: their renders stand in for the trial decode; a failure stores nothing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from imageserver.errors import Conflict, Undecodable
from imageserver.keys import NAMED, ImageKey, content_hash
from imageserver.render import Probe
from imageserver.services import Services
from tests.conftest import image_bytes


async def test_outputs_render_before_the_original_is_stored_and_again_for_a_known_one(
    services: Services,
) -> None:
    seen: list[tuple[bool, int | None]] = []

    async def render_outputs(key: ImageKey, *, probe: Probe | None) -> None:
        seen.append((await services.storage.exists(key.info), probe and probe.width))

    data = image_bytes("grid.jpg")
    first = await services.originals.ingest("p", data, render_outputs)
    assert await services.storage.get(first.key.original) == data
    assert first.info["width"] == 800
    assert first.created
    again = await services.originals.ingest("p", data, render_outputs)
    assert (again.key, again.info, again.created) == (first.key, first.info, False)
    # first before anything was stored, with the header ingest read (the render reuses it),
    # then for the known one, whose header nobody read
    assert seen == [(False, 800), (True, None)]


async def test_a_failed_output_leaves_nothing_stored(services: Services) -> None:
    async def render_outputs(key: ImageKey, *, probe: Probe | None) -> None:
        await services.storage.put(key.output("w1.jpg"), b"made", content_type="image/jpeg")
        raise Undecodable("cannot decode image: the second output")

    with pytest.raises(Undecodable):
        await services.originals.ingest("p", image_bytes("grid.jpg"), render_outputs)
    assert await services.storage.list("p") == []


async def test_a_name_is_written_once(services: Services) -> None:
    """Its outputs are served as immutable: other bytes under it are refused, the same are a
    no-op; its info.json keeps "hash" for the content, "name" for the name."""
    data = image_bytes("grid.jpg")
    first = await services.originals.ingest("p", data, name="doc-1")
    assert (first.key.prefix, first.created) == ("p/_/doc-1", True)
    assert (first.info["hash"], first.info["name"]) == (content_hash(data), "doc-1")
    assert await services.storage.get("p/_/doc-1/original") == data
    again = await services.originals.ingest("p", data, name="doc-1")
    assert (again.info, again.created) == (first.info, False)
    with pytest.raises(Conflict, match=r"^name: 'doc-1' in namespace p holds other bytes"):
        await services.originals.ingest("p", image_bytes("small.png"), name="doc-1")
    assert await services.originals.info(first.key) == first.info
    assert not await services.storage.exists(ImageKey("p", content_hash(data)).info)


async def test_the_sweep_finds_a_named_original_left_without_its_info(
    services: Services,
) -> None:
    directory = Path(services.settings.storage) / "p" / NAMED / "doc-1"
    directory.mkdir(parents=True)
    (directory / "original").write_bytes(b"the upload's first file, then a crash")
    os.utime(directory / "original", (time.time() - 7200,) * 2)
    assert await services.storage.sweep(3600) == 1
    assert not directory.parent.exists()


async def test_a_named_original_is_never_deleted(services: Services) -> None:
    """Its name could otherwise take other bytes under URLs that caches keep for a year."""
    ingested = await services.originals.ingest("p", image_bytes("grid.jpg"), name="report-1")
    with pytest.raises(Conflict, match="named original"):
        await services.delete_original(ingested.key)
    assert await services.originals.info(ingested.key) == ingested.info
