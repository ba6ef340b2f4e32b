"""The placeholder's pixels: a ThumbHash from a small decode of an original, and the image a
ThumbHash draws (the `placeholder.FMT` output). The hash itself is imageserver/thumbhash.py.
"""

from __future__ import annotations

import pyvips

from .. import thumbhash
from ..formats import OutputFormat
from .loaders import PREVIEW_SIDE

# ThumbHash keeps at most 7 cosines a side: a 32 px input gives the hash a 100 px one gives (the
# 2725x2225 test photo: the same bytes from 32, 48 and 64 px; 3 nibbles off by one from 100 px),
# and pure Python encodes it in 0.9 ms instead of 6.9. Loader.verify decodes at this size.
SIDE = PREVIEW_SIDE
_WHITE = [255.0, 255.0, 255.0]


def hash_of(preview: pyvips.Image) -> bytes:
    """The ThumbHash of a small decode of page 1 or frame 1 (Loader.verify's), upright."""
    rgba = _rgba8(preview)
    return thumbhash.encode(rgba.width, rgba.height, bytes(rgba.write_to_memory()))


def draw(placeholder: bytes, out: OutputFormat, quality: int | None) -> tuple[bytes, int, int]:
    """The encoded image of a ThumbHash (32 px on its longer side), its width and height.

    Opaque hashes lose the alpha band, and formats without alpha get white behind it, as
    renders do."""
    width, height, rgba = thumbhash.decode(placeholder)
    image = pyvips.Image.new_from_memory(rgba, width, height, 4, "uchar")
    image = image.copy(interpretation="srgb")
    if not out.alpha or image[3].min() == 255:
        image = image.flatten(background=_WHITE)
    data = image.write_to_buffer(out.saver_suffix, **out.save_options(quality))
    return data, width, height


def _rgba8(image: pyvips.Image) -> pyvips.Image:
    """8-bit sRGB with alpha (opaque added), within SIDE x SIDE: what ThumbHash reads."""
    if image.width > SIDE or image.height > SIDE:
        image = image.thumbnail_image(SIDE, height=SIDE)
    if image.interpretation != "srgb":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    if image.bands == 3:
        image = image.bandjoin(255)
    return image.extract_band(0, n=4) if image.bands > 4 else image
