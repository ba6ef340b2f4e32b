"""Page math: selection, the size a page is drawn at, and rasterize resolutions and limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageserver.errors import NotFound, OverLimit
from imageserver.pages import Raster, check_page, check_pixels, cover_size, pixels_at, raster_width

LETTER = (612, 792)  # points: 8.5 x 11 in
RASTER = Raster(dpi=150, format="jpg", max_side=8192, fallback_dpi=72)


@pytest.mark.parametrize(("page", "pages"), [(1, 1), (3, 3), (1, 19)])
def test_check_page_accepts_existing_pages(page: int, pages: int) -> None:
    check_page(page, pages)


@pytest.mark.parametrize(
    ("page", "pages", "message"),
    [(2, 1, "page 2: this original has 1 page$"), (20, 19, "page 20: this original has 19 pages")],
)
def test_check_page_past_the_last_is_not_found(page: int, pages: int, message: str) -> None:
    with pytest.raises(NotFound, match=message):
        check_page(page, pages)


def test_cover_size_is_the_box_when_the_shape_is_kept() -> None:
    assert cover_size(612.0, 792.0, 200, 259, crop=False) == (200, 259)


@pytest.mark.parametrize(
    ("box", "drawn"),
    [((300, 300), (300, 388)), ((1200, 400), (1200, 1553)), ((100, 500), (386, 500))],
)
def test_cover_size_covers_a_crop_box(box: tuple[int, int], drawn: tuple[int, int]) -> None:
    assert cover_size(*LETTER, *box, crop=True) == drawn


def test_check_pixels() -> None:
    check_pixels(1000, 1000, 1_000_000)
    with pytest.raises(OverLimit, match=r"1000x1001 is 1001000 pixels, over the limit"):
        check_pixels(1000, 1001, 1_000_000)


@pytest.mark.parametrize(
    ("dpi", "max_side", "width"),
    [(150, 8192, 1275), (72, 8192, 612), (300, 8192, 2550), (150, 1000, 772), (600, 4000, 3090)],
)
def test_raster_width_from_dpi_within_max_side(dpi: int, max_side: int, width: int) -> None:
    raster = Raster(dpi=dpi, format="jpg", max_side=max_side, fallback_dpi=72)
    assert raster_width(*LETTER, raster, 50_000_000) == width


def test_raster_falls_back_to_the_fallback_dpi_over_the_pixel_limit() -> None:
    # 1275 x 1650 = 2.1 MP at 150 dpi; at 72 dpi 612 x 792 = 0.48 MP
    assert raster_width(*LETTER, RASTER, 2_000_000) == 612


def test_raster_takes_the_largest_size_within_the_limit_when_the_fallback_is_over() -> None:
    width = raster_width(*LETTER, RASTER, 100_000)
    assert pixels_at(*LETTER, width) <= 100_000 < pixels_at(*LETTER, width + 1)


@given(
    st.integers(1, 14400),
    st.integers(1, 14400),
    st.integers(1, 1200),
    st.integers(1, 1200),
    st.integers(1, 8192),
    st.integers(1, 100_000_000),
)
def test_raster_width_stays_within_every_limit(
    page_w: int, page_h: int, dpi: int, fallback: int, max_side: int, max_pixels: int
) -> None:
    raster = Raster(dpi=dpi, format="jpg", max_side=max_side, fallback_dpi=fallback)
    width = raster_width(page_w, page_h, raster, max_pixels)
    height = pixels_at(page_w, page_h, width) // width
    assert 1 <= width <= max(1, round(page_w * dpi / 72))
    assert max(width, height) <= max(max_side, 1) or width == 1 or height == 1
    assert pixels_at(page_w, page_h, width) <= max_pixels or width == 1
