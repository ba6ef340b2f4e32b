"""Sizes before pixels: from the picture's size and a `Transform` to the exact output size, the
crop box (gravity, focal point) and the region of the source a crop or trim keeps.

Never enlarges a bitmap: a box larger than the source shrinks, keeping its aspect ratio (`pad`
then fills the rest of the box). Pure: imports no pyvips and does no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import BadRequest
from .transform import Crop, Fit, Gravity, Transform


@dataclass(frozen=True)
class Plan:
    """Sizes in the output's frame (after rotation): the picture is scaled to `resize_*`, then
    the `width` x `height` box at (`left`, `top`) of it is kept. A padded box is larger than
    the resize: the picture sits centred in it (render pads, no offsets needed)."""

    resize_width: int
    resize_height: int
    width: int
    height: int
    left: int = 0
    top: int = 0

    @property
    def crops(self) -> bool:
        return self.width < self.resize_width or self.height < self.resize_height

    @property
    def pads(self) -> bool:
        return self.width > self.resize_width or self.height > self.resize_height


UNPLANNED = Plan(1, 1, 1, 1)  # a placeholder until the picture's size is known


@dataclass(frozen=True)
class Region:
    """A rectangle of the displayed picture, in its pixels."""

    left: int
    top: int
    width: int
    height: int


def displayed_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """EXIF orientations 5-8 turn the picture a quarter: the viewer sees height x width."""
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def turned(width: int, height: int, rotate: int) -> tuple[int, int]:
    """A size after a clockwise rotation; also the way back, since a quarter turn only swaps."""
    return (height, width) if rotate in (90, 270) else (width, height)


def crop_region(width: int, height: int, crop: Crop) -> Region:
    """The pixels of a `width` x `height` picture that a crop keeps. Pixel crops must lie inside
    the picture, whose size only the original tells: BadRequest (400) otherwise."""
    if crop.fractions:
        left, top = _fraction_edge(crop.left, width), _fraction_edge(crop.top, height)
        right = max(left + 1, _fraction_edge(crop.left + crop.width, width))
        bottom = max(top + 1, _fraction_edge(crop.top + crop.height, height))
        left, top = min(left, width - 1), min(top, height - 1)
        return Region(left, top, min(right, width) - left, min(bottom, height) - top)
    left, top, crop_w, crop_h = (int(v) for v in (crop.left, crop.top, crop.width, crop.height))
    if left + crop_w > width or top + crop_h > height:
        raise BadRequest(
            f"crop: expected a region inside the {width}x{height} picture, got "
            f"{crop_w}x{crop_h} at {left},{top}",
            code="bad_crop",
        )
    return Region(left, top, crop_w, crop_h)


def widened_region(found: Region, shrink: int, width: int, height: int) -> Region:
    """A box found on a picture reduced 1/shrink by block means, in the `width` x `height`
    picture's pixels: its blocks and one more on each side (clamped to the picture). A block
    that content only partly fills can average within a threshold: the box's edge then lies
    in the block outside it, so the one more keeps it."""
    left, top = max(0, (found.left - 1) * shrink), max(0, (found.top - 1) * shrink)
    right = min(width, (found.left + found.width + 1) * shrink)
    bottom = min(height, (found.top + found.height + 1) * shrink)
    return Region(left, top, right - left, bottom - top)


def _fraction_edge(fraction: float, length: int) -> int:
    return math.floor(fraction * length + 0.5)


def plan(src_width: int, src_height: int, transform: Transform, *, enlarge: bool = False) -> Plan:
    """`src_*`: the picture as displayed (after EXIF orientation, crop and trim), before the
    transform's rotation; the plan is in the rotated frame. `enlarge` is for vector sources."""
    src_width, src_height = turned(src_width, src_height, transform.rotate)
    box_w, box_h = transform.box_width, transform.box_height
    if box_w is None or box_h is None or transform.fit in (Fit.FIT, Fit.PAD):
        limit = math.inf if enlarge else 1.0
        scale = min(
            limit, *(box / src for box, src in ((box_w, src_width), (box_h, src_height)) if box)
        )
        w, h = scaled_length(src_width, scale), scaled_length(src_height, scale)
        if transform.fit is Fit.PAD and box_w and box_h:
            return Plan(w, h, box_w, box_h)
        return Plan(w, h, w, h)
    if transform.fit is Fit.FORCE:
        w, h = (box_w, box_h) if enlarge else (min(box_w, src_width), min(box_h, src_height))
        return Plan(w, h, w, h)
    filled = _fill(src_width, src_height, box_w, box_h, enlarge)
    return _placed(filled, transform)


