"""The pipeline's pixel steps (render._pipeline puts them in order): load (shrunk on load, cut to
a trim or crop region), orient, crop, to 8-bit sRGB, and per output watermark, background, encode.
"""

from __future__ import annotations

import pyvips

from .. import geometry
from ..transform import Fit, Gravity
from . import frames, trim
from .encode import Rendered
from .encode import encode as encode_bytes
from .loaders import Resize
from .outputs import Job, sized
from .watermark import apply as apply_watermark


def load(data: bytes, job: Job) -> tuple[pyvips.Image, Job]:
    """Decoded and resized, shrunk on load where the options allow it. Crops by coordinates and
    trims take their region from the decoded source first (JPEG: decoded at the largest shrink
    that still covers the region at the output size); a trim re-plans the job on its size."""
    transform = job.transform
    if job.region is None and transform.trim is None:
        return job.loader.load_resized(data, _resize(job)), job
    picture = job.loader.load_whole(
        data, transform.page - 1, job.decode_shrink, rereads=transform.trim is not None
    )
    if transform.trim is not None:
        picture = _trim(picture, transform.trim)
        job = sized(job, picture.width, picture.height)
    if job.region is not None:
        picture = picture.crop(*_shrunk(job.region, job.decode_shrink, picture))
    width, options = _resize(job).size()
    return picture.thumbnail_image(width, **options), job


def _trim(picture: pyvips.Image, threshold: int) -> pyvips.Image:
    """Borders of the top-left pixel's colour (within the threshold) cut off, the box found as
    render/trim.py says; a picture of that one colour is kept whole."""
    found = trim.box(picture, threshold)
    if found is None:
        return picture
    return picture.crop(found.left, found.top, found.width, found.height)


