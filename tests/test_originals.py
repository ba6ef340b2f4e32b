"""Ingest with outputs: their renders stand in for the trial decode; a failure stores nothing."""

from __future__ import annotations

import pytest

from imageserver.errors import Undecodable
from imageserver.keys import ImageKey
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