# libvips' largest image side: a box side that never constrains.
UNBOUNDED = 10_000_000


def fit_box(src_width: int, src_height: int, transform: Transform) -> tuple[int, int]:
    """For outputs that keep the source's aspect ratio (no crop): the box that makes libvips'
    thumbnail scale uniformly by the plan's own factor. Its constraining side is exact and the
    other unbounded; the plan's rounded size on both sides would make libvips scale each axis
    on its own, by slightly different factors (the picture drifts by a fraction of a pixel).
    In the picture's frame (before rotation), as libvips' thumbnail sees it.
    """
    box_w, box_h = turned(transform.box_width or 0, transform.box_height or 0, transform.rotate)
    if not box_w or not box_h:
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


# Where a gravity keeps the box, in halves of the slack: 0 left/top, 1 centre, 2 right/bottom.
_HALVES = {
    Gravity.CENTRE: (1, 1),
    Gravity.NORTH: (1, 0),
    Gravity.NORTH_EAST: (2, 0),
    Gravity.EAST: (2, 1),
    Gravity.SOUTH_EAST: (2, 2),
    Gravity.SOUTH: (1, 2),
    Gravity.SOUTH_WEST: (0, 2),
    Gravity.WEST: (0, 1),
    Gravity.NORTH_WEST: (0, 0),
}


def _placed(filled: Plan, transform: Transform) -> Plan:
    """The box's offsets: centred on the focal point (kept inside), or at the gravity."""
    slack_w, slack_h = filled.resize_width - filled.width, filled.resize_height - filled.height
    if transform.focal is not None:
        fx, fy = oriented_focal(transform)
        left = _clamp(math.floor(fx * filled.resize_width - filled.width / 2 + 0.5), slack_w)
        top = _clamp(math.floor(fy * filled.resize_height - filled.height / 2 + 0.5), slack_h)
    else:
        halves_x, halves_y = _HALVES[transform.gravity]
        left, top = slack_w * halves_x // 2, slack_h * halves_y // 2
    return Plan(filled.resize_width, filled.resize_height, filled.width, filled.height, left, top)


def _clamp(offset: int, slack: int) -> int:
    return min(max(offset, 0), slack)


def oriented_focal(transform: Transform) -> tuple[float, float]:
    """The focal point marks the picture (fractions of the displayed source): where it lands
    after the rotation, flip and flop. Gravity, by contrast, names sides of the output."""
    assert transform.focal is not None
    fx, fy = transform.focal
    fx, fy = {0: (fx, fy), 90: (1 - fy, fx), 180: (1 - fx, 1 - fy), 270: (fy, 1 - fx)}[
        transform.rotate
    ]
    return (1 - fx if transform.flop else fx), (1 - fy if transform.flip else fy)


def scaled_length(length: float, scale: float) -> int:
    """Rounded half up, as libvips' resize rounds (Python's round() would make 112.5 -> 112)."""
    return max(1, math.floor(length * scale + 0.5))


# JPEG decode shrinks, largest first (libjpeg's scaled IDCT: 1/8, 1/4, 1/2 of the size).
DECODE_SHRINKS = (8, 4, 2)


def fast_decode_shrink(src_width: int, src_height: int, plan: Plan) -> int:
    """The largest decode shrink whose image still covers the plan's resize, as sharp's
    fastShrinkOnLoad picks it; 1 for none. libvips' own choice leaves at least a factor of 2
    for the resize after it: sharper and slower (docs/tokens.md "Rendering" has the measured cost).
    `src_*` in the plan's frame (rotated).

    A shrink that equals the whole factor is halved, as sharp does: libjpeg rounds shrunk sizes
    up, and the resize after it would be a near-1x step over block-averaged pixels.
    """
    shrink = _factor(src_width, src_height, plan)
    for factor in DECODE_SHRINKS:
        if shrink >= factor:
            return factor // 2 if int(shrink) == factor else factor
    return 1


def libvips_decode_shrink(src_width: int, src_height: int, plan: Plan) -> int:
    """libvips thumbnail's own choice (vips_thumbnail_find_jpegshrink): the largest shrink that
    leaves at least a factor of 2 for the resize. Crops by coordinates decode the source
    themselves (no thumbnail_buffer), so they make the same choice here."""
    shrink = _factor(src_width, src_height, plan)
    return next((f for f in DECODE_SHRINKS if shrink >= 2 * f), 1)


def _factor(src_width: int, src_height: int, plan: Plan) -> float:
    return min(src_width / plan.resize_width, src_height / plan.resize_height)
