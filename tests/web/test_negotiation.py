"""`.auto` through the server: the client's Accept picks the format, each stored by its name."""

from __future__ import annotations

import pytest

from tests.conftest import Server, image_bytes

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


@pytest.mark.parametrize(
    ("fixture", "accept", "mime", "stored"),
    [
        ("grid.jpg", CHROME, "image/avif", "w100.avif"),
        ("grid.jpg", "image/webp,*/*", "image/webp", "w100.webp"),
        ("grid.jpg", "*/*", "image/jpeg", "w100.jpg"),
        ("alpha.png", "*/*", "image/png", "w100.png"),
        ("anim.gif", CHROME, "image/webp", "w100.webp"),
        ("anim.gif", "*/*", "image/gif", "w100.gif"),
    ],
)
async def test_auto_picks_by_accept_and_stores_the_variant(
    server: Server, fixture: str, accept: str, mime: str, stored: str
) -> None:
    info = await server.upload(image_bytes(fixture))
    url = server.image_url(info["hash"]) + "/w100.auto"
    async with server.session.get(url, headers={"Accept": accept}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == mime
        assert resp.headers["Vary"] == "Accept"
        etag = resp.headers["ETag"]
        body = await resp.read()
    h = info["hash"]
    directory = server.storage / "p" / h[:3] / h[3:6] / h[6:9] / h[9:]
    assert (directory / stored).read_bytes() == body
    headers = {"Accept": accept, "If-None-Match": etag}
    async with server.session.get(url, headers=headers) as resp:
        assert resp.status == 304
        assert resp.headers["Vary"] == "Accept"


async def test_auto_with_quality(server: Server) -> None:
    info = await server.upload(image_bytes("grid.jpg"))
    url = server.image_url(info["hash"]) + "/x50-q30.auto"
    async with server.session.get(url, headers={"Accept": "image/webp"}) as resp:
        assert resp.headers["Content-Type"] == "image/webp"
    async with server.session.get(url.replace(".auto", ".webp")) as resp:
        assert resp.status == 200  # the negotiated variant is an ordinary stored output
