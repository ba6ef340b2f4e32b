"""Variants' force option: render again even when storage holds the output."""

from __future__ import annotations

from imageserver.services import Services
from imageserver.transform import parse_token
from tests.conftest import image_bytes


async def test_force_renders_again_over_a_stored_output(services: Services) -> None:
    key = (await services.originals.ingest("p", image_bytes("grid.jpg"))).key
    w100 = parse_token("w100.jpg")
    await services.storage.put(key.output("w100.jpg"), b"stale", content_type="image/jpeg")
    assert (await services.variants.get(key, w100)).body == b"stale"
    fresh = await services.variants.get(key, w100, force=True)
    assert fresh.body.startswith(b"\xff\xd8")
    assert await services.storage.get(key.output("w100.jpg")) == fresh.body
