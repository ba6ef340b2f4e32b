"""Placeholders: the ThumbHash codec against the reference, info.json's `placeholder` from the
upload's small decode, and the `placeholder.FMT` output against a ThumbHash drawn directly."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import pyvips

from imageserver import render, thumbhash
from imageserver.keys import ImageKey
from imageserver.render import placeholder
from imageserver.services import Services
from imageserver.transform import parse_token
from tests.cli.runner import run_cli
from tests.conftest import IMAGES, ServerFactory, image_bytes
from tests.imagecompare import ssim

LIMITS = render.Limits(max_pixels=50_000_000, max_frames=500)

# Made by the reference implementation (npm `thumbhash` 0.1.1, node) from `_pattern` below:
# the hash, and the decoded image's size and RGBA pixels (hex) at `_sampled`.
REFERENCE = [
    (
        "32x24",
        "dff7093d9a7087778176775887679788837007f877",
        (32, 23),
        "000477ff ff0098ff 858286ff 01ff65ff e4f182ff 2ab463ff",
    ),
    (
        "24x32",
        "e0070a351a7077717888765896967878918006f877",
        (23, 32),
        "060b79ff ff008cff 747676ff 00fa7dff d1d562ff 33b475ff",
    ),
    (
        "32x32a",
        "211886150828b09ba06aacb433c18014fb8604677788708a68",
        (32, 32),
        "80618e00 cb568e25 667068ff 82a48b00 a18d6925 668974df",
    ),
    (
        "17x9a",
        "a10886038a47a47b907b8a95904afa6605988678867968",
        (32, 19),
        "9e827c00 b95a7500 81826dff 83b88900 93ad8b2f 73936fa9",
    ),
    (
        "100x60",
        "df070a3c9a707787707878777777808008f877",
        (32, 18),
        "00007dff ff0089ff 7d7f82ff 00f174ff e6ea51ff 3cc686ff",
    ),
]


def _pattern(width: int, height: int, alpha: bool) -> bytes:
    """Gradients, a stripe pattern and (alpha) a disc of opaque pixels in ramps of alpha."""
    rgba = bytearray()
    for y in range(height):
        for x in range(width):
            inside = (x - width / 2) ** 2 + (y - height / 2) ** 2 < width * height / 8
            a = (255 if inside else (x * 3) % 256) if alpha else 255
            rgba += bytes(
                [int(x * 255 / (width - 1)), int(y * 255 / (height - 1)), (x * 7 + y * 13) % 256, a]
            )
    return bytes(rgba)


def _sampled(width: int, height: int) -> list[tuple[int, int]]:
    return [
        (0, 0),
        (width - 1, 0),
        (width // 2, height // 2),
        (0, height - 1),
        (width - 1, height - 1),
        (width // 3, 2 * height // 3),
    ]


def _nibbles(hashed: bytes) -> list[int]:
    return [n for byte in hashed for n in (byte & 15, byte >> 4)]


@pytest.mark.parametrize(("name", "expected", "size", "pixels"), REFERENCE)
def test_codec_matches_the_reference(
    name: str, expected: str, size: tuple[int, int], pixels: str
) -> None:
    width, height = (int(side) for side in name.rstrip("a").split("x"))
    ours = thumbhash.encode(width, height, _pattern(width, height, name.endswith("a")))
    reference = bytes.fromhex(expected)
    header = 6 if name.endswith("a") else 5
    assert ours[:header] == reference[:header]
    # a term exactly halfway between two steps may round either way with summation order
    assert len(ours) == len(reference)
    assert max(abs(a - b) for a, b in zip(_nibbles(ours), _nibbles(reference), strict=True)) <= 1
    decoded_width, decoded_height, rgba = thumbhash.decode(reference)
    assert (decoded_width, decoded_height) == size
    for (x, y), pixel in zip(_sampled(*size), map(bytes.fromhex, pixels.split()), strict=True):
        i = (y * decoded_width + x) * 4
        assert max(abs(a - b) for a, b in zip(rgba[i : i + 4], pixel, strict=True)) <= 1


@pytest.mark.parametrize("broken", [b"", b"\x00\x01", bytes.fromhex("21188615")])
def test_decode_refuses_a_short_hash(broken: bytes) -> None:
    with pytest.raises(ValueError, match="thumbhash"):
        thumbhash.decode(broken)


def test_encode_refuses_more_than_100_px() -> None:
    with pytest.raises(ValueError, match="101x10"):
        thumbhash.encode(101, 10, bytes(101 * 10 * 4))


def _direct_hash(data: bytes) -> bytes:
    """libvips' own 32 px thumbnail (page 1, upright), as RGBA, encoded: what probe must store."""
    image = pyvips.Image.thumbnail_buffer(data, 32)
    image = image.colourspace("srgb") if image.interpretation != "srgb" else image
    image = image if image.hasalpha() else image.bandjoin(255)
    return thumbhash.encode(image.width, image.height, bytes(image.write_to_memory()))


@pytest.mark.parametrize(
    ("name", "landscape", "alpha"),
    [
        ("grid.jpg", True, False),
        ("grid-exif6.jpg", True, False),  # stored 600x800, EXIF 6: hashed upright, 800x600
        ("alpha.png", None, True),
        ("anim.gif", None, None),  # frame 1
        ("cmyk-noprofile.jpg", None, False),
    ],
)
def test_probe_hashes_its_own_small_decode(
    name: str, landscape: bool | None, alpha: bool | None
) -> None:
    data = image_bytes(name)
    found = render.probe(data, LIMITS)
    assert found.placeholder == _direct_hash(data)
    if landscape is not None:
        assert (thumbhash.aspect_ratio(found.placeholder) > 1) is landscape
    if alpha is not None:
        assert bool(found.placeholder[2] & 0x80) is alpha  # the hash's alpha bit


