"""PDF pages in the render pipeline (in-process): sizes, page selection, /Rotate, crop boxes,
resolution, passwords, limits. The server runs the same functions in worker processes."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest
import pyvips

from imageserver import render
from imageserver.errors import Encrypted, NotFound, OverLimit, Undecodable
from imageserver.pages import Raster
from imageserver.transform import parse_token
from tests.conftest import image_bytes
from tests.imagecompare import ssim
from tests.pdf.conftest import (
    BLUE,
    ENCRYPTED,
    GREEN,
    MULTIPAGE,
    PASSWORD,
    RED,
    ROTATED,
    SCANNED,
    corpus_pdf,
)

LIMITS = render.Limits(max_pixels=50_000_000, max_frames=500)


def rendered(data: bytes, token: str, limits: render.Limits = LIMITS) -> pyvips.Image:
    result = render.render(data, parse_token(token), limits)
    image = pyvips.Image.new_from_buffer(result.data, "")
    assert (image.width, image.height) == (result.width, result.height)
    return image


def colour(image: pyvips.Image, x: int, y: int) -> tuple[int, ...]:
    return tuple(round(v) for v in image.getpoint(x, y))


def near(found: tuple[int, ...], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 40 for a, b in zip(found, expected, strict=True))


@pytest.mark.parametrize(
    ("name", "pages", "size"),
    [(MULTIPAGE, 19, (612, 792)), (SCANNED, 6, (432, 648)), (ROTATED, 1, (1191, 842))],
)
def test_probe_gives_pages_and_page_one_at_72_dpi(
    name: str, pages: int, size: tuple[int, int]
) -> None:
    found = render.probe(corpus_pdf(name), LIMITS)
    assert (found.input.mime, found.pages, (found.width, found.height)) == (
        "application/pdf",
        pages,
        size,
    )


def test_generated_pdf_probe(generated_pdf: bytes) -> None:
    found = render.probe(generated_pdf, LIMITS)
    assert (found.pages, found.width, found.height) == (3, 200, 100)
    assert (render.inspect(generated_pdf, LIMITS, 3).width, found.height) == (100, 100)


def test_first_page_by_default(generated_pdf: bytes) -> None:
    image = rendered(generated_pdf, "w200.png")
    assert (image.width, image.height) == (200, 100)
    assert near(colour(image, 20, 50), RED)
    assert near(colour(image, 180, 50), BLUE)


def test_rotate_is_honoured(generated_pdf: bytes) -> None:
    """Page 2 is drawn portrait, red at the bottom, and turned a quarter by /Rotate 90."""
    image = rendered(generated_pdf, "w200-p2.png")
    assert (image.width, image.height) == (200, 100)
    assert near(colour(image, 20, 50), RED)
    assert near(colour(image, 180, 50), BLUE)


def test_rotated_cad_drawing_is_landscape() -> None:
    image = rendered(corpus_pdf(ROTATED), "w600.jpg")
    assert (image.width, image.height) == (600, 424)


def test_crop_box_is_honoured(generated_pdf: bytes) -> None:
    image = rendered(generated_pdf, "w100-p3.png")
    assert (image.width, image.height) == (100, 100)
    for x, y in ((2, 2), (97, 97), (50, 50)):
        assert near(colour(image, x, y), GREEN)


@pytest.mark.parametrize(
    ("token", "size"),
    [("x300-p2.jpg", (300, 300)), ("300x100-smart.webp", (300, 100)), ("h50-p19.png", (39, 50))],
)
def test_boxes_and_pages(token: str, size: tuple[int, int]) -> None:
    image = rendered(corpus_pdf(MULTIPAGE), token)
    assert (image.width, image.height) == size


def test_pages_differ() -> None:
    data = corpus_pdf(SCANNED)
    first, second = rendered(data, "w300.png"), rendered(data, "w300-p2.png")
    assert ssim(first, second) < 0.9


@pytest.mark.parametrize("dpi", [72, 300])
def test_drawn_at_the_resolution_the_output_needs(dpi: int) -> None:
    """Any size is as sharp as PDFium drawing it directly: not drawn at a fixed DPI and scaled."""
    data = corpus_pdf(MULTIPAGE)
    ours = rendered(data, f"w{612 * dpi // 72}.png")
    bitmap = pdfium.PdfDocument(data)[0].render(scale=dpi / 72, rev_byteorder=True)
    theirs = pyvips.Image.new_from_memory(bitmap.buffer, bitmap.width, bitmap.height, 3, "uchar")
    assert ssim(ours, theirs.crop(0, 0, ours.width, ours.height)) > 0.99


def test_past_the_last_page_is_not_found() -> None:
    with pytest.raises(NotFound, match=r"^page 20: this original has 19 pages$"):
        render.render(corpus_pdf(MULTIPAGE), parse_token("w100-p20.jpg"), LIMITS)


def test_pages_of_images() -> None:
    """A multi-page TIFF shows its pages too; a single picture has page 1 only."""
    page_two = rendered(image_bytes("G31D_MULTI.TIF"), "w100-p2.png")
    assert (page_two.width, page_two.height) == (100, 132)
    with pytest.raises(NotFound, match=r"^page 2: this original has 1 page$"):
        render.render(image_bytes("grid.jpg"), parse_token("w100-p2.jpg"), LIMITS)


def test_encrypted_needs_its_password() -> None:
    data = corpus_pdf(ENCRYPTED)
    with pytest.raises(Encrypted, match=r"\?password="):
        render.probe(data, LIMITS)
    with pytest.raises(Encrypted, match="does not open it"):
        render.unlock(data, "wrong")
    copy = render.unlock(data, PASSWORD)
    assert copy is not None
    found = render.probe(copy, LIMITS)
    assert (found.pages, found.width, found.height) == (1, 595, 842)


def test_unlock_leaves_everything_else_alone(generated_pdf: bytes) -> None:
    assert render.unlock(generated_pdf, PASSWORD) is None
    assert render.unlock(image_bytes("grid.jpg"), PASSWORD) is None


def test_max_pages() -> None:
    tight = render.Limits(max_pixels=50_000_000, max_frames=500, max_pages=18)
    with pytest.raises(OverLimit, match=r"^19 pages is over the limit of 18$"):
        render.probe(corpus_pdf(MULTIPAGE), tight)


def test_pixel_limit_applies_to_each_page_as_drawn() -> None:
    tight = render.Limits(max_pixels=1_000_000, max_frames=500)
    data = corpus_pdf(MULTIPAGE)
    assert rendered(data, "w800.jpg", tight).width == 800  # 800 x 1035
    with pytest.raises(OverLimit, match=r"880x1139 is 1002320 pixels"):
        render.render(data, parse_token("w880.jpg"), tight)


@pytest.mark.parametrize(
    "data",
    [corpus_pdf(MULTIPAGE)[:3000], b"%PDF-1.7\n" + bytes(range(256)) * 8],
    ids=["truncated", "garbage"],
)
def test_broken_pdfs_are_undecodable(data: bytes) -> None:
    with pytest.raises(Undecodable, match=r"^cannot decode image: pdf: "):
        render.probe(data, LIMITS)


def test_rasterize_draws_a_page_at_a_dpi() -> None:
    raster = Raster(dpi=150, format="jpg", max_side=8192, fallback_dpi=72)
    result = render.rasterize(corpus_pdf(MULTIPAGE), 19, raster, LIMITS)
    assert (result.width, result.height, result.format.ext) == (1275, 1650, "jpg")
