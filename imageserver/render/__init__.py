"""The only package that touches pixels: probe an original and render a `Transform` with libvips.

Limits are checked from the header before any decode; rendering is a fixed list of small steps.
Everything here is blocking CPU work: callers run it in the render pool, never on the event loop.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pyvips

from .. import geometry, pages
from ..errors import BadRequest, OverLimit, Undecodable, UnsupportedMedia
from ..formats import INPUT_FORMATS, OUTPUT_FORMATS, InputFormat, OutputFormat, sniff
from ..transform import Fit, Gravity, Transform
from . import effects, encode, frames, placeholder, watermark
from .loaders import LOADERS, DecodeError, Header, Loader, Resize
from .watermark import Overlay


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_frames: int
    max_pages: int = 1000  # documents (PDF); frames and TIFF pages count against max_frames


@dataclass(frozen=True)
class Probe:
    """What the header says about an original; width and height as displayed (after EXIF)."""

    input: InputFormat
    width: int
    height: int
    frames: int
    pages: int
    alpha: bool = False
    foreign_profile: bool = False
    placeholder: bytes | None = None  # the ThumbHash of page 1 (probe, not inspect)

    @property
    def pixels(self) -> int:
        return self.width * self.height * self.frames


@dataclass(frozen=True)
class Rendered:
    data: bytes
    width: int
    height: int
    format: OutputFormat


# A render thread back from libvips needs the GIL for its next step; while the event loop's thread
# runs Python it waits up to the switch interval (CPython's default, 5 ms), its core idle.
GIL_SWITCH_INTERVAL_S = 0.0001


def configure(
    vips_concurrency: int, malloc_arenas: int = 0, malloc_mmap_threshold: int = 0
) -> None:
    """Process-wide set-up for render threads: no libvips operation cache (every render reads
    new bytes), a short GIL switch interval (`process` stores 3% more images per second), and
    glibc's allocator told to give pixel buffers back (_set_malloc)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    pyvips.cache_set_max(0)
    if vips_concurrency > 0:
        pyvips.concurrency_set(vips_concurrency)
    if malloc_arenas > 0:
        _set_malloc(_M_ARENA_MAX, malloc_arenas)
    if malloc_mmap_threshold > 0:
        _set_malloc(_M_MMAP_THRESHOLD, malloc_mmap_threshold)


_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
_M_ARENA_MAX = -8


def _set_malloc(parameter: int, value: int) -> None:
    """glibc gives busy threads arenas of their own (up to 8 per core), and freed pixel buffers
    stay mapped in each: with render threads that is the RSS that grows (M_ARENA_MAX). And
    its mmap threshold slides up to the largest block freed, so after the first large render
    every pixel buffer comes from the arenas, where fragments of it stay; a fixed threshold
    keeps large buffers mapped on their own, returned whole when freed (M_MMAP_THRESHOLD:
    RSS growth over 10,000 mixed requests +16% -> +3%, no measurable render cost). Not glibc:
    no-op."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(parameter, value)


def release_free_memory() -> None:
    """Hands what renders freed back to the OS: glibc keeps it mapped in its arenas, so RSS only
    grows. It costs the next render page faults (10-20% when done after every render), so the
    render pool calls it once renders pause. Not glibc: no-op."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def probe(data: bytes, limits: Limits) -> Probe:
    """Reads the header, checks limits, then decodes page 1 small (shrunk on load): that proves
    the pixels decode, and is the input of the placeholder's ThumbHash (render/placeholder.py)."""
    found = inspect(data, limits)
    hashed = _run(lambda: placeholder.hash_of(_loader(found.input).verify(data)))
    return replace(found, placeholder=hashed)


def draw_placeholder(hashed: bytes, transform: Transform) -> Rendered:
    """The `placeholder.FMT` output: a ThumbHash (info.json's) drawn, no original needed."""
    out = OUTPUT_FORMATS[transform.format]
    data, width, height = placeholder.draw(hashed, out, transform.quality)
    return Rendered(data, width, height, out)


def inspect(data: bytes, limits: Limits, page: int = 1) -> Probe:
    """Header only: milliseconds even for a decompression bomb. `page` is 1-based."""
    input_format = _input_format(data)
    found = _header(data, input_format, 0, limits)
    if page == 1:
        return found
    pages.check_page(page, found.pages)
    return _header(data, input_format, page - 1, limits)


