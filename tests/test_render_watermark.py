"""Watermarks (`-wmNAME`): the render step against libvips' own thumbnail + composite2 run here,
and the whole path through a real server (settings, storage, 400s, presets)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import pyvips

from imageserver import render
from imageserver.errors import BadRequest
from imageserver.formats import OUTPUT_FORMATS
from imageserver.render import watermark
from imageserver.transform import Transform, parse_token
from imageserver.watermarks import Watermark
from imageserver.web.appkeys import SERVICES
from tests.conftest import Server, ServerFactory, image_bytes
from tests.imagecompare import ssim

LIMITS = render.Limits(max_pixels=50_000_000, max_frames=500)
SOURCE = "brand/_/logo"  # the settings' source; the render tests pass the bytes directly
SPEC = Watermark(SOURCE, "se", 0.25, 0.5, 4)  # the servers'


@pytest.fixture(scope="module")
def mark_png() -> bytes:
    """120x60: a blue-to-yellow gradient, opaque on the left two thirds, half-transparent after:
    a wrong scale, position, opacity or lost alpha all change pixels the tests look at."""
    x = pyvips.Image.xyz(120, 60)[0]
    ramp = (x * (255 / 119)).cast("uchar")
    rgb = ramp.bandjoin([ramp, 255 - ramp])
    alpha = (x < 80).ifthenelse(255, 128).cast("uchar")
    return rgb.bandjoin(alpha).copy(interpretation="srgb").write_to_buffer(".png")


def golden(
    base: pyvips.Image, mark_png: bytes, spec: Watermark, frame_height: int | None = None
) -> pyvips.Image:
    """What libvips does when told directly: thumbnail the mark to scale x width, alpha times
    opacity, composite2 at the corner less the margin (every frame)."""
    frame_height = frame_height or base.height
    width = round(base.width * spec.scale)
    mark = pyvips.Image.thumbnail_buffer(mark_png, width, height=frame_height, size="both")
    mark = mark.bandjoin(255) if not mark.hasalpha() else mark
    mark = mark[:3].bandjoin((mark[3] * spec.opacity).cast("uchar"))
    corners = {
        "se": (base.width - mark.width - spec.margin, frame_height - mark.height - spec.margin),
        "nw": (spec.margin, spec.margin),
        "c": ((base.width - mark.width) // 2, (frame_height - mark.height) // 2),
        "n": ((base.width - mark.width) // 2, spec.margin),
    }
    left, top = corners[spec.position]
    for frame in range(base.height // frame_height):
        base = base.composite2(mark, "over", x=left, y=top + frame * frame_height)
    return base


def _encoded(image: pyvips.Image, fmt: str) -> pyvips.Image:
    """Through the same saver and options: JPEG's own loss is not the step's."""
    out = OUTPUT_FORMATS[fmt]
    flat = image.flatten(background=[255, 255, 255]) if image.hasalpha() else image
    return pyvips.Image.new_from_buffer(
        flat.write_to_buffer(out.saver_suffix, **out.save_options(None)), ""
    )


def ours(data: bytes, transform: Transform, spec: Watermark, mark_png: bytes) -> pyvips.Image:
    overlays = {"logo": render.Overlay(spec, mark_png)}
    result = render.render(data, transform, LIMITS, overlays=overlays)
    image = pyvips.Image.new_from_buffer(result.data, "n=-1" if transform.format == "gif" else "")
    assert (image.width, image.height) == (result.width, image.height)
    return image


@pytest.mark.parametrize(
    ("position", "scale", "opacity", "margin"),
    [("se", 0.2, 0.5, 0), ("nw", 0.5, 1.0, 10), ("c", 1.0, 0.3, 0), ("n", 0.25, 0.8, 4)],
)
def test_still_matches_libvips_composite(
    mark_png: bytes, position: str, scale: float, opacity: float, margin: int
) -> None:
    spec = Watermark(SOURCE, position, scale, opacity, margin)
    got = ours(
        image_bytes("grid.jpg"), Transform(400, None, "png", watermark="logo"), spec, mark_png
    )
    want = golden(pyvips.Image.thumbnail_buffer(image_bytes("grid.jpg"), 400), mark_png, spec)
    assert (got.width, got.height, got.bands) == (400, 300, 3)  # no alpha added to a JPEG's
    assert ssim(got, want) >= 0.99
    # the watermark is there: its size and place show where the pixels differ from no watermark
    plain = pyvips.Image.thumbnail_buffer(image_bytes("grid.jpg"), 400)
    changed = ((got - plain).abs() > 8).bandor()
    left, top, width, height = changed.find_trim(threshold=0, background=[0])
    assert (width, height) == (round(400 * scale), round(400 * scale) // 2)  # the mark is 2:1
    assert (left, top) == _expected_corner(position, 400, 300, width, height, margin)


def _expected_corner(
    position: str, width: int, height: int, mark_w: int, mark_h: int, margin: int
) -> tuple[int, int]:
    return {
        "se": (width - mark_w - margin, height - mark_h - margin),
        "nw": (margin, margin),
        "c": ((width - mark_w) // 2, (height - mark_h) // 2),
        "n": ((width - mark_w) // 2, margin),
    }[position]


def test_alpha_output_keeps_the_transparent_parts(mark_png: bytes) -> None:
    """Over a transparent PNG the watermark shows where it is, the rest stays transparent."""
    spec = Watermark(SOURCE, "nw", 0.5, 1.0)
    got = ours(
        image_bytes("alpha.png"), Transform(200, None, "png", watermark="logo"), spec, mark_png
    )
    want = golden(pyvips.Image.thumbnail_buffer(image_bytes("alpha.png"), 200), mark_png, spec)
    assert (got.width, got.height, got.bands) == (200, 100, 4)
    assert ssim(got, want) >= 0.99
    assert got(150, 90)[3] == 0  # outside the mark, still transparent
    assert got(10, 10)[3] == 255


def test_jpeg_output_matches_after_flattening(mark_png: bytes) -> None:
    spec = Watermark(SOURCE, "se", 0.3, 0.6, 5)
    got = ours(image_bytes("grid.jpg"), parse_token("300x200-wmlogo.jpg"), spec, mark_png)
    base = pyvips.Image.thumbnail_buffer(image_bytes("grid.jpg"), 300, height=200, crop="centre")
    want = _encoded(golden(base, mark_png, spec), "jpg")
    assert (got.width, got.height) == (300, 200)
    assert ssim(got, want) >= 0.99


def test_every_frame_of_an_animation_is_watermarked(mark_png: bytes) -> None:
    spec = Watermark(SOURCE, "se", 0.5, 1.0)
    got = ours(
        image_bytes("anim.gif"), Transform(60, None, "gif", watermark="logo"), spec, mark_png
    )
    frames = pyvips.Image.new_from_buffer(image_bytes("anim.gif"), "", n=-1)
    want = golden(frames, mark_png, spec, frame_height=40)
    assert (got.width, got.height, got.get("page-height")) == (60, 160, 40)
    assert ssim(got, want) >= 0.99
    for frame in range(4):  # the mark's opaque blue corner in each frame
        assert got(31, frame * 40 + 39)[2] > 200


def test_outputs_of_one_size_each_get_their_own_watermark(mark_png: bytes) -> None:
    """Outputs of one size share their decode (render_many), not their watermark."""
    overlays = {
        "logo": render.Overlay(Watermark(SOURCE, "se", 0.2), mark_png),
        "big": render.Overlay(Watermark(SOURCE, "nw", 0.8), mark_png),
    }
    tokens = ["w200.png", "w200-wmlogo.png", "w200-wmbig.png"]
    results = render.render_many(
        image_bytes("grid.jpg"), [parse_token(t) for t in tokens], LIMITS, overlays=overlays
    )
    plain, logo, big = (pyvips.Image.new_from_buffer(r.data, "") for r in results)
    assert plain(5, 5) != big(5, 5)
    assert plain(5, 5) == logo(5, 5)
    assert plain(195, 145) != logo(195, 145)


def test_a_watermark_not_given_to_the_render_is_refused() -> None:
    with pytest.raises(BadRequest, match="watermark"):
        render.render(image_bytes("grid.jpg"), parse_token("w200-wmlogo.jpg"), LIMITS)


# Through a real server: settings name an original stored in a namespace.


async def _watermarked_server(
    start_server: ServerFactory, mark_png: bytes, *, named: bool = False, **extra: Any
) -> Server:
    """Stores the mark in namespace brand first (a first server on the same storage): uploaded,
    so by its content hash, or under the name logo. Then serves with --watermarks naming it."""
    first = await start_server()
    if named:
        await first.app[SERVICES].originals.ingest("brand", mark_png, name="logo")
        source = "brand/_/logo"
    else:
        source = "brand/" + (await first.upload(mark_png, "brand"))["hash"]
    spec = dataclasses.replace(SPEC, source=source)
    return await start_server(first.storage, watermarks={"logo": spec}, **extra)


async def _output(server: Server, token: str) -> tuple[int, bytes]:
    """Uploads grid.jpg into p (once: the same bytes), then GETs its output `token`."""
    info = await server.upload(image_bytes("grid.jpg"))
    async with server.session.get(server.image_url(info["hash"]) + "/" + token) as resp:
        return resp.status, await resp.read()


async def test_server_renders_a_watermarked_output(
    start_server: ServerFactory, mark_png: bytes
) -> None:
    server = await _watermarked_server(start_server, mark_png)
    status, body = await _output(server, "w200-wmlogo.png")
    assert status == 200, body
    got = pyvips.Image.new_from_buffer(body, "")
    base = pyvips.Image.thumbnail_buffer(image_bytes("grid.jpg"), 200)
    assert (got.width, got.height) == (200, 150)
    assert ssim(got, golden(base, mark_png, SPEC)) >= 0.99


async def test_server_refuses_an_unknown_watermark_before_rendering(
    start_server: ServerFactory, mark_png: bytes
) -> None:
    server = await _watermarked_server(start_server, mark_png)
    status, body = await _output(server, "w200-wmnope.jpg")
    error = json.loads(body)
    assert status == 400
    assert error["error"] == "bad_watermark"
    assert "logo" in error["message"]
    assert "nope" in error["message"]
    async with server.session.post(
        f"{server.url}/p", data=image_bytes("grid.jpg"), params={"outputs": "w100-wmnope.jpg"}
    ) as resp:
        assert resp.status == 400


async def test_a_preset_may_name_a_watermark(start_server: ServerFactory, mark_png: bytes) -> None:
    server = await _watermarked_server(
        start_server, mark_png, named=True, namespace_presets={"p": {"thumb": "x200-wmlogo"}}
    )
    info = await server.upload(image_bytes("grid.jpg"))
    url = server.image_url(info["hash"])
    async with server.session.get(url + "/thumb.jpg", allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.headers["Location"].endswith("/x200-wmlogo.jpg")
    async with server.session.get(url + "/thumb.jpg") as resp:
        assert resp.status == 200
        got = pyvips.Image.new_from_buffer(await resp.read(), "")
    base = pyvips.Image.thumbnail_buffer(image_bytes("grid.jpg"), 200, height=200, crop="centre")
    assert ssim(got, _encoded(golden(base, mark_png, SPEC), "jpg")) >= 0.99


async def test_a_watermark_whose_original_is_missing_is_a_configuration_error(
    start_server: ServerFactory,
) -> None:
    server = await start_server(watermarks={"logo": Watermark(SOURCE)})
    status, body = await _output(server, "w200-wmlogo.jpg")
    error = json.loads(body)
    assert status == 500
    assert error["error"] == "misconfigured"
    assert "brand/_/logo" in error["message"]


def test_a_watermark_is_decoded_once_per_size(mark_png: bytes) -> None:
    """Renders of one output size reuse the scaled watermark; another size decodes it again."""
    spec = Watermark(source="brand/" + "a" * 32, position="se", scale=0.3, opacity=0.7)
    data = image_bytes("grid.jpg")
    watermark._decoded.cache_clear()
    first = ours(data, Transform(200, None, "jpg", watermark="logo"), spec, mark_png)
    again = ours(data, Transform(200, None, "jpg", quality=60, watermark="logo"), spec, mark_png)
    assert watermark._decoded.cache_info().misses == 1
    assert ssim(first, again) > 0.95
    ours(data, Transform(300, None, "jpg", watermark="logo"), spec, mark_png)
    assert watermark._decoded.cache_info().misses == 2
