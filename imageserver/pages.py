"""Pages of documents: which page a token selects, and at what size a page is drawn. Pure.

Sizes are in PDF points (1/72 inch) on the way in and whole pixels on the way out. A page is
drawn at the size its output needs, never at a fixed resolution and then shrunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import geometry
from .errors import NotFound, OverLimit

POINTS_PER_INCH = 72


def check_page(page: int, pages: int) -> None:
    """Pages are 1-based; one past the last is a missing resource, like an unknown image."""
    if not 1 <= page <= pages:
        raise NotFound(f"page {page}: this original has {pages} page{'s' if pages > 1 else ''}")


def cover_size(
    page_width: float, page_height: float, width: int, height: int, *, crop: bool
) -> tuple[int, int]:
    """Where to draw a page for an output of `width` x `height`.

    Exactly that size when the output keeps the page's shape; for crops the smallest size that
    covers the box, so cutting it needs no further resampling.
    """
    if not crop:
        return width, height
    scale = max(width / page_width, height / page_height)
    return max(width, geometry.scaled_length(page_width, scale)), max(
        height, geometry.scaled_length(page_height, scale)
    )


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    """The pixel limit of documents applies to each page as drawn, not to a nominal size."""
    if width * height > max_pixels:
        raise OverLimit(
            f"the page drawn at {width}x{height} is {width * height} pixels, "
            f"over the limit of {max_pixels}"
        )


@dataclass(frozen=True)
class Raster:
    """How a rasterize job draws every page: a resolution, within a longest side and a limit."""

    dpi: int
    format: str
    max_side: int
    fallback_dpi: int


def raster_width(page_width: int, page_height: int, raster: Raster, max_pixels: int) -> int:
    """The pixel width of a page (size in points) drawn at `raster.dpi` within `max_side`.

    A page over `max_pixels` at that resolution is drawn at `fallback_dpi`, and if it is still
    over, at the largest size within the limit. The height follows from the page's shape.
    """
    for dpi in (raster.dpi, min(raster.fallback_dpi, raster.dpi)):
        scale = min(dpi / POINTS_PER_INCH, raster.max_side / max(page_width, page_height))
        width = max(1, math.floor(page_width * scale))
        if pixels_at(page_width, page_height, width) <= max_pixels:
            return width
    width = math.floor(math.sqrt(max_pixels * page_width / page_height))
    while width > 1 and pixels_at(page_width, page_height, width) > max_pixels:
        width -= 1
    return max(1, width)


def pixels_at(page_width: int, page_height: int, width: int) -> int:
    """Pixels of the page drawn `width` wide, its height rounded as geometry.plan rounds it."""
    return width * geometry.scaled_length(page_height, width / page_width)