def test_pdf_placeholder_is_page_one_in_its_shape() -> None:
    data = image_bytes("AutoCad_Diagram.pdf")  # /Rotate 270: displayed landscape
    found = render.probe(data, LIMITS)
    assert found.placeholder is not None
    assert thumbhash.aspect_ratio(found.placeholder) > 1


async def test_upload_stores_the_placeholder_in_info(services: Services) -> None:
    ingested = await services.originals.ingest("p", image_bytes("grid.jpg"))
    stored = json.loads(await services.storage.get(ingested.key.info))
    assert stored["placeholder"] == ingested.info["placeholder"]
    assert base64.b64decode(stored["placeholder"]) == _direct_hash(image_bytes("grid.jpg"))


def _drawn(placeholder_b64: str) -> pyvips.Image:
    """The golden image: the ThumbHash decoded and wrapped by libvips, nothing of ours."""
    width, height, rgba = thumbhash.decode(base64.b64decode(placeholder_b64))
    image = pyvips.Image.new_from_memory(rgba, width, height, 4, "uchar")
    return image.copy(interpretation="srgb")


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("grid.jpg", "placeholder.png"),
        ("alpha.png", "placeholder.webp"),
        ("alpha.png", "placeholder.jpg"),
    ],
)
async def test_placeholder_output_is_the_hash_drawn(
    services: Services, name: str, token: str
) -> None:
    ingested = await services.originals.ingest("p", image_bytes(name))
    output = await services.variants.get(ingested.key, parse_token(token))
    ours = pyvips.Image.new_from_buffer(output.body, "")
    golden = _drawn(ingested.info["placeholder"])
    if token.endswith(".jpg"):  # as libvips itself writes it: on white, at jpg's quality 80
        golden = golden.flatten(background=[255, 255, 255])
        golden = pyvips.Image.new_from_buffer(golden.jpegsave_buffer(Q=80), "")
    assert (ours.width, ours.height) == (golden.width, golden.height)
    assert max(ours.width, ours.height) == 32
    assert ssim(ours, golden) >= 0.99
    assert await services.storage.get(ingested.key.output(token)) == output.body  # stored


async def test_placeholder_needs_no_original_pixels(services: Services) -> None:
    """Drawn from info.json: the original's bytes are never read (here: no longer there)."""
    ingested = await services.originals.ingest("p", image_bytes("grid.jpg"))
    services.storage.path(ingested.key.original).unlink()
    output = await services.variants.get(ingested.key, parse_token("placeholder.png"))
    assert output.content_type == "image/png"


async def test_original_without_placeholder_gets_one_on_demand(services: Services) -> None:
    """Originals stored before placeholders (here: one adopted, which skips the decode) have
    none in info.json: the output probes the original instead; info.json stays as written."""
    data = image_bytes("grid.jpg")
    rendered = render.render(data, parse_token("w200.jpg"), LIMITS)
    adopted = await services.originals.adopt("p", rendered)
    assert "placeholder" not in adopted.info
    output = await services.variants.get(adopted.key, parse_token("placeholder.png"))
    expected = _direct_hash(rendered.data)
    ours = pyvips.Image.new_from_buffer(output.body, "")
    golden = _drawn(base64.b64encode(expected).decode())
    assert ssim(ours, golden) >= 0.99
    assert "placeholder" not in json.loads(await services.storage.get(adopted.key.info))


async def test_server_upload_info_and_output(start_server: ServerFactory) -> None:
    server = await start_server()
    info = await server.upload(image_bytes("grid.jpg"), outputs="placeholder.png,x100.jpg")
    assert thumbhash.aspect_ratio(base64.b64decode(info["placeholder"])) > 1
    key = ImageKey("p", info["hash"])
    assert (server.storage / key.output("placeholder.png")).exists()  # an upload output
    url = server.image_url(info["hash"]) + "/placeholder.png"
    async with server.session.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "image/png"
        assert "immutable" in resp.headers["Cache-Control"]
        body = await resp.read()
    assert body == (server.storage / key.output("placeholder.png")).read_bytes()
    async with server.session.get(server.image_url(info["hash"]) + "/info.json") as resp:
        assert (await resp.json())["placeholder"] == info["placeholder"]


async def test_placeholder_of_an_unknown_original_is_404(start_server: ServerFactory) -> None:
    server = await start_server()
    async with server.session.get(server.image_url("0" * 32) + "/placeholder.png") as resp:
        assert resp.status == 404


def test_cli_process_stores_the_placeholder(tmp_path: Path) -> None:
    storage = tmp_path / "data"
    run = run_cli("process", "--storage", storage, IMAGES / "alpha.png")
    assert run.returncode == 0, run.stderr
    (info_path,) = storage.rglob("info.json")
    info = json.loads(info_path.read_text())
    assert base64.b64decode(info["placeholder"]) == _direct_hash(image_bytes("alpha.png"))


def test_hash_of_takes_any_decode() -> None:
    """16-bit, grey and grey+alpha decodes become 8-bit sRGB with alpha before hashing."""
    grey = pyvips.Image.black(40, 20) + 128
    assert placeholder.hash_of(grey) == placeholder.hash_of(grey.copy(interpretation="b-w"))
    sixteen = (pyvips.Image.black(20, 20, bands=3) + 30000).cast("ushort")
    assert thumbhash.aspect_ratio(placeholder.hash_of(sixteen.copy(interpretation="rgb16"))) == 1
    grey_alpha = (pyvips.Image.black(20, 20) + 100).bandjoin(128).copy(interpretation="b-w")
    assert placeholder.hash_of(grey_alpha)[2] & 0x80  # alpha kept
