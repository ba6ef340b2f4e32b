"""The box of `-trim`: libvips find_trim's, for a few percent of its work.

find_trim median-filters every pixel before it looks for the border: on the 2725x2225 test photo
that is most of its ~650 ms, against a 60 ms decode. Here the box is found first on a copy
reduced 1/SHRINK by block means (no median there: the mean is the noise filter) and widened by a
block (geometry.widened_region); then each edge is found as find_trim finds it (median,
threshold) on full-size pixels, in the strip 2*SHRINK pixels deep inside that box where the
edge must be: ~1% of the pixels through the median instead of all of them.

Precision, against find_trim on the whole picture (tests/test_render_trim.py):
- clean borders (PNG, grey, 16-bit, alpha): the same box, to the pixel;
- JPEG borders: JPEG noise and ringing next to the picture that find_trim's median lets through
  may be cut here, the box then inside find_trim's by less than a JPEG MCU (16 px): of 504
  randomly framed pictures, 15 boxes differed, all JPEG at threshold 10, by 13 px at most;
- what the block means do not see is cut as border: a feature k pixels across shows in them with
  at most k/SHRINK of its contrast, so a faint small mark alone in the border goes;
- a mark the block means see but the median erases (a line 1 px wide) keeps the edges it reaches
  a block out from it: the line and the border inside it stay, where find_trim cuts them.
"""

from __future__ import annotations

import pyvips

from .. import geometry
from ..geometry import Region

SHRINK = 4  # the reduced copy: 1/16 of the pixels; a strip is 2*SHRINK pixels deep


def box(picture: pyvips.Image, threshold: int) -> Region | None:
    """What differs from the top-left pixel's colour by more than the threshold; None for a
    picture of that one colour. Alpha is flattened onto that colour first, as find_trim does,
    before the block means mix colours and alphas."""
    background = picture.getpoint(0, 0)[: picture.bands - (1 if picture.hasalpha() else 0)]
    if picture.hasalpha():
        picture = picture.flatten(background=background)
    if min(picture.width, picture.height) < 3 * SHRINK:  # find_trim needs 3x3: no reduced copy
        return _found(picture, threshold, background, line_art=False)
    reduced = picture.shrink(SHRINK, SHRINK, ceil=True)
    found = _found(reduced, threshold, background, line_art=True)
    if found is None:
        return None
    outer = geometry.widened_region(found, SHRINK, picture.width, picture.height)
    return _refined(picture, outer, threshold, background)


def _refined(
    picture: pyvips.Image, outer: Region, threshold: int, background: list[float]
) -> Region:
    """Each edge of `outer` moved in to find_trim's, found in the strip along it; a strip with
    nothing in it keeps its edge."""
    depth_x, depth_y = min(2 * SHRINK, outer.width), min(2 * SHRINK, outer.height)
    right, bottom = outer.left + outer.width, outer.top + outer.height
    strips = (
        Region(outer.left, outer.top, depth_x, outer.height),
        Region(outer.left, outer.top, outer.width, depth_y),
        Region(right - depth_x, outer.top, depth_x, outer.height),
        Region(outer.left, bottom - depth_y, outer.width, depth_y),
    )
    left, top, last_x, last_y = (_found_in(picture, s, threshold, background) or s for s in strips)
    return Region(
        left.left,
        top.top,
        last_x.left + last_x.width - left.left,
        last_y.top + last_y.height - top.top,
    )


def _found_in(
    picture: pyvips.Image, area: Region, threshold: int, background: list[float]
) -> Region | None:
    """find_trim's box of the area's pixels, in the picture's: their median reads the pixels
    around the area (one more on each side), as it does on the whole picture."""
    left, top = max(0, area.left - 1), max(0, area.top - 1)
    right = min(picture.width, area.left + area.width + 1)
    bottom = min(picture.height, area.top + area.height + 1)
    smoothed = picture.crop(left, top, right - left, bottom - top).median(3)
    inside = smoothed.crop(area.left - left, area.top - top, area.width, area.height)
    found = _found(inside, threshold, background, line_art=True)  # line art: no second median
    if found is None:
        return None
    return Region(area.left + found.left, area.top + found.top, found.width, found.height)


def _found(
    picture: pyvips.Image, threshold: int, background: list[float], *, line_art: bool
) -> Region | None:
    left, top, width, height = picture.find_trim(
        threshold=threshold, background=background, line_art=line_art
    )
    return Region(left, top, width, height) if width and height else None
