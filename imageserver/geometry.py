"""Sizes before pixels: from the source size and a `Transform` to the exact output size.

Never enlarges a bitmap: a box larger than the source shrinks, keeping its aspect ratio. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .transform import Fit, Transform


@dataclass(frozen=True)
class Plan:
    """The image is scaled to `resize_*`, then the centred `width` x `height` box is kept."""

    resize_width: int
    resize_height: int
    width: int
    height: int

    @property
    def crops(self) -> bool:
        return (self.width, self.height) != (self.resize_width, self.resize_height)

    @property
    def crop_left(self) -> int:
        return (self.resize_width - self.width) // 2

    @property
    def crop_top(self) -> int:
        return (self.resize_height - self.height) // 2


def displayed_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """EXIF orientations 5-8 turn the picture a quarter: the viewer sees height x width."""
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def plan(src_width: int, src_height: int, transform: Transform, *, enlarge: bool = False) -> Plan:
    """`src_*` is the displayed size (after orientation); `enlarge` is for vector sources."""
    box_w, box_h = transform.box_width, transform.box_height
    if box_w is None or box_h is None or transform.fit is Fit.FIT:
        limit = math.inf if enlarge else 1.0
        scale = min(
            limit, *(box / src for box, src in ((box_w, src_width), (box_h, src_height)) if box)
        )
        w, h = scaled_length(src_width, scale), scaled_length(src_height, scale)
        return Plan(w, h, w, h)
    return _fill(src_width, src_height, box_w, box_h, enlarge)


# libvips' largest image side: a box side that never constrains.
UNBOUNDED = 10_000_000


def fit_box(src_width: int, src_height: int, transform: Transform) -> tuple[int, int]:
    """For outputs that keep the source's aspect ratio (no crop): the box that makes libvips'
    thumbnail scale uniformly by the plan's own factor. Its constraining side is exact and the
    other unbounded; the plan's rounded size on both sides would make libvips scale each axis
    on its own, by slightly different factors (the picture drifts by a fraction of a pixel).
    """
    box_w, box_h = transform.box_width, transform.box_height
    if box_w is None or box_h is None:
        return box_w or UNBOUNDED, box_h or UNBOUNDED
    if box_w / src_width <= box_h / src_height:
        return box_w, UNBOUNDED
    return UNBOUNDED, box_h


def _fill(src_width: int, src_height: int, box_w: int, box_h: int, enlarge: bool) -> Plan:
    """Cover the box, then crop; a box that would need enlarging shrinks to fit the source."""
    cover = max(box_w / src_width, box_h / src_height)
    if cover > 1.0 and not enlarge:
        box_w = min(src_width, scaled_length(box_w, 1 / cover))
        box_h = min(src_height, scaled_length(box_h, 1 / cover))
        cover = max(box_w / src_width, box_h / src_height)
    resize_w = max(box_w, scaled_length(src_width, cover))
    resize_h = max(box_h, scaled_length(src_height, cover))
    return Plan(resize_w, resize_h, box_w, box_h)


def scaled_length(length: int, scale: float) -> int:
    """Rounded half up, as libvips' resize rounds (Python's round() would make 112.5 -> 112)."""
    return max(1, math.floor(length * scale + 0.5))


# JPEG decode shrinks, largest first (libjpeg's scaled IDCT: 1/8, 1/4, 1/2 of the size).
DECODE_SHRINKS = (8, 4, 2)


def fast_decode_shrink(src_width: int, src_height: int, plan: Plan) -> int:
    """The largest decode shrink whose image still covers the plan's resize, as sharp's
    fastShrinkOnLoad picks it; 1 for none. libvips' own choice leaves at least a factor of 2
    for the resize after it: sharper and slower (README "Rendering" has the measured cost).

    A shrink that equals the whole factor is halved, as sharp does: libjpeg rounds shrunk sizes
    up, and the resize after it would be a near-1x step over block-averaged pixels.
    """
    shrink = min(src_width / plan.resize_width, src_height / plan.resize_height)
    for factor in DECODE_SHRINKS:
        if shrink >= factor:
            return factor // 2 if int(shrink) == factor else factor
    return 1
