"""One output's job: what a Transform asks of the pipeline, planned from the picture's size
(crop region, resize plan, decode shrink), and which outputs share their decoded pixels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .. import geometry, pages
from ..errors import BadRequest
from ..formats import OUTPUT_FORMATS, OutputFormat
from ..transform import Transform
from .loaders import Loader, loader_for
from .watermark import Overlay

if TYPE_CHECKING:
    from . import Limits, Probe


@dataclass(frozen=True)
class Job:
    transform: Transform
    out: OutputFormat
    animated: bool
    loader: Loader
    foreign_profile: bool
    enlarge: bool  # vector sources are drawn larger than their nominal size when asked
    scaled_decode: bool  # the decoder shrinks on load by a factor we choose (JPEG)
    fast_shrink: bool  # that factor is the largest that covers the output (fast_decode_shrink)
    overlay: Overlay | None  # the watermark (-wmNAME)
    # From the picture's size (the displayed source's, or the trimmed picture's): sized.
    plan: geometry.Plan = geometry.UNPLANNED
    region: geometry.Region | None = None  # the crop by coordinates, in the picture's pixels
    decode_shrink: int = 1  # 1: the loader's own shrink-on-load
    fit: tuple[int, int] = (0, 0)  # the box of an output that keeps the aspect (geometry.fit_box)


def job_for(
    source: Probe,
    transform: Transform,
    limits: Limits,
    fast_shrink: bool,
    overlay: Overlay | None = None,
) -> Job:
    out = OUTPUT_FORMATS[transform.format]
    animated = source.frames > 1 and out.animation
    _check_supported(source, transform, animated)
    job = Job(
        transform,
        out,
        animated,
        loader_for(source.input),
        source.foreign_profile,
        source.input.vector,
        source.input.scaled_decode,
        fast_shrink,
        overlay,
    )
    job = sized(job, source.width, source.height)
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


def sized(job: Job, width: int, height: int) -> Job:
    """Everything that follows from the picture's size: the crop region (400 when it leaves
    the picture), the plan, the decode shrink and the fit box. A trim cuts its box from the
    full-size pixels (render/trim.py finds its edges on them), so it decodes without a shrink."""
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


def overlay_for(transform: Transform, overlays: Mapping[str, Overlay]) -> Overlay | None:
    """Callers check names against the settings first (variants.py); this is the backstop."""
    if transform.watermark is None:
        return None
    if transform.watermark not in overlays:
        raise BadRequest(f"watermark: {transform.watermark!r} is not configured here")
    return overlays[transform.watermark]


# Transform fields that only the encoder reads: outputs that differ in these share their pixels.
# What only the per-output steps read (watermark, background, the encoder): outputs that
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


def same_pixels(jobs: list[Job]) -> list[list[int]]:
    """Indexes of jobs that differ only in what per-output steps read: their pixels are decoded
    once."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, job in enumerate(jobs):
        key = (replace(job.transform, **_PER_OUTPUT), job.animated)
        groups.setdefault(key, []).append(i)
    return list(groups.values())
