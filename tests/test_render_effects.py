"""Effects and encoding: blur, sharpen, lossless, interlace, keep metadata and max bytes, each
against libvips run directly (golden, SSIM) or the bytes of the saved file."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import pyvips

from imageserver import render
from imageserver.formats import CHOICES, OUTPUT_FORMATS
from imageserver.render import encode
from imageserver.render.loaders import LOADERS, profile_description
from imageserver.transform import Transform, parse_token
from tests.conftest import image_bytes
from tests.imagecompare import ssim

LIMITS = render.Limits(max_pixels=50_000_000, max_frames=500)
PHOTO = "2569067123_aca715a2ee_o.jpg"  # 2725x2225 photo, no EXIF or ICC
PHONE = "dog_exif_extended_xmp_icc.jpg"  # 4032x3024, EXIF orientation 6, sRGB ICC, XMP


def thumbnail(name: str, width: int) -> pyvips.Image:
    """libvips run directly: what our render starts from."""
    return pyvips.Image.thumbnail_buffer(image_bytes(name), width).copy_memory()


def decoded(rendered: render.Rendered) -> pyvips.Image:
    image = pyvips.Image.new_from_buffer(rendered.data, "n=-1" if rendered.format.animation else "")
    height = image.get("page-height") if image.get_typeof("page-height") else image.height
    assert (image.width, height) == (rendered.width, rendered.height)
    return image


def render_token(name: str, token: str) -> render.Rendered:
    return render.render(image_bytes(name), parse_token(token), LIMITS)


# blur and sharpen: golden against libvips' own operation


@pytest.mark.parametrize(
    ("token", "reference"),
    [
        ("w400-blur2.png", lambda image: image.gaussblur(2)),
        ("w400-blur12.5.png", lambda image: image.gaussblur(12.5)),
        ("w400-sharpen.png", lambda image: image.sharpen(sigma=1.0)),
        ("w400-sharpen3.png", lambda image: image.sharpen(sigma=3)),
    ],
)
def test_effect_matches_libvips(
    token: str, reference: Callable[[pyvips.Image], pyvips.Image]
) -> None:
    expected = reference(thumbnail(PHOTO, 400))
    got = decoded(render_token(PHOTO, token))
    assert (got.width, got.height) == (expected.width, expected.height) == (400, 327)
    assert ssim(got, expected) >= 0.99
    assert ssim(got, thumbnail(PHOTO, 400)) < 0.99  # and the effect did something


def test_blur_keeps_transparent_colour_out_of_the_edge() -> None:
    """alpha.png: opaque red beside transparent black; blurred unpremultiplied, the edge
    would turn dark red."""
    image = decoded(render_token("alpha.png", "w100-blur3.png"))
    red, green, blue, alpha = image.getpoint(52, 20)  # just past the edge: partly transparent
    assert 0 < alpha < 255
    assert red >= 250
    assert max(green, blue) <= 5


def test_animation_is_blurred_frame_by_frame() -> None:
    """Four solid frames stacked in one tall image: blurred whole, their edges would mix.
    (At the source's size: resizing the stack mixes the edges a little already.)"""
    image = decoded(render_token("anim.gif", "w60-blur3.gif"))
    page_height = image.get("page-height")
    assert image.height // page_height == 4
    firsts = [image.getpoint(30, i * page_height)[:3] for i in range(4)]
    lasts = [image.getpoint(30, (i + 1) * page_height - 1)[:3] for i in range(4)]
    assert firsts == lasts  # each frame is one colour to its edges
    assert len({tuple(c) for c in firsts}) == 4


def test_outputs_of_one_size_with_and_without_an_effect() -> None:
    """Outputs that share decoded pixels (render_many) must not share an effect."""
    plain, blurred, sharp = render.render_many(
        image_bytes(PHOTO),
        [parse_token(t) for t in ("w300.png", "w300-blur4.png", "w300-sharpen2.png")],
        LIMITS,
    )
    reference = thumbnail(PHOTO, 300)
    assert ssim(decoded(plain), reference) >= 0.99
    assert ssim(decoded(blurred), reference.gaussblur(4)) >= 0.99
    assert ssim(decoded(sharp), reference.sharpen(sigma=2)) >= 0.99


def test_encode_choices_share_one_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quality, max bytes, lossless, interlace and keep change only the encode."""
    loader = LOADERS["libvips"]
    loads: list[object] = []
    original = loader.load_resized
    monkeypatch.setattr(loader, "load_resized", lambda *a: loads.append(a) or original(*a))
    tokens = ["w300.jpg", "w300-q50.jpg", "w300-b8000.jpg", "w300-keep.jpg", "w300-lossless.webp"]
    tokens += ["w300-interlace.png", "w300-blur2.jpg"]
    outputs = render.render_many(image_bytes(PHOTO), [parse_token(t) for t in tokens], LIMITS)
    assert len(outputs) == len(tokens)
    assert len(loads) == 2  # the blurred output is its own group


# lossless, interlace, keep metadata: the saved file


@pytest.mark.parametrize("fmt", ["webp", "avif"])
def test_lossless_decodes_to_the_thumbnail_pixels(fmt: str) -> None:
    got = decoded(
        render.render(image_bytes(PHOTO), Transform(300, None, fmt, lossless=True), LIMITS)
    )
    expected = thumbnail(PHOTO, 300)
    assert (got.width, got.height, got.bands) == (expected.width, expected.height, 3)
    assert (got - expected).abs().max() == 0


def _jpeg_progressive(data: bytes) -> bool:
    """SOF2 (progressive DCT) rather than SOF0 (baseline): walk the markers to the frame."""
    i = 2
    while i + 4 <= len(data):
        marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return marker == 0xC2
        i += 2 + length
    raise AssertionError("no SOF marker")


def _png_interlaced(data: bytes) -> bool:
    assert data[12:16] == b"IHDR"
    return data[28] == 1  # IHDR: width, height, depth, colour, compression, filter, interlace


def _gif_interlaced(data: bytes) -> bool:
    """The first image descriptor's interlace flag, past the palette and extension blocks."""
    i = 13 + (3 * 2 ** ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while data[i] == 0x21:  # extension: label, then sub-blocks to a zero length
        i += 2
        while data[i]:
            i += data[i] + 1
        i += 1
    assert data[i] == 0x2C
    return bool(data[i + 9] & 0x40)


@pytest.mark.parametrize(
    ("name", "fmt", "check"),
    [
        (PHOTO, "png", _png_interlaced),
        ("anim.gif", "gif", _gif_interlaced),
    ],
)
def test_interlace(name: str, fmt: str, check: Callable[[bytes], bool]) -> None:
    assert not check(render_token(name, f"w100.{fmt}").data)
    assert check(render_token(name, f"w100-interlace.{fmt}").data)


def test_jpg_is_progressive_unless_baseline() -> None:
    """Progressive is the measured default (docs/tokens.md: Encoder defaults), so jpg has no
    `interlace` choice; `-baseline` writes sequential JPEG."""
    assert _jpeg_progressive(render_token(PHOTO, "w100.jpg").data)
    assert not OUTPUT_FORMATS["jpg"].accepts("interlace")
    baseline = render_token(PHOTO, "w100-baseline.jpg")
    assert not _jpeg_progressive(baseline.data)
    assert (baseline.width, baseline.height) == (100, 82)


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "avif"])
def test_keep_metadata_keeps_exif_and_icc_with_orientation_applied(fmt: str) -> None:
    image = decoded(render_token(PHONE, f"w200-keep.{fmt}"))
    assert (image.width, image.height) == (200, 267)  # stored landscape, displayed portrait
    assert image.get_typeof("exif-data")
    assert image.get("orientation") == 1 if image.get_typeof("orientation") else fmt == "avif"
    assert profile_description(image.get("icc-profile-data")).startswith("sRGB")
    assert not image.get_typeof("xmp-data")


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "avif"])
def test_metadata_is_stripped_by_default(fmt: str) -> None:
    image = decoded(render_token(PHONE, f"w200.{fmt}"))
    assert (image.width, image.height) == (200, 267)
    for name in ("icc-profile-data", "xmp-data", "orientation"):
        assert not image.get_typeof(name)


