"""The encoder: a Transform's saver options (formats.py), the search for the highest quality
whose output fits `-bN` max bytes, and what an output is once encoded (Rendered)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyvips

from ..formats import CHOICES, OutputFormat
from ..transform import Transform

MIN_QUALITY = 10  # below it JPEG and WebP are blocks and smears: the search stops here
MAX_ENCODES = 6  # per output: the first try, then a bisection that ends within ~2 of the best Q


@dataclass(frozen=True)
class Rendered:
    data: bytes
    width: int
    height: int
    format: OutputFormat


def encode(image: pyvips.Image, out: OutputFormat, transform: Transform) -> bytes:
    """The output's bytes; with max bytes (formats with a quality, not lossless) the best
    quality that fits, or the smallest made when even MIN_QUALITY does not (as imgproxy)."""
    chosen = [name for name in CHOICES if getattr(transform, name)]
    options = out.save_options(transform.quality, chosen)
    if transform.keep_metadata:
        image = _without_exif_thumbnail(image)
    if transform.max_bytes is None or "Q" not in options or transform.lossless:
        return image.write_to_buffer(out.saver_suffix, **options)
    # the pixels are made once and encoded up to MAX_ENCODES times: a lazy image would decode
    # again per encode (and a sequential decoder cannot read twice)
    pixels = image.copy_memory()

    def encode_at(quality: int) -> bytes:
        return pixels.write_to_buffer(out.saver_suffix, **{**options, "Q": quality})

    return fit_bytes(encode_at, options["Q"], transform.max_bytes)


def _without_exif_thumbnail(image: pyvips.Image) -> pyvips.Image:
    """The preview a camera puts in EXIF shows the original, uncropped and unrotated (what a
    crop was meant to cut off), and is often larger than a small output: libvips leaves it out
    of the EXIF it writes once the field is gone. A copy of the header, not of the pixels."""
    if not image.get_typeof("jpeg-thumbnail-data"):
        return image
    image = image.copy()
    image.remove("jpeg-thumbnail-data")
    return image


def fit_bytes(encode_at: Callable[[int], bytes], quality: int, max_bytes: int) -> bytes:
    """The highest quality's output of at most `max_bytes`, from at most MAX_ENCODES encodes:
    `quality` first (it fits: one encode), then a bisection between MIN_QUALITY and it. The
    last encode tries MIN_QUALITY itself while nothing has fit, so the smallest answer is
    the smallest possible one."""
    floor = min(MIN_QUALITY, quality)
    low, high = floor, quality
    tried: dict[int, bytes] = {}
    for encodes_left in reversed(range(MAX_ENCODES)):
        data = tried[quality] = encode_at(quality)
        if len(data) <= max_bytes:
            low = quality + 1
        else:
            high = quality - 1
        if low > high or encodes_left == 0:
            break
        nothing_fits = low == floor
        quality = low if nothing_fits and encodes_left == 1 else (low + high) // 2
    fitting = [q for q, data in tried.items() if len(data) <= max_bytes]
    return tried[max(fitting)] if fitting else min(tried.values(), key=len)