def render(
    data: bytes,
    transform: Transform,
    limits: Limits,
    *,
    fast_shrink: bool = False,
    overlays: Mapping[str, Overlay] | None = None,
) -> Rendered:
    return render_many(data, [transform], limits, fast_shrink=fast_shrink, overlays=overlays)[0]


def render_many(
    data: bytes,
    transforms: list[Transform],
    limits: Limits,
    probe: Probe | None = None,
    fast_shrink: bool = False,
    overlays: Mapping[str, Overlay] | None = None,
) -> list[Rendered]:
    """Outputs of one original: each size is decoded and resized once, then encoded per format.

    `probe` is page 1's header when the caller has read it already (inspect, limits checked).
    `fast_shrink`: JPEGs decode at the smallest scale that covers the output (the setting
    fast_shrink_on_load; geometry.fast_decode_shrink). `overlays`: the watermarks that
    transforms name (`-wmNAME`), with their originals' bytes.
    """
    sources = {
        page: probe if page == 1 and probe is not None else inspect(data, limits, page)
        for page in {t.page for t in transforms}
    }
    jobs = [
        _job(sources[t.page], t, limits, fast_shrink, _overlay(t, overlays or {}))
        for t in transforms
    ]
    rendered: dict[int, Rendered] = {}
    for group in _same_pixels(jobs):
        outputs = _run(lambda group=group: _pipeline(data, [jobs[i] for i in group]))
        rendered.update(zip(group, outputs, strict=True))
    return [rendered[i] for i in range(len(jobs))]


@dataclass(frozen=True)
class _Job:
    transform: Transform
    out: OutputFormat
    animated: bool
    loader: Loader
    foreign_profile: bool
    enlarge: bool  # vector sources are drawn larger than their nominal size when asked
    scaled_decode: bool  # the decoder shrinks on load by a factor we choose (JPEG)
    fast_shrink: bool  # that factor is the largest that covers the output (fast_decode_shrink)
    overlay: Overlay | None  # the watermark (-wmNAME)
    # From the picture's size (the displayed source's, or the trimmed picture's): _sized.
    plan: geometry.Plan = geometry.UNPLANNED
    region: geometry.Region | None = None  # the crop by coordinates, in the picture's pixels
    decode_shrink: int = 1  # 1: the loader's own shrink-on-load
    fit: tuple[int, int] = (0, 0)  # the box of an output that keeps the aspect (geometry.fit_box)


def _job(
    source: Probe,
    transform: Transform,
    limits: Limits,
    fast_shrink: bool,
    overlay: Overlay | None = None,
) -> _Job:
    out = OUTPUT_FORMATS[transform.format]
    animated = source.frames > 1 and out.animation
    _check_supported(source, transform, animated)
    job = _Job(
        transform,
        out,
        animated,
        _loader(source.input),
        source.foreign_profile,
        source.input.vector,
        source.input.scaled_decode,
        fast_shrink,
        overlay,
    )
    job = _sized(job, source.width, source.height)
    if source.input.document:
        pages.check_pixels(job.plan.resize_width, job.plan.resize_height, limits.max_pixels)
    return job


def _check_supported(source: Probe, transform: Transform, animated: bool) -> None:
    """Crops by coordinates and trims need the source's own pixels: documents are drawn at the
    output's size (render/pdf.py) and animations resized whole, so both refuse them (400)."""
    option = "crop" if transform.crop else "trim" if transform.trim is not None else None
    if option is None:
        return
    if source.input.document:
        raise BadRequest(f"{option}: not available for {source.input.name} pages")
    if animated:
        raise BadRequest(
            f"{option}: not available for animations, got {source.frames} frames to "
            f".{transform.format}; a still format (.jpg, .png) takes the first frame"
        )


def _sized(job: _Job, width: int, height: int) -> _Job:
    """Everything that follows from the picture's size: the crop region (400 when it leaves
    the picture), the plan, the decode shrink and the fit box. A trim needs the full-size
    pixels (its box is found on them), so it decodes without a shrink."""
    transform = job.transform
    region = geometry.crop_region(width, height, transform.crop) if transform.crop else None
    if region is not None:
        width, height = region.width, region.height
    plan = geometry.plan(width, height, transform, enlarge=job.enlarge)
    shrink = 1
    if job.scaled_decode and transform.trim is None:
        turned = geometry.turned(width, height, transform.rotate)
        if job.fast_shrink:
            shrink = geometry.fast_decode_shrink(*turned, plan)
        elif region is not None:  # no thumbnail_buffer to choose it: libvips' own rule
            shrink = geometry.libvips_decode_shrink(*turned, plan)
    fit = geometry.fit_box(width, height, transform)
    return replace(job, plan=plan, region=region, decode_shrink=shrink, fit=fit)