def test_keep_metadata_drops_the_exif_preview_of_the_original() -> None:
    source = pyvips.Image.new_from_buffer(image_bytes("xmp_test.jpg"), "")
    assert len(source.get("jpeg-thumbnail-data")) > 10_000
    image = decoded(render_token("xmp_test.jpg", "w200-keep.jpg"))
    assert image.get_typeof("exif-data")
    assert not image.get_typeof("jpeg-thumbnail-data")
    assert image.get("exif-ifd2-PixelXDimension").startswith("200 ")  # updated to the output


def test_keep_metadata_keeps_the_srgb_profile_a_foreign_one_became() -> None:
    """Pixels are converted to sRGB, so a Display P3 profile kept would misdescribe them."""
    p3 = thumbnail("grid.jpg", 400).icc_transform("p3", input_profile="srgb")
    source = p3.write_to_buffer(".jpg", keep="icc")
    out = render.render(source, Transform(100, None, "jpg", keep_metadata=True), LIMITS)
    image = decoded(out)
    assert profile_description(image.get("icc-profile-data")).startswith("sRGB")
    assert image.getpoint(10, 10)[0] > 200  # the red quadrant, converted back to sRGB red


# max bytes


def _fake_encoder(bytes_per_q: int) -> tuple[Callable[[int], bytes], list[int]]:
    tried: list[int] = []

    def encode_at(quality: int) -> bytes:
        tried.append(quality)
        return bytes(quality * bytes_per_q)

    return encode_at, tried


