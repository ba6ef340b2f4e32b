"""Inputs beyond JPEG and PNG: HEIC, AVIF (8- and 10-bit), SVG, multi-page TIFF."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pyvips
from aiohttp import web

from imageserver import render
from imageserver.errors import OverLimit
from imageserver.transform import parse_token
from tests.conftest import Server
from tests.corpus import image_path
from tests.fidelity.corpus import LIMITS, render_file
from tests.imagecompare import ssim


async def test_iphone_heic_uploads_and_renders(server: Server) -> None:
    info = await server.upload(image_path("arrow.heic").read_bytes())
    assert (info["width"], info["height"], info["content_type"]) == (3024, 4032, "image/heic")
    async with server.session.get(server.image_url(info["hash"]) + "/w200.jpg") as resp:
        image = pyvips.Image.new_from_buffer(await resp.read(), "")
    assert (image.width, image.height) == (200, 267)


def test_heic_is_upright_and_colour_managed() -> None:
    """pillow-heif's own decode, converted through its Display P3 profile, is the reference."""
    import pillow_heif

    ours = render_file("arrow.heic", "w200.png")
    heif = pillow_heif.open_heif(image_path("arrow.heic").read_bytes())
    width, height = heif.size
    reference = pyvips.Image.new_from_memory(bytes(heif.data), width, height, 3, "uchar")
    reference.set_type(pyvips.GValue.blob_type, "icc-profile-data", heif.info["icc_profile"])
    reference = reference.icc_transform("srgb", embedded=True).resize(200 / width)
    assert ssim(ours, reference) > 0.95
    assert ours.colourspace("lab").dE00(reference.colourspace("lab")).avg() < 2


def test_200mp_heic_is_refused_by_the_pixel_limit_fast() -> None:
    started = time.monotonic()
    with pytest.raises(OverLimit):
        render.probe(image_path("200MP.heic").read_bytes(), LIMITS)
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    ("name", "size"),
    [("kodim23_yuv420_8bpc.avif", (200, 133)), ("cosmos1650_yuv444_10bpc_p3pq.avif", (200, 84))],
)
def test_avif_stills_render(name: str, size: tuple[int, int]) -> None:
    ours = render_file(name, "w200.png")
    assert (ours.width, ours.height) == size
    assert 20 < ours.avg() < 235  # neither black nor blown out


def test_svg_is_drawn_at_the_requested_size_from_the_vector() -> None:
    data = image_path("check.svg").read_bytes()
    ours = render_file("check.svg", "w800.png")
    assert (ours.width, ours.height) == (800, 800)
    vector = pyvips.Image.svgload_buffer(data, scale=8)
    upscaled = pyvips.Image.svgload_buffer(data).resize(8)
    assert ssim(ours, vector) > 0.98
    assert ssim(ours, vector) > ssim(ours, upscaled)


@pytest.fixture
async def watched_url() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback server that records every request it gets."""
    requests: list[str] = []

    async def record(request: web.Request) -> web.Response:
        requests.append(request.path)
        return web.Response(body=image_path("tbbn3p08.png").read_bytes())

    app = web.Application()
    app.router.add_get("/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", requests
    await runner.cleanup()


async def test_svg_references_are_never_fetched_and_scripts_never_run(
    watched_url: tuple[str, list[str]],
) -> None:
    url, requests = watched_url
    local_png = image_path("tbbn3p08.png")
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
        width="100" height="100">
      <rect width="100" height="100" fill="white"/>
      <image href="{url}/remote.png" x="0" y="0" width="50" height="50"/>
      <image xlink:href="file://{local_png}" x="50" y="0" width="50" height="50"/>
      <image href="../images/local.png" x="0" y="50" width="50" height="50"/>
      <script>fetch("{url}/script")</script>
    </svg>""".encode()
    result = render.render(svg, parse_token("w100.png"), LIMITS)
    image = pyvips.Image.new_from_buffer(result.data, "")
    assert requests == []
    assert image.min() == 255  # nothing but the white rectangle was drawn


def test_struct_image_svg_renders_without_its_external_file() -> None:
    ours = render_file("struct-image-04-t.svg", "w480.png")
    assert (ours.width, ours.height) == (480, 360)


def test_multi_page_tiff_renders_page_one() -> None:
    ours = render_file("G31D_MULTI.TIF", "w200.png")
    assert (ours.width, ours.height) == (200, 264)  # page 1 is 2464x3248; page 2 differs
    found = render.probe(image_path("G31D_MULTI.TIF").read_bytes(), LIMITS)
    assert found.pages == 2
