"""Output tokens (`300x200-smart-q50-p2@2x.webp`) parsed once into an immutable `Transform`.

Every field is validated here, before any pixel work, with a message naming the field, what was
expected and what was received. `Transform.token()` is the one canonical spelling. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from .errors import BadRequest
from .formats import OUTPUT_FORMATS, output_format
from .presets import expand

MAX_DENSITY = 3
MAX_PAGE = 99_999  # pages of a document, 1-based; the document's own count is checked at render
AUTO_FORMAT = "auto"  # chosen per request from the Accept header (see negotiate.py)
_MAX_DIGITS = 6  # enough for any side we allow; stops '10**1000' from reaching int()


class Fit(Enum):
    CROP = "crop"  # fill the box, crop the centre (the default for boxes)
    SMART = "smart"  # fill the box, crop around the most interesting region
    FIT = "fit"  # fit inside the box, no crop


@dataclass(frozen=True)
class Transform:
    width: int | None
    height: int | None
    format: str
    fit: Fit = Fit.CROP
    quality: int | None = None
    density: int = 1
    page: int = 1

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
        """The canonical spelling: size, fit, quality, page, density, extension, in that order."""
        parts = [self.size_token()]
        if self.fit is not Fit.CROP:
            parts.append(self.fit.value)
        if self.quality is not None:
            parts.append(f"q{self.quality}")
        if self.page != 1:
            parts.append(f"p{self.page}")
        density = f"@{self.density}x" if self.density != 1 else ""
        return "-".join(parts) + density + "." + self.format

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
    stem, at, density_text = stem.partition("@")
    density = _parse_density(density_text) if at else 1
    size_text, *options = stem.split("-")
    width, height = _parse_size(size_text, max_side)
    transform = _apply_options(Transform(width, height, fmt, density=density), options)
    _check_output_side(transform, max_side)
    return transform


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


def _apply_options(transform: Transform, options: list[str]) -> Transform:
    fit: Fit | None = None
    quality: int | None = None
    page: int | None = None
    for option in options:
        if option in ("fit", "smart"):
            if fit is not None:
                raise BadRequest(
                    f"fit: expected one of fit or smart, got both '{fit.value}' and '{option}'"
                )
            fit = Fit(option)
        elif option.startswith("q") and quality is None:
            quality = _numbered("quality", option, 100, "bad_quality")
        elif option.startswith("p") and page is None:
            page = _numbered("page", option, MAX_PAGE, "bad_page")
        else:
            raise BadRequest(f"option: expected fit, smart, qN or pN (once each), got {option!r}")
    if fit is not None and not transform.is_box:
        raise BadRequest(
            f"{fit.value}: expected a box size (xN or WxH) to fit or crop into, "
            f"got '{transform.size_token()}'"
        )
    if quality is not None and not _has_quality(transform.format):
        raise BadRequest(f"quality: {transform.format} has no quality setting, got 'q{quality}'")
    return Transform(
        transform.width,
        transform.height,
        transform.format,
        fit=fit or Fit.CROP,
        quality=quality,
        density=transform.density,
        page=page or 1,
    )


def _has_quality(fmt: str) -> bool:
    """`.auto` may become jpg, webp or avif, so it takes a quality for those."""
    return fmt == AUTO_FORMAT or OUTPUT_FORMATS[fmt].default_quality is not None


def _numbered(field_name: str, option: str, high: int, code: str) -> int:
    """`q50`, `p3`: a letter, then an integer 1-high."""
    letter, digits = option[0], option[1:]
    value = _bounded_int(digits, 1, high) if digits.isdigit() and digits.isascii() else None
    if value is None:
        raise BadRequest(
            f"{field_name}: expected {letter}1-{letter}{high}, got {option!r}", code=code
        )
    return value


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
