"""`.auto` outputs: the best format the client accepts, from its Accept header. Pure.

Only formats a client names explicitly count: every browser sends `*/*`, few decode AVIF.
"""

from __future__ import annotations

import dataclasses

from .formats import OUTPUT_FORMATS
from .transform import AUTO_FORMAT, Transform


def accepted_types(accept: str) -> set[str]:
    """Media types named with a non-zero q; wildcards say nothing about modern formats."""
    types = set()
    for item in accept.split(","):
        media_type, *params = (part.strip() for part in item.split(";"))
        if media_type and "*" not in media_type and not any(_is_zero_q(p) for p in params):
            types.add(media_type.lower())
    return types


def _is_zero_q(param: str) -> bool:
    name, _, value = param.partition("=")
    if name.strip().lower() != "q":
        return False
    try:
        return float(value) == 0
    except ValueError:
        return False


def choose_format(accept: str, *, alpha: bool, animated: bool) -> str:
    """avif, then webp, then jpg (png with alpha); animations: webp, else gif."""
    accepted = accepted_types(accept)
    candidates = ["webp", "gif"] if animated else ["avif", "webp", "png" if alpha else "jpg"]
    for fmt in candidates[:-1]:
        if OUTPUT_FORMATS[fmt].mime in accepted:
            return fmt
    return candidates[-1]


def resolve(transform: Transform, accept: str, *, alpha: bool, animated: bool) -> Transform:
    """The concrete output an `.auto` request is served (and stored) as."""
    if transform.format != AUTO_FORMAT:
        return transform
    fmt = choose_format(accept, alpha=alpha, animated=animated)
    has_quality = OUTPUT_FORMATS[fmt].default_quality is not None
    return dataclasses.replace(
        transform, format=fmt, quality=transform.quality if has_quality else None
    )
