"""The shared corpus (`../shared/testdata/MANIFEST.tsv`) and what we promise for each file.

Without the corpus the manifest is empty and its files skip their tests (tests/corpus.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyvips

from imageserver import render
from imageserver.transform import parse_token
from tests.corpus import image_path, manifest_rows

LIMITS = render.Limits(max_pixels=50_000_000, max_frames=500)
OUTPUT_FORMATS = ("jpg", "png", "webp", "gif", "avif", "tiff")

# Refused with a 4xx, and why: everything else in the corpus must render in every format.
REFUSED = {
    "65536-uint32-limit.png": (422, "over_limit"),  # decompression bomb: 4.3 Gpixel declared
    "giant-image.jpg": (422, "over_limit"),  # 280 MP
    "200MP.heic": (422, "over_limit"),
    "truncated.jpg": (422, "undecodable"),
    "truncated.png": (422, "undecodable"),
    "corrupt-header.jpg": (422, "undecodable"),
    "xcsn0g01.png": (422, "undecodable"),  # bad IDAT CRC
    "monkey12.jpg": (422, "undecodable"),  # 12-bit JPEG: the 8-bit libjpeg cannot decode it
    "colors-animated-8bpc.avif": (422, "undecodable"),  # AVIF sequence: libvips has no loader
    "encrypted-file.pdf": (422, "encrypted"),  # uploaded without ?password=
}


@dataclass(frozen=True)
class Case:
    file: str
    width: int  # as displayed
    height: int
    format: str
    frames: int


def manifest() -> list[Case]:
    return [
        Case(
            row["file"],
            int(row["width"] or 0),
            int(row["height"] or 0),
            row["format"],
            int(row["pages_or_frames"] or 1),
        )
        for row in manifest_rows()
    ]


def renderable() -> list[Case]:
    return [case for case in manifest() if case.file not in REFUSED]


def render_file(name: str, token: str) -> pyvips.Image:
    """Renders through the real pipeline and decodes the bytes back (all frames)."""
    result = render.render(image_path(name).read_bytes(), parse_token(token), LIMITS)
    animated = token.endswith((".gif", ".webp"))
    return pyvips.Image.new_from_buffer(result.data, "n=-1" if animated else "")


def page_height(image: pyvips.Image) -> int:
    return image.get("page-height") if image.get_typeof("page-height") else image.height
