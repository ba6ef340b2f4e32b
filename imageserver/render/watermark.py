"""The watermark step (`-wmNAME`): a configured original, scaled to a fraction of the output's
width, its alpha times the opacity, composited at its compass position over every frame.

Costs what libvips' own composite costs: the watermark is decoded at its small size (thumbnail,
so shrink-on-load) once per size and kept, and composite is lazy, so the output's pixels stream
through it on the way to the encoder instead of being copied.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pyvips

from .. import watermarks
from ..watermarks import Watermark


@dataclass(frozen=True)
class Overlay:
    """A watermark's spec and its original's bytes (read from storage once: overlays.py)."""

    spec: Watermark
    data: bytes


def apply(image: pyvips.Image, overlay: Overlay, frame_height: int) -> pyvips.Image:
    """`image` is 8-bit sRGB or grey (frames stacked, `frame_height` each); the result is 8-bit
    sRGB, with an alpha band only when `image` had one."""
    spec = overlay.spec
    mark = _decoded(overlay, *watermarks.box(image.width, frame_height, spec))
    left, top = watermarks.place(image.width, frame_height, mark.width, mark.height, spec)
    frames = image.height // frame_height
    composited = image.composite(
        [mark] * frames,
        ["over"] * frames,
        x=[left] * frames,
        y=[top + i * frame_height for i in range(frames)],
    )
    if image.hasalpha():
        return composited
    return composited.extract_band(0, n=composited.bands - 1)  # composite always adds alpha


# Scaled watermarks kept decoded, per (watermark, box): a site renders a few output sizes, and
# decoding the logo was half of the step's cost (2 of 4 ms for a 256x96 PNG at w400). Small
# images, few sizes: 16 at most, the least recently used dropped.
DECODED_KEPT = 16


@functools.lru_cache(maxsize=DECODED_KEPT)
def _decoded(overlay: Overlay, width: int, height: int) -> pyvips.Image:
    """At most `width` x `height`, aspect kept (small logos are drawn larger, SVG sharp), as
    8-bit sRGB with alpha, the alpha scaled by the opacity; in memory, read by every render
    that composites it (libvips images are immutable, so threads share it)."""
    mark = pyvips.Image.thumbnail_buffer(overlay.data, width, height=height, size="both")
    if mark.interpretation != "srgb" or mark.format != "uchar":
        mark = mark.colourspace("srgb")
    if not mark.hasalpha():
        mark = mark.bandjoin(255)
    opacity = overlay.spec.opacity
    if opacity < 1:
        mark = mark.linear([1.0, 1.0, 1.0, opacity], [0.0] * 4).cast("uchar")
    return mark.copy_memory()
