"""Makes the synthetic fixtures in test/images/ (`make images`). Deterministic; built with pyvips.

Each image is built to make a mistake visible: a wrong crop, a lost alpha, a skipped rotation.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pyvips

HERE = Path(__file__).parent


def quadrants(width: int, height: int) -> pyvips.Image:
    """Red, green, blue, white quadrants with a black centre mark: crops and rotations show."""
    colours = [[255, 0, 0], [0, 160, 0], [0, 0, 255], [255, 255, 255]]
    w2, h2 = width // 2, height // 2
    tiles = [pyvips.Image.black(w2, h2, bands=3).new_from_image(c) for c in colours]
    image = pyvips.Image.arrayjoin(tiles, across=2).cast("uchar")
    mark = pyvips.Image.black(width // 10, height // 10, bands=3)
    return image.insert(mark, w2 - width // 20, h2 - height // 20).copy(interpretation="srgb")


def with_orientation(image: pyvips.Image, orientation: int) -> pyvips.Image:
    tagged = image.copy()
    tagged.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    return tagged


def alpha_png() -> pyvips.Image:
    """A red square, opaque on the left half and fully transparent on the right."""
    red = pyvips.Image.black(200, 100, bands=3).new_from_image([255, 0, 0]).cast("uchar")
    alpha = (
        pyvips.Image.black(100, 100)
        .new_from_image(255)
        .join(pyvips.Image.black(100, 100), "horizontal")
        .cast("uchar")
    )
    return red.bandjoin(alpha).copy(interpretation="srgb")


def animation() -> pyvips.Image:
    """Four 60x40 frames of distinct colours, 100 ms each."""
    colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]]
    frames = [pyvips.Image.black(60, 40, bands=3).new_from_image(c).cast("uchar") for c in colours]
    strip = pyvips.Image.arrayjoin(frames, across=1).copy(interpretation="srgb")
    strip.set_type(pyvips.GValue.gint_type, "page-height", 40)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [100] * len(frames))
    strip.set_type(pyvips.GValue.gint_type, "loop", 0)
    return strip


def png_bomb() -> bytes:
    """A PNG whose header declares 65536x65536 (4.3 Gpixel) over a few hundred bytes of rows: a
    server must refuse it from the header alone. Written by hand, as no encoder writes a lie."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = struct.pack(">IIBBBBB", 65536, 65536, 1, 3, 0, 0, 0)  # 1-bit palette
    rows = zlib.compress(bytes(1 + 65536 // 8) * 16, 9)  # 16 rows: filter byte, zero bits
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"PLTE", bytes(3)),
            chunk(b"IDAT", rows),
            chunk(b"IEND", b""),
        )
    )


def main() -> None:
    grid = quadrants(800, 600)
    grid.write_to_file(str(HERE / "grid.jpg"), Q=90)
    grid.write_to_file(str(HERE / "grid.png"))
    quadrants(100, 80).write_to_file(str(HERE / "small.png"))
    # the same picture stored rotated a quarter turn, with EXIF 6 saying how to show it upright
    with_orientation(grid.rot270(), 6).write_to_file(
        str(HERE / "grid-exif6.jpg"), Q=90, keep="exif"
    )
    alpha_png().write_to_file(str(HERE / "alpha.png"))
    grid.colourspace("cmyk").write_to_file(str(HERE / "cmyk-noprofile.jpg"), Q=90, keep="none")
    animation().write_to_file(str(HERE / "anim.gif"))
    (HERE / "bomb.png").write_bytes(png_bomb())
    (HERE / "not-an-image.txt").write_bytes(b"hello, this is text and not an image\n")


if __name__ == "__main__":
    main()
