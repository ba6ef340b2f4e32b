"""The only package that touches pixels: probe an original and render a `Transform` with libvips.

Limits are checked from the header before any decode; rendering is a fixed list of small steps.
Everything here is blocking CPU work: callers run it in the render pool, never on the event loop.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from dataclasses import dataclass
from typing import Any

import pyvips

from .. import geometry, pages
from ..errors import OverLimit, Undecodable, UnsupportedMedia
from ..formats import INPUT_FORMATS, OUTPUT_FORMATS, InputFormat, OutputFormat, sniff
from ..transform import Fit, Transform
from .loaders import LOADERS, DecodeError, Header, Loader, Resize

_WHITE = [255.0, 255.0, 255.0]


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
    """Reads the header, checks limits, then proves the pixels decode (cheaply, shrunk on load)."""
    found = inspect(data, limits)
    _run(lambda: _loader(found.input).verify(data))
    return found


def inspect(data: bytes, limits: Limits, page: int = 1) -> Probe:
    """Header only: milliseconds even for a decompression bomb. `page` is 1-based."""
    input_format = _input_format(data)
    found = _header(data, input_format, 0, limits)
    if page == 1:
        return found
    pages.check_page(page, found.pages)
    return _header(data, input_format, page - 1, limits)


def render(
    data: bytes, transform: Transform, limits: Limits, *, fast_shrink: bool = False
) -> Rendered:
    return render_many(data, [transform], limits, fast_shrink=fast_shrink)[0]


def render_many(
    data: bytes,
    transforms: list[Transform],
    limits: Limits,
    probe: Probe | None = None,
    fast_shrink: bool = False,
) -> list[Rendered]:
    """Outputs of one original: each size is decoded and resized once, then encoded per format.

    `probe` is page 1's header when the caller has read it already (inspect, limits checked).
    `fast_shrink`: JPEGs decode at the smallest scale that covers the output (the setting
    fast_shrink_on_load; geometry.fast_decode_shrink).
    """
    sources = {
        page: probe if page == 1 and probe is not None else inspect(data, limits, page)
        for page in {t.page for t in transforms}
    }
    jobs = [
        _job(sources[transform.page], transform, limits, fast_shrink) for transform in transforms
    ]
    rendered: dict[int, Rendered] = {}
    for group in _same_pixels(jobs):
        outputs = _run(lambda group=group: _pipeline(data, [jobs[i] for i in group]))
        rendered.update(zip(group, outputs, strict=True))
    return [rendered[i] for i in range(len(jobs))]


@dataclass(frozen=True)
class _Job:
    transform: Transform
    plan: geometry.Plan
    out: OutputFormat
    animated: bool
    loader: Loader
    foreign_profile: bool
    decode_shrink: int  # 1: the loader's own shrink-on-load
    fit: tuple[int, int]  # the box of an output that keeps the aspect (geometry.fit_box)
    enlarge: bool  # vector sources are drawn larger than their nominal size when asked


def _job(source: Probe, transform: Transform, limits: Limits, fast_shrink: bool) -> _Job:
    out = OUTPUT_FORMATS[transform.format]
    plan = geometry.plan(source.width, source.height, transform, enlarge=source.input.vector)
    if source.input.document:
        pages.check_pixels(plan.resize_width, plan.resize_height, limits.max_pixels)
    animated = source.frames > 1 and out.animation
    shrink = 1
    if fast_shrink and source.input.scaled_decode:
        shrink = geometry.fast_decode_shrink(source.width, source.height, plan)
    loader = _loader(source.input)
    fit = geometry.fit_box(source.width, source.height, transform)
    return _Job(
        transform,
        plan,
        out,
        animated,
        loader,
        source.foreign_profile,
        shrink,
        fit,
        source.input.vector,
    )


def _same_pixels(jobs: list[_Job]) -> list[list[int]]:
    """Indexes of jobs that differ only in format and quality: their pixels are decoded once."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, job in enumerate(jobs):  # what _resize and _crop_frames depend on
        key = (job.plan, job.animated, job.transform.fit, job.transform.page)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _pipeline(data: bytes, jobs: list[_Job]) -> list[Rendered]:
    """The order of operations, in one place. Steps are lazy: pixels flow once per encode,
    so several outputs of one size share a decoded copy in memory instead."""
    first = jobs[0]
    image = first.loader.load_resized(data, _resize(first))
    for step in (_crop_frames, _to_srgb8):
        image = step(image, first)
    if len(jobs) > 1:
        image = image.copy_memory()
    return [_encode(_flatten(image, job), job) for job in jobs]


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


def _resize(job: _Job) -> Resize:
    """Exact sizes from the plan; libvips crops stills itself, animations are cut per frame.

    A non-sRGB embedded profile (Adobe RGB, P3, ProPhoto, CMYK) is converted to sRGB while
    shrinking; CMYK without a profile goes through libvips' standard CMYK profile by default.
    """
    plan = job.plan
    colour = {"output_profile": "srgb"} if job.foreign_profile else {}
    if job.animated:  # libvips would crop only the first frame of an animation
        return Resize(plan.resize_width, plan.resize_height, {"size": "force", **colour}, "n=-1")
    page = job.transform.page - 1
    shrink = job.decode_shrink
    if plan.crops:
        crop = "attention" if job.transform.fit is Fit.SMART else "centre"
        return Resize(plan.width, plan.height, {"crop": crop, **colour}, page=page, shrink=shrink)
    if shrink > 1:  # a shrunk decode rounds its sides up: the plan's size puts the aspect back
        return Resize(
            plan.width, plan.height, {"size": "force", **colour}, page=page, shrink=shrink
        )
    fit_size = "both" if job.enlarge else "down"
    return Resize(
        plan.width,
        plan.height,
        {"size": fit_size, **colour},
        page=page,
        shrink=shrink,
        fit=job.fit,
    )


def _crop_frames(image: pyvips.Image, job: _Job) -> pyvips.Image:
    """Animations are resized whole, then each frame is cropped to the centred box."""
    plan = job.plan
    if not (job.animated and plan.crops):
        return image
    page_height = image.get("page-height")
    frames = [
        image.crop(plan.crop_left, i * page_height + plan.crop_top, plan.width, plan.height)
        for i in range(image.height // page_height)
    ]
    joined = pyvips.Image.arrayjoin(frames, across=1).copy()
    joined.set_type(pyvips.GValue.gint_type, "page-height", plan.height)
    for name in ("delay", "loop"):
        if image.get_typeof(name):
            joined.set_type(image.get_typeof(name), name, image.get(name))
    return joined


def _to_srgb8(image: pyvips.Image, _job: _Job) -> pyvips.Image:
    """16-bit, CMYK or Lab leftovers become 8-bit sRGB (or 8-bit grey for grey images)."""
    target = "b-w" if image.interpretation in ("b-w", "grey16") else "srgb"
    if image.interpretation != target or image.format != "uchar":
        image = image.colourspace(target)
    return image


def _flatten(image: pyvips.Image, job: _Job) -> pyvips.Image:
    """Formats without alpha get a white background, not black."""
    if job.out.alpha or not image.hasalpha():
        return image
    return image.flatten(background=_WHITE[: image.bands - 1])


def _encode(image: pyvips.Image, job: _Job) -> Rendered:
    data = image.write_to_buffer(
        job.out.saver_suffix, **job.out.save_options(job.transform.quality)
    )
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