def _overlay(transform: Transform, overlays: Mapping[str, Overlay]) -> Overlay | None:
    """Callers check names against the settings first (variants.py); this is the backstop."""
    if transform.watermark is None:
        return None
    if transform.watermark not in overlays:
        raise BadRequest(f"watermark: {transform.watermark!r} is not configured here")
    return overlays[transform.watermark]


# Transform fields that only the encoder reads: outputs that differ in these share their pixels.
# What only the per-output steps read (_watermark, _background, the encoder): outputs that
# differ in nothing else share the decode, resize and effects.
_PER_OUTPUT = {
    "format": "",
    "quality": None,
    "max_bytes": None,
    "lossless": False,
    "interlace": False,
    "baseline": False,
    "keep_metadata": False,
    "watermark": None,
    "background": None,
}


def _same_pixels(jobs: list[_Job]) -> list[list[int]]:
    """Indexes of jobs that differ only in what per-output steps read: their pixels are decoded
    once."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, job in enumerate(jobs):
        key = (replace(job.transform, **_PER_OUTPUT), job.animated)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _pipeline(data: bytes, jobs: list[_Job]) -> list[Rendered]:
    """The order of operations, in one place. Steps are lazy: pixels flow once per encode,
    so several outputs of one size share a decoded copy in memory instead."""
    image, first = _load(data, jobs[0])  # a trim re-plans the job on the trimmed size
    for step in (_orient, _crop_box, _to_srgb8, effects.blur, effects.sharpen):
        image = step(image, first)
    if len(jobs) > 1:
        image = image.copy_memory()
    return [_encode(_background(_watermark(image, job), job), job) for job in jobs]


def rasterize(data: bytes, page: int, raster: pages.Raster, limits: Limits) -> Rendered:
    """One page of a document at a resolution (DPI) rather than at an output size."""
    source = inspect(data, limits, page)
    width = pages.raster_width(source.width, source.height, raster, limits.max_pixels)
    return render(data, Transform(width, None, raster.format, page=page), limits)


def probe_of(rendered: Rendered) -> Probe:
    """What probing one of our own renders would find (one frame, no alpha), without a decode."""
    input_format = next(f for f in INPUT_FORMATS.values() if f.mime == rendered.format.mime)
    return Probe(input_format, rendered.width, rendered.height, frames=1, pages=1)


def unlock(data: bytes, password: str) -> bytes | None:
    """A decrypted copy of a password-protected document; None for anything else."""
    input_format = sniff(data[:1024])
    if input_format is None or not input_format.document:
        return None
    from . import pdf

    return _run(lambda: pdf.unlock(data, password))


def isolated(data: bytes) -> bool:
    """Whether the original's decoder must run in a worker process (see formats.InputFormat)."""
    input_format = sniff(data[:1024])
    return input_format is not None and input_format.isolated


def _input_format(data: bytes) -> InputFormat:
    input_format = sniff(data[:1024])
    if input_format is None:
        raise UnsupportedMedia(
            "not a supported image (jpeg, png, gif, webp, avif, heic, tiff, svg) or PDF"
        )
    return input_format


def _header(data: bytes, input_format: InputFormat, page: int, limits: Limits) -> Probe:
    """`page` is 0-based here, as loaders take it."""
    header = _run(lambda: _loader(input_format).header(data, page))
    found = _describe(header, input_format)
    _check_limits(found, limits)
    return found


def _loader(input_format: InputFormat) -> Loader:
    if input_format.decoder == "pdf":  # PDFium loads with the first PDF, not at start-up
        from . import pdf

        return pdf.PdfLoader()
    return LOADERS[input_format.decoder]


def _describe(header: Header, input_format: InputFormat) -> Probe:
    width, height = geometry.displayed_size(header.width, header.height, header.orientation)
    frames = header.n_pages if input_format.animated else 1
    pages = header.n_pages if input_format.paged else 1
    return Probe(input_format, width, height, frames, pages, header.alpha, header.foreign_profile)