def _shrunk(
    region: geometry.Region, shrink: int, picture: pyvips.Image
) -> tuple[int, int, int, int]:
    """The region in a picture decoded at 1/shrink (its sides rounded up): edges to the
    shrunk pixel, a fraction of an output pixel since the shrink covers the output."""
    left, top = region.left // shrink, region.top // shrink
    right = min(picture.width, -(-(region.left + region.width) // shrink))
    bottom = min(picture.height, -(-(region.top + region.height) // shrink))
    return left, top, max(1, right - left), max(1, bottom - top)


def _resize(job: Job) -> Resize:
    """Exact sizes from the plan, in the picture's frame (the rotation comes after); libvips
    crops centred and smart boxes of stills itself, the rest are cut by crop_box.

    A non-sRGB embedded profile (Adobe RGB, P3, ProPhoto, CMYK) is converted to sRGB while
    shrinking; CMYK without a profile goes through libvips' standard CMYK profile by default.
    """
    plan, transform = job.plan, job.transform
    colour = {"output_profile": "srgb"} if job.foreign_profile else {}
    width, height = geometry.turned(plan.resize_width, plan.resize_height, transform.rotate)
    if job.animated:  # libvips would crop only the first frame of an animation
        return Resize(width, height, {"size": "force", **colour}, "n=-1")
    page, shrink = transform.page - 1, job.decode_shrink
    crop = _thumbnail_crop(job)
    if crop is not None:
        box_w, box_h = geometry.turned(plan.width, plan.height, transform.rotate)
        return Resize(box_w, box_h, {"crop": crop, **colour}, page=page, shrink=shrink)
    # a shrunk decode rounds its sides up: the plan's size puts the aspect back
    if shrink > 1 or plan.crops or transform.fit is Fit.FORCE:
        return Resize(width, height, {"size": "force", **colour}, page=page, shrink=shrink)
    fit_size = "both" if job.enlarge else "down"
    return Resize(
        width, height, {"size": fit_size, **colour}, page=page, shrink=shrink, fit=job.fit
    )


def _thumbnail_crop(job: Job) -> str | None:
    """libvips' own crop modes: smart boxes, and centred ones (no gravity, no focal point)."""
    transform = job.transform
    if transform.fit is Fit.SMART:
        return "attention"
    centred = transform.gravity is Gravity.CENTRE and transform.focal is None
    if transform.fit is Fit.CROP and job.plan.crops and centred:
        return "centre"
    return None


def orient(image: pyvips.Image, job: Job) -> pyvips.Image:
    """Rotate, flip, flop, after the EXIF orientation and the resize: on the small image."""
    transform = job.transform
    if not (transform.rotate or transform.flip or transform.flop):
        return image

    def turn(frame: pyvips.Image) -> pyvips.Image:
        if transform.rotate:
            frame = frame.rot(f"d{transform.rotate}")
        if transform.flip:
            frame = frame.flip("vertical")
        if transform.flop:
            frame = frame.flip("horizontal")
        return frame

    return frames.per_frame(image, job.animated, turn)


def crop_box(image: pyvips.Image, job: Job) -> pyvips.Image:
    """Boxes at a gravity or focal point, and every box of an animation, are cut here, in the
    output's frame; libvips' thumbnail has cut centred and smart boxes of stills already."""
    plan = job.plan
    frame_height = image.get("page-height") if job.animated else image.height
    if not plan.crops or (image.width, frame_height) == (plan.width, plan.height):
        return image
    return frames.per_frame(
        image,
        job.animated,
        lambda frame: frame.crop(plan.left, plan.top, plan.width, plan.height),
    )


def to_srgb8(image: pyvips.Image, _job: Job) -> pyvips.Image:
    """16-bit, CMYK or Lab leftovers become 8-bit sRGB (or 8-bit grey for grey images)."""
    target = "b-w" if image.interpretation in ("b-w", "grey16") else "srgb"
    if image.interpretation != target or image.format != "uchar":
        image = image.colourspace(target)
    return image


def watermark(image: pyvips.Image, job: Job) -> pyvips.Image:
    """Per output, on the shared pixels: outputs of one size may name different watermarks."""
    if job.overlay is None:
        return image
    frame_height = image.get("page-height") if job.animated else image.height
    return apply_watermark(image, job.overlay, frame_height)


def background(image: pyvips.Image, job: Job) -> pyvips.Image:
    """`pad` extends the picture to its box, centred; formats without alpha are flattened. Both
    take the background colour (`-bgRRGGBB[AA]`, white by default); padding stays transparent
    only where the colour has alpha and the format keeps it."""
    colour = _rgba(job.transform.background)
    if job.transform.fit is Fit.PAD:
        image = _pad(image, job, colour)
    if job.out.alpha or not image.hasalpha():
        return image
    image, fill = _matched(image, colour)
    return image.flatten(background=fill[: image.bands - 1])


def _pad(image: pyvips.Image, job: Job, colour: list[float]) -> pyvips.Image:
    box_w, box_h = job.transform.box_width, job.transform.box_height
    assert box_w is not None  # the grammar: pad takes a box
    assert box_h is not None
    if job.out.alpha and colour[3] < 255 and not image.hasalpha():
        image = image.addalpha()
    image, fill = _matched(image, colour)

    def extend(frame: pyvips.Image) -> pyvips.Image:
        left, top = (box_w - frame.width) // 2, (box_h - frame.height) // 2
        return frame.embed(
            left, top, box_w, box_h, extend="background", background=fill[: frame.bands]
        )

    return frames.per_frame(image, job.animated, extend)


def _matched(image: pyvips.Image, colour: list[float]) -> tuple[pyvips.Image, list[float]]:
    """The colour as the image's bands hold it: grey images take grey colours as one band, and
    become sRGB for any other colour. The returned list ends with the colour's alpha."""
    grey = image.bands - (1 if image.hasalpha() else 0) == 1
    if not grey:
        return image, colour
    if colour[0] == colour[1] == colour[2]:
        return image, [colour[0], colour[3]]
    return image.colourspace("srgb"), colour


def _rgba(background: str | None) -> list[float]:
    """`RRGGBB` or `RRGGBBAA` (the grammar checked it) as four 0-255 values; white if unset."""
    text = (background or "ffffff").ljust(8, "f")
    return [float(int(text[i : i + 2], 16)) for i in range(0, 8, 2)]


def encode(image: pyvips.Image, job: Job) -> Rendered:
    data = encode_bytes(image, job.out, job.transform)
    # libvips rounds the unconstrained side of a fitted output itself; report what it drew
    height = job.plan.height if job.animated else image.height
    return Rendered(data, image.width, height, job.out)
