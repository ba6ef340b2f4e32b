"""Watermarks as settings (`--watermarks logo=brand/HASH:se:0.2:0.5`): their spec, its spellings
and checks, and where a watermark goes on an output. Pure: no aiohttp, no pyvips, no I/O.

A watermark is an original of a namespace, named by the operator; a token names it (`-wmlogo`),
never a URL, so a client can only put on an image what the operator chose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import BadRequest, ImageServerError
from .keys import NAMED, ImageKey, check_name, check_namespace

if TYPE_CHECKING:
    from .transform import Transform

NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
POSITIONS = ("c", "n", "ne", "e", "se", "s", "sw", "w", "nw")  # transform.Gravity's values
MAX_MARGIN = 1000  # px of the output; a margin is a few px, never a size
_HASH = re.compile(r"[0-9a-f]{32}")
_FIELDS = ("source", "position", "scale", "opacity", "margin")


@dataclass(frozen=True)
class Watermark:
    """`source`: `ns/HASH` (32 hex digits) or a named original `ns/_/name`. `scale`: the
    watermark's width as a fraction of the output's (it never outgrows the output). `opacity`
    multiplies the watermark's own alpha. `margin`: px between it and the edges it is placed at."""

    source: str
    position: str = "se"
    scale: float = 0.2
    opacity: float = 1.0
    margin: int = 0

    @classmethod
    def of(cls, value: Any) -> Watermark:
        """A TOML table ({source = ..., position = ...}) or the flag's `SOURCE[:POS[:SCALE[:OPACITY
        [:MARGIN]]]]`; types here (ValueError), ranges in `problems`."""
        if isinstance(value, Watermark):
            return value
        fields = _fields_of(value)
        if "source" not in fields:
            raise ValueError("expected a source (namespace/HASH or namespace/_/name)")
        kinds = {"source": str, "position": str, "scale": float, "opacity": float, "margin": int}
        return cls(**{name: _typed(v, kinds[name], name) for name, v in fields.items()})


def _fields_of(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} (expected {', '.join(_FIELDS)})")
        return dict(value)
    parts = str(value).strip().split(":")
    if len(parts) > len(_FIELDS):
        raise ValueError(f"expected SOURCE[:POSITION[:SCALE[:OPACITY[:MARGIN]]]], got {value!r}")
    return {k: v for k, v in zip(_FIELDS, parts, strict=False) if v.strip()}


def _typed(value: Any, kind: type, field: str) -> Any:
    if kind is str:
        return str(value).strip()
    if isinstance(value, bool) or (kind is int and isinstance(value, float)):
        expected = "an integer" if kind is int else "a number"
        raise ValueError(f"{field}: expected {expected}, got {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field}: expected a number, got {value!r}") from None


def source_key(source: str) -> ImageKey:
    """`brand/6e00...a3` or `brand/_/logo`: where the watermark's original is stored."""
    namespace, _, rest = source.partition("/")
    if rest.startswith(NAMED + "/"):
        name = check_name(rest[len(NAMED) + 1 :], "source name")
        return ImageKey(check_namespace(namespace), name, named=True)
    if not _HASH.fullmatch(rest):
        raise ValueError(
            f"source: expected namespace/HASH (32 hex digits) or namespace/_/name, got {source!r}"
        )
    return ImageKey(check_namespace(namespace), rest)


def problems(name: str, mark: Watermark) -> list[str]:
    """Every problem of one watermark, named: the operator fixes them all in one go."""
    found = []
    if not NAME.fullmatch(name):
        found.append(f"expected a name matching {NAME.pattern}, got {name!r}")
    try:
        source_key(mark.source)
    except (ValueError, ImageServerError) as exc:
        found.append(str(getattr(exc, "message", exc)))
    if mark.position not in POSITIONS:
        found.append(f"position: expected one of {', '.join(POSITIONS)}, got {mark.position!r}")
    if not 0 < mark.scale <= 1:
        found.append(f"scale: expected a fraction of the output's width, 0-1, got {mark.scale}")
    if not 0 < mark.opacity <= 1:
        found.append(f"opacity: expected more than 0, at most 1, got {mark.opacity}")
    if not 0 <= mark.margin <= MAX_MARGIN:
        found.append(f"margin: expected 0-{MAX_MARGIN} px, got {mark.margin}")
    return [f"{name}: {problem}" for problem in found]


def check_known(transforms: Iterable[Transform], known: Mapping[str, object]) -> None:
    """An output naming a watermark that is not configured is the client's error (400), found
    before any pixel work; at start, the same check covers default outputs and presets."""
    for transform in transforms:
        if transform.watermark is not None and transform.watermark not in known:
            names = ", ".join(sorted(known)) or "none configured"
            raise BadRequest(
                f"watermark: expected one of {names}, got {transform.watermark!r}",
                code="bad_watermark",
            )


def box(width: int, height: int, mark: Watermark) -> tuple[int, int]:
    """The box the watermark is scaled into on a `width` x `height` output: `scale` of the
    width, and never past the output's sides less the margins (at least 1 px)."""
    inner_width = max(1, width - 2 * mark.margin)
    inner_height = max(1, height - 2 * mark.margin)
    return min(inner_width, max(1, round(width * mark.scale))), inner_height


def place(
    width: int, height: int, mark_width: int, mark_height: int, mark: Watermark
) -> tuple[int, int]:
    """Left and top of the watermark on the output, at its compass position, `margin` px in from
    the edges it touches (centred on an axis the position does not name)."""
    free_x, free_y = max(0, width - mark_width), max(0, height - mark_height)
    margin_x, margin_y = min(mark.margin, free_x // 2), min(mark.margin, free_y // 2)
    left = {"w": margin_x, "e": free_x - margin_x}.get(_letter(mark.position, "we"), free_x // 2)
    top = {"n": margin_y, "s": free_y - margin_y}.get(_letter(mark.position, "ns"), free_y // 2)
    return left, top


def _letter(position: str, letters: str) -> str:
    return next((c for c in position if c in letters), "")