def _check_limits(found: Probe, limits: Limits) -> None:
    """Documents: pages here, pixels per page as drawn (_job). Images: frames and pixels."""
    if found.input.document:
        if found.pages > limits.max_pages:
            raise OverLimit(f"{found.pages} pages is over the limit of {limits.max_pages}")
        return
    if max(found.frames, found.pages) > limits.max_frames:
        raise OverLimit(
            f"{max(found.frames, found.pages)} frames is over the limit of {limits.max_frames}"
        )
    if found.pixels > limits.max_pixels:
        raise OverLimit(
            f"{found.width}x{found.height}"
            + (f"x{found.frames} frames" if found.frames > 1 else "")
            + f" is {found.pixels} pixels, over the limit of {limits.max_pixels}"
        )


def _load(data: bytes, job: _Job) -> tuple[pyvips.Image, _Job]:
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
        job = _sized(job, picture.width, picture.height)
    if job.region is not None:
        picture = picture.crop(*_shrunk(job.region, job.decode_shrink, picture))
    width, options = _resize(job).size()
    return picture.thumbnail_image(width, **options), job


def _trim(picture: pyvips.Image, threshold: int) -> pyvips.Image:
    """Borders of the top-left pixel's colour (within the threshold) cut off; a picture of
    that one colour is kept whole."""
    background = picture.getpoint(0, 0)[: picture.bands - (1 if picture.hasalpha() else 0)]
    left, top, width, height = picture.find_trim(threshold=threshold, background=background)
    if width == 0 or height == 0:
        return picture
    return picture.crop(left, top, width, height)


def _shrunk(
    region: geometry.Region, shrink: int, picture: pyvips.Image
) -> tuple[int, int, int, int]:
    """The region in a picture decoded at 1/shrink (its sides rounded up): edges to the
    shrunk pixel, a fraction of an output pixel since the shrink covers the output."""
    left, top = region.left // shrink, region.top // shrink
    right = min(picture.width, -(-(region.left + region.width) // shrink))
    bottom = min(picture.height, -(-(region.top + region.height) // shrink))
    return left, top, max(1, right - left), max(1, bottom - top)


def _resize(job: _Job) -> Resize:
    """Exact sizes from the plan, in the picture's frame (the rotation comes after); libvips
    crops centred and smart boxes of stills itself, the rest are cut by _crop_box.

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


def _thumbnail_crop(job: _Job) -> str | None:
    """libvips' own crop modes: smart boxes, and centred ones (no gravity, no focal point)."""
    transform = job.transform
    if transform.fit is Fit.SMART:
        return "attention"
    centred = transform.gravity is Gravity.CENTRE and transform.focal is None
    if transform.fit is Fit.CROP and job.plan.crops and centred:
        return "centre"
    return None


def _orient(image: pyvips.Image, job: _Job) -> pyvips.Image:
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


def _crop_box(image: pyvips.Image, job: _Job) -> pyvips.Image:
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


def _to_srgb8(image: pyvips.Image, _job: _Job) -> pyvips.Image:
    """16-bit, CMYK or Lab leftovers become 8-bit sRGB (or 8-bit grey for grey images)."""
    target = "b-w" if image.interpretation in ("b-w", "grey16") else "srgb"
    if image.interpretation != target or image.format != "uchar":
        image = image.colourspace(target)
    return image


def _watermark(image: pyvips.Image, job: _Job) -> pyvips.Image:
    """Per output, on the shared pixels: outputs of one size may name different watermarks."""
    if job.overlay is None:
        return image
    frame_height = image.get("page-height") if job.animated else image.height
    return watermark.apply(image, job.overlay, frame_height)


def _background(image: pyvips.Image, job: _Job) -> pyvips.Image:
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


def _pad(image: pyvips.Image, job: _Job, colour: list[float]) -> pyvips.Image:
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


def _encode(image: pyvips.Image, job: _Job) -> Rendered:
    data = encode.encode(image, job.out, job.transform)
    # libvips rounds the unconstrained side of a fitted output itself; report what it drew
    height = job.plan.height if job.animated else image.height
    return Rendered(data, image.width, height, job.out)


def _run(action: Any) -> Any:
    """libvips errors on client data are the client's problem (422), with libvips' reason."""
    try:
        return action()
    except (pyvips.Error, DecodeError) as exc:
        raise Undecodable(f"cannot decode image: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = str(exc.detail or exc.message) if isinstance(exc, pyvips.Error) else str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "decoder error"
