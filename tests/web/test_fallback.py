"""--fallback-image: answered (200, briefly cached, real status in headers) for renders that
fail on the original's pixels or the server, never stored; the request's own mistakes stay."""

from __future__ import annotations

from pathlib import Path

import pytest
import pyvips

from imageserver import settings
from imageserver.keys import ImageKey
from imageserver.services import build_services
from tests.conftest import IMAGES, Server, ServerFactory, image_bytes

TTL_S = 30


@pytest.fixture
def fallback_png(tmp_path: Path) -> Path:
    path = tmp_path / "fallback.png"
    path.write_bytes(
        pyvips.Image.black(16, 16, bands=3).new_from_image([200, 0, 0]).pngsave_buffer()
    )
    return path


async def _corrupt_original(server: Server) -> ImageKey:
    """A stored original whose bytes no longer decode (a disk's bit rot, a bad copy)."""
    info = await server.upload(image_bytes("grid.jpg"))
    key = ImageKey("p", info["hash"])
    path = server.storage / key.original
    path.write_bytes(path.read_bytes()[:2000])
    return key


async def test_failed_render_answers_the_fallback(
    start_server: ServerFactory, fallback_png: Path
) -> None:
    server = await start_server(fallback_image=str(fallback_png), fallback_image_ttl_s=TTL_S)
    key = await _corrupt_original(server)
    for _ in range(2):  # the second is the failure memory's (guards.py): answered the same
        async with server.session.get(server.image_url(key.hash) + "/w100.jpg") as resp:
            assert resp.status == 200
            assert await resp.read() == fallback_png.read_bytes()
            assert resp.headers["Content-Type"] == "image/png"
            assert resp.headers["Cache-Control"] == f"public, max-age={TTL_S}"
            assert resp.headers["X-Imageserver-Status"] == "422"
            assert resp.headers["X-Imageserver-Error"] == "undecodable"
            assert "ETag" not in resp.headers
    assert not (server.storage / key.output("w100.jpg")).exists()  # never stored as the output


async def test_over_limit_answers_the_fallback(
    start_server: ServerFactory, fallback_png: Path, tmp_path: Path
) -> None:
    """An original over a limit lowered since its upload: 422 over_limit, in the header."""
    first = await start_server(storage=tmp_path / "shared")
    info = await first.upload(image_bytes("grid.jpg"))  # 800x600
    server = await start_server(
        storage=tmp_path / "shared", max_pixels=100_000, fallback_image=str(fallback_png)
    )
    async with server.session.get(server.image_url(info["hash"]) + "/w50.png") as resp:
        assert resp.status == 200
        assert resp.headers["X-Imageserver-Error"] == "over_limit"
        assert resp.headers["Cache-Control"] == "public, max-age=60"  # the default lifetime


async def test_without_the_setting_the_error_is_answered(start_server: ServerFactory) -> None:
    server = await start_server()
    key = await _corrupt_original(server)
    async with server.session.get(server.image_url(key.hash) + "/w100.jpg") as resp:
        assert resp.status == 422
        assert (await resp.json())["error"] == "undecodable"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/" + "0" * 32 + "/w100.jpg", 404),  # an unknown original
        ("/HASH/w0.jpg", 400),  # a malformed token
        ("/HASH/100x100.jpg", 301),  # a spelling that moves (to x100.jpg)
    ],
)
async def test_the_requests_own_mistakes_are_not_hidden(
    start_server: ServerFactory, fallback_png: Path, path: str, status: int
) -> None:
    server = await start_server(fallback_image=str(fallback_png))
    info = await server.upload(image_bytes("grid.jpg"))
    hashed = path.replace("/HASH", "/" + info["hash"]).removeprefix("/")
    url = server.image_url(hashed[:32]) + hashed[32:]
    async with server.session.get(url, allow_redirects=False) as resp:
        assert resp.status == status
        assert "X-Imageserver-Status" not in resp.headers


def test_settings_refuse_a_fallback_that_cannot_be_served(tmp_path: Path) -> None:
    text = tmp_path / "note.txt"
    text.write_text("not an image")
    for path, expected in [
        (tmp_path / "missing.png", "cannot read"),
        (text, "got not an image"),
        (IMAGES / "grid.jpg", None),
    ]:
        flags = {"storage": str(tmp_path), "fallback_image": str(path)}
        if expected is None:
            settings.load(flags, env={})
            continue
        with pytest.raises(settings.SettingsError, match=f"fallback_image: .*{expected}"):
            settings.load(flags, env={})
    tiff = tmp_path / "page.tif"
    tiff.write_bytes(pyvips.Image.black(4, 4).tiffsave_buffer())
    with pytest.raises(settings.SettingsError) as caught:
        settings.load({"fallback_image": str(tiff), "fallback_image_ttl_s": "-1"}, env={})
    assert "expected jpeg, png, gif, webp, avif, got image/tiff" in str(caught.value)
    assert "fallback_image_ttl_s: must be >= 0" in str(caught.value)


def test_a_fallback_that_does_not_decode_stops_the_start(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(image_bytes("grid.jpg")[:2000])
    config = settings.load({"storage": str(tmp_path), "fallback_image": str(broken)}, env={})
    with pytest.raises(settings.SettingsError, match=r"fallback_image: .*cannot decode"):
        build_services(config)
