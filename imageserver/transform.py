"""Output tokens (`300x200-smart-q50-p2@2x.webp`) parsed once into an immutable `Transform`.

Every field is validated here (each option's own range in transform_options.py), before any
pixel work, with a message naming the field, what was expected and what was received.
`Transform.token()` is the one canonical spelling. Pure.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .errors import BadRequest
from .formats import CHOICES, OUTPUT_FORMATS, output_format
from .presets import expand
from .transform_options import MAX_PAGE, SPELLERS, read_option

__all__ = ["MAX_PAGE"]

MAX_DENSITY = 3
AUTO_FORMAT = "auto"  # chosen per request from the Accept header (see negotiate.py)
PLACEHOLDER = "placeholder"  # `placeholder.png`: the original's ThumbHash, drawn small
# The encode-only options formats.py lists per format (formats.CHOICES), by their fields.
CHOICE_OPTIONS = {choice: choice for choice in CHOICES}
_MAX_DIGITS = 6  # enough for any side we allow; stops '10**1000' from reaching int()


class Fit(Enum):
    CROP = "crop"  # fill the box, crop at the gravity or focal point (the default for boxes)
    SMART = "smart"  # fill the box, crop around the most interesting region
    FIT = "fit"  # fit inside the box, no crop
    PAD = "pad"  # fit inside the box, then pad it to the box with the background
    FORCE = "force"  # stretch to the box, aspect ratio not kept


class Gravity(Enum):
    """Where a box crop keeps the image (`-gne`): the compass, centre by default."""

    CENTRE = "c"
    NORTH = "n"
    NORTH_EAST = "ne"
    EAST = "e"
    SOUTH_EAST = "se"
    SOUTH = "s"
    SOUTH_WEST = "sw"
    WEST = "w"
    NORTH_WEST = "nw"


@dataclass(frozen=True)
class Crop:
    """A region of the source, taken before resizing (`-c10x20x300x200`, `-c0.1x0.1x0.5x0.5`):
    left, top, width, height in pixels of the displayed source, or all four as fractions 0-1."""

    left: float
    top: float
    width: float
    height: float
    fractions: bool = False


@dataclass(frozen=True)
class Transform:
    width: int | None
    height: int | None
    format: str
    fit: Fit = Fit.CROP
    quality: int | None = None
    density: int = 1
    page: int = 1
    gravity: Gravity = Gravity.CENTRE  # box crops (fit CROP) only
    focal: tuple[float, float] | None = None  # (x, y) fractions 0-1; box crops; not with gravity
    crop: Crop | None = None  # taken from the source before anything else but trim
    trim: int | None = None  # threshold 1-255 of the border colour's difference; None: no trim
    rotate: int = 0  # 0, 90, 180 or 270, clockwise, after the EXIF orientation
    flip: bool = False  # upside down
    flop: bool = False  # mirrored left-right
    blur: float | None = None  # gaussian sigma
    sharpen: float | None = None  # sigma of libvips' sharpen
    background: str | None = None  # RRGGBB or RRGGBBAA (lowercase hex): pad and flatten colour
    watermark: str | None = None  # a name from --watermarks
    max_bytes: int | None = None  # quality lowered until the output fits (jpg, webp, avif)
    lossless: bool = False  # webp, avif
    interlace: bool = False  # interlaced png or gif (jpg: progressive already, see baseline)
    baseline: bool = False  # jpg only: sequential, not the progressive jpg we write by default
    keep_metadata: bool = False  # EXIF and ICC kept (orientation applied); default: stripped
    placeholder: bool = False  # `placeholder.png`: the ThumbHash of info.json drawn small

    @property
    def is_box(self) -> bool:
        return self.width is not None and self.height is not None

    @property
    def box_width(self) -> int | None:
        return self.width * self.density if self.width else None

    @property
    def box_height(self) -> int | None:
        return self.height * self.density if self.height else None

    def token(self) -> str:
        """The canonical spelling: size, then options in the order of transform_options.OPTIONS,
        density, extension. Spelt once per Transform: a hit asks for it three times."""
        return self._token

    @functools.cached_property
    def _token(self) -> str:
        if self.placeholder:
            return f"{PLACEHOLDER}.{self.format}"
        parts = [self.size_token()]
        for field_name, spell in SPELLERS.items():
            value = self._option_value(field_name)
            if value is not None and value is not False:
                part = spell(value)
                parts += [part] if part else []
        density = f"@{self.density}x" if self.density != 1 else ""
        return "-".join(parts) + density + "." + self.format

    def _option_value(self, field_name: str) -> Any:
        value = getattr(self, field_name)
        if field_name == "fit":
            return None if value is Fit.CROP else value.value
        if field_name == "gravity":
            return value.value
        if field_name == "crop" and value is not None:
            return (value.left, value.top, value.width, value.height, value.fractions)
        return value

    def size_token(self) -> str:
        if self.height is None:
            return f"w{self.width}"
        if self.width is None:
            return f"h{self.height}"
        if self.width == self.height:
            return f"x{self.width}"
        return f"{self.width}x{self.height}"


_SIZE = re.compile(r"(?:(?P<kind>[whx])(?P<n>[0-9]+)|(?P<w>[0-9]+)x(?P<h>[0-9]+))")
_DENSITY = re.compile(r"(?P<d>[0-9]+)x")


def parse_token(
    token: str, *, max_side: int = 8192, presets: Mapping[str, str] | None = None
) -> Transform:
    """Parses any accepted spelling; `.token()` differs from the input for non-canonical ones.

    `presets` are the namespace's: a leading preset name is expanded before parsing.
    """
    stem, dot, ext = expand(token, presets or {}).rpartition(".")
    if not dot or not stem:
        raise BadRequest(f"token: expected SIZE[-OPTIONS][@Nx].FORMAT, got {token!r}")
    fmt = _parse_format(ext)
    if stem == PLACEHOLDER:
        return Transform(None, None, fmt, placeholder=True)
    stem, at, density_text = stem.partition("@")
    density = _parse_density(density_text) if at else 1
    size_text, *options = stem.split("-")
    width, height = _parse_size(size_text, max_side)
    values = _read_options(options)
    if values.get("interlace") and _interlaced_already(fmt):
        del values["interlace"]  # jpg is written progressive anyway: not spelt, as defaults
    transform = Transform(width, height, fmt, density=density, **values)
    _check_combinations(transform)
    _check_output_side(transform, max_side)
    return transform


def _interlaced_already(fmt: str) -> bool:
    return fmt != AUTO_FORMAT and bool(OUTPUT_FORMATS[fmt].saver_options.get("interlace"))


def _parse_format(ext: str) -> str:
    fmt = output_format(ext) or ext.lower()
    if fmt not in OUTPUT_FORMATS and fmt != AUTO_FORMAT:
        expected = ", ".join([*OUTPUT_FORMATS, AUTO_FORMAT])
        raise BadRequest(f"format: expected one of {expected}, got {ext!r}", code="bad_format")
    return fmt


def _parse_density(text: str) -> int:
    match = _DENSITY.fullmatch(text)
    value = _bounded_int(match["d"], 1, MAX_DENSITY) if match else None
    if value is None:
        raise BadRequest(
            f"density: expected @1x to @{MAX_DENSITY}x, got '@{text}'", code="bad_density"
        )
    return value


def _parse_size(text: str, max_side: int) -> tuple[int | None, int | None]:
    match = _SIZE.fullmatch(text)
    if not match:
        raise BadRequest(f"size: expected wN, hN, xN or WxH, got {text!r}", code="bad_size")
    if match["kind"]:
        field_name = {"w": "width", "h": "height", "x": "size"}[match["kind"]]
        n = _side(field_name, match["n"], max_side)
        return {"w": (n, None), "h": (None, n), "x": (n, n)}[match["kind"]]
    return _side("width", match["w"], max_side), _side("height", match["h"], max_side)


def _side(field_name: str, digits: str, max_side: int) -> int:
    value = _bounded_int(digits, 1, max_side)
    if value is None:
        raise BadRequest(
            f"{field_name}: expected an integer 1-{max_side}, got '{digits}'", code="bad_size"
        )
    return value


def _bounded_int(digits: str, low: int, high: int) -> int | None:
    if len(digits) > _MAX_DIGITS:
        return None
    value = int(digits)
    return value if low <= value <= high else None


def _read_options(options: list[str]) -> dict[str, Any]:
    """Each option once, in any order: the Transform fields they set."""
    read: dict[str, tuple[str, Any]] = {}  # field -> (the option's text, its value)
    for text in options:
        option, value = read_option(text)
        if option.field in read:
            raise _twice(option.field, read[option.field][0], text)
        read[option.field] = (text, value)
    values = {name: value for name, (_text, value) in read.items() if value is not None}
    if "fit" in values:
        values["fit"] = Fit(values["fit"])
    if "gravity" in values:
        values["gravity"] = Gravity(values["gravity"])
    if "crop" in values:
        values["crop"] = Crop(*values["crop"])
    return values


def _twice(field_name: str, first: str, second: str) -> BadRequest:
    if field_name == "fit":
        return BadRequest(
            f"fit: expected one of fit, smart, pad or force, got both '{first}' and '{second}'"
        )
    return BadRequest(f"option: expected options once each, got {second!r} after {first!r}")


def _check_combinations(t: Transform) -> None:
    """What no single option can check: options that need a box, a format, or each other."""
    if t.fit is not Fit.CROP and not t.is_box:
        raise BadRequest(
            f"{t.fit.value}: expected a box size (xN or WxH) to fit or crop into, "
            f"got '{t.size_token()}'"
        )
    placed = "gravity" if t.gravity is not Gravity.CENTRE else "focal" if t.focal else None
    if placed and (not t.is_box or t.fit is not Fit.CROP):
        shape = t.size_token() + (f"-{t.fit.value}" if t.fit is not Fit.CROP else "")
        raise BadRequest(f"{placed}: expected a box crop (xN or WxH, no fit), got {shape!r}")
    if placed and t.gravity is not Gravity.CENTRE and t.focal:
        raise BadRequest("focal: expected either a gravity or a focal point, got both")
    _check_encoder(t)
    if t.background and len(t.background) == 8 and not _has_alpha(t.format):
        raise BadRequest(
            f"background: {t.format} has no alpha, got 'bg{t.background}' (use bgRRGGBB)"
        )


def _check_encoder(t: Transform) -> None:
    """Encoder options the format has."""
    for name, value, shown in (("quality", t.quality, "q"), ("max_bytes", t.max_bytes, "b")):
        if value is not None and not _has_quality(t.format):
            raise BadRequest(f"{name}: {t.format} has no quality setting, got '{shown}{value}'")
    for choice, field_name in CHOICE_OPTIONS.items():
        if getattr(t, field_name) and not _accepts(t.format, choice):
            having = [f for f, out in OUTPUT_FORMATS.items() if out.accepts(choice)]
            raise BadRequest(f"{field_name}: expected {' or '.join(having)}, got {t.format}")
    if t.lossless and (t.quality is not None or t.max_bytes is not None):
        raise BadRequest(
            f"lossless: expected no qN or bN with it (lossless has no quality), got {t.token()!r}"
        )


def _accepts(fmt: str, choice: str) -> bool:
    """`.auto` may become jpg, webp, avif or png: it takes what all of them have (`-keep`)."""
    if fmt == AUTO_FORMAT:
        return all(OUTPUT_FORMATS[f].accepts(choice) for f in ("jpg", "webp", "avif", "png"))
    return OUTPUT_FORMATS[fmt].accepts(choice)


def _has_quality(fmt: str) -> bool:
    """`.auto` may become jpg, webp or avif, so it takes a quality for those."""
    return fmt == AUTO_FORMAT or OUTPUT_FORMATS[fmt].default_quality is not None


def _has_alpha(fmt: str) -> bool:
    return fmt == AUTO_FORMAT or OUTPUT_FORMATS[fmt].alpha


def _check_output_side(transform: Transform, max_side: int) -> None:
    for name, side in (("width", transform.box_width), ("height", transform.box_height)):
        if side is not None and side > max_side:
            raise BadRequest(
                f"{name}: expected at most {max_side} px after density "
                f"@{transform.density}x, got {side}",
                code="bad_size",
            )


def parse_tokens(
    text: str, *, max_side: int = 8192, presets: Mapping[str, str] | None = None
) -> list[Transform]:
    """Parses a comma-separated `outputs=` list; every token must be valid before any work.

    Listed outputs are made ahead of any request, so `.auto` (chosen per request) is refused.
    """
    transforms = [
        parse_token(t.strip(), max_side=max_side, presets=presets)
        for t in text.split(",")
        if t.strip()
    ]
    for transform in transforms:
        if transform.format == AUTO_FORMAT:
            raise BadRequest(
                "format: .auto is chosen per request from its Accept header; outputs made ahead "
                f"of requests need a format, got {transform.token()!r}",
                code="bad_format",
            )
    return transforms
