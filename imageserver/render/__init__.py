"""The only package that touches pixels: probe an original and render a `Transform` with libvips.

Limits are checked from the header before any decode; rendering is a fixed list of small steps.
Everything here is blocking CPU work: callers run it in the render pool, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pyvips

from .. import geometry, pages
from ..errors import OverLimit, Undecodable, UnsupportedMedia
from ..formats import INPUT_FORMATS, OUTPUT_FORMATS, InputFormat, sniff
from ..transform import Transform
from . import effects, placeholder, steps
from .encode import Rendered
from .loaders import DecodeError, Header, loader_for
from .memory import GIL_SWITCH_INTERVAL_S, configure, release_free_memory
from .outputs import Job, job_for, overlay_for, same_pixels
from .watermark import Overlay

__all__ = [
    "GIL_SWITCH_INTERVAL_S",
    "Limits",
    "Overlay",
    "Probe",
    "Rendered",
    "configure",
    "draw_placeholder",
    "inspect",
    "isolated",
    "probe",
    "probe_of",
    "rasterize",
    "release_free_memory",
    "render",
    "render_many",
    "unlock",
]


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


def probe(data: bytes, limits: Limits) -> Probe:
    """Reads the header, checks limits, then decodes page 1 small (shrunk on load): that proves
    the pixels decode, and is the input of the placeholder's ThumbHash (render/placeholder.py)."""
    found = inspect(data, limits)
    hashed = _run(lambda: placeholder.hash_of(loader_for(found.input).verify(data)))
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
        job_for(sources[t.page], t, limits, fast_shrink, overlay_for(t, overlays or {}))
        for t in transforms
    ]
    rendered: dict[int, Rendered] = {}
    for group in same_pixels(jobs):
        outputs = _run(lambda group=group: _pipeline(data, [jobs[i] for i in group]))
        rendered.update(zip(group, outputs, strict=True))
    return [rendered[i] for i in range(len(jobs))]


def _pipeline(data: bytes, jobs: list[Job]) -> list[Rendered]:
    """The order of operations, in one place (the steps: render/steps.py, render/effects.py).
    Steps are lazy: pixels flow once per encode, so several outputs of one size share a decoded
    copy in memory instead."""
    image, first = steps.load(data, jobs[0])  # a trim re-plans the job on the trimmed size
    for step in (steps.orient, steps.crop_box, steps.to_srgb8, effects.blur, effects.sharpen):
        image = step(image, first)
    if len(jobs) > 1:
        image = image.copy_memory()
    return [steps.encode(steps.background(steps.watermark(image, job), job), job) for job in jobs]


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
    header = _run(lambda: loader_for(input_format).header(data, page))
    found = _describe(header, input_format)
    _check_limits(found, limits)
    return found


def _describe(header: Header, input_format: InputFormat) -> Probe:
    width, height = geometry.displayed_size(header.width, header.height, header.orientation)
    frames = header.n_pages if input_format.animated else 1
    pages = header.n_pages if input_format.paged else 1
    return Probe(input_format, width, height, frames, pages, header.alpha, header.foreign_profile)


def _check_limits(found: Probe, limits: Limits) -> None:
    """Documents: pages here, pixels per page as drawn (outputs.job_for). Images: frames and
    pixels."""
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