@pytest.mark.parametrize("max_bytes", [8000, 7999, 5000, 3333, 1234, 1000])
def test_fit_bytes_is_bounded_and_finds_a_quality_near_the_best(max_bytes: int) -> None:
    encode_at, tried = _fake_encoder(100)  # Q bytes * 100: Q 80 is 8000 bytes
    data = encode.fit_bytes(encode_at, 80, max_bytes)
    best = min(80, max_bytes // 100)
    assert len(data) <= max_bytes
    assert best - 2 <= len(data) // 100 <= best
    assert len(tried) <= encode.MAX_ENCODES
    assert tried[0] == 80


def test_fit_bytes_answers_the_smallest_when_nothing_fits() -> None:
    encode_at, tried = _fake_encoder(100)
    data = encode.fit_bytes(encode_at, 80, 500)  # even Q 10 is 1000 bytes
    assert len(data) == encode.MIN_QUALITY * 100
    assert len(tried) == encode.MAX_ENCODES
    assert tried[-1] == encode.MIN_QUALITY


def test_fit_bytes_asked_below_the_floor_is_the_floor() -> None:
    encode_at, tried = _fake_encoder(100)
    assert len(encode.fit_bytes(encode_at, 5, 400)) == 500
    assert tried == [5]  # q5 asked: nothing lower is tried, nothing higher would be smaller


@pytest.mark.parametrize("fmt", ["jpg", "webp", "avif"])
def test_max_bytes_fits_at_a_quality_near_the_best(fmt: str) -> None:
    """Against libvips directly: every quality's size, then the loop's answer among them."""
    pixels = thumbnail(PHOTO, 400)
    options = OUTPUT_FORMATS[fmt].save_options(None)
    sizes = {q: pixels.write_to_buffer(f".{fmt}", **{**options, "Q": q}) for q in range(10, 81, 1)}
    max_bytes = len(sizes[40]) + 1
    best = max(q for q, data in sizes.items() if len(data) <= max_bytes)
    transform = Transform(400, None, fmt, max_bytes=max_bytes)
    out = render.render(image_bytes(PHOTO), transform, LIMITS)
    assert len(out.data) <= max_bytes
    chosen = next(q for q, data in sizes.items() if data == out.data)
    assert best - 3 <= chosen <= best


def test_max_bytes_first_quality_fitting_is_one_encode() -> None:
    pixels = thumbnail(PHOTO, 200)
    tried: list[int] = []
    out = OUTPUT_FORMATS["jpg"]

    def encode_at(quality: int) -> bytes:
        tried.append(quality)
        return pixels.write_to_buffer(".jpg", **out.save_options(quality))

    encode.fit_bytes(encode_at, 80, 1_000_000)
    assert tried == [80]


def test_max_bytes_too_small_answers_the_smallest_it_could_make() -> None:
    out = render.render(image_bytes(PHOTO), Transform(800, None, "jpg", max_bytes=1024), LIMITS)
    floor = thumbnail(PHOTO, 800).write_to_buffer(
        ".jpg", **OUTPUT_FORMATS["jpg"].save_options(encode.MIN_QUALITY)
    )
    assert out.data == floor
    assert len(out.data) > 1024


def test_max_bytes_token() -> None:
    out = render_token(PHOTO, "w400-b9000.webp")
    assert len(out.data) <= 9000
    assert (decoded(out).width, out.format.ext) == (400, "webp")


# formats: the choices as data


def test_choices_by_format() -> None:
    accepted = {
        ext: sorted(c for c in CHOICES if fmt.accepts(c)) for ext, fmt in OUTPUT_FORMATS.items()
    }
    assert accepted == {
        "jpg": ["baseline", "keep_metadata"],
        "png": ["interlace", "keep_metadata"],
        "webp": ["keep_metadata", "lossless"],
        "gif": ["interlace"],
        "avif": ["keep_metadata", "lossless"],
        "tiff": ["keep_metadata"],
    }


def test_save_options_add_the_chosen_and_strip_otherwise() -> None:
    webp = OUTPUT_FORMATS["webp"]
    assert webp.save_options(None)["keep"] == "none"
    options = webp.save_options(None, ["lossless", "keep_metadata"])
    assert (options["lossless"], options["keep"]) == (True, "exif:icc")
    assert "lossless" not in webp.save_options(None)  # a fresh copy each time
