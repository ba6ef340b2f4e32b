"""The option parts of a token (`-smart`, `-r90`, `-blur1.5`, `-bgff0000`): one row per option.

Each row says how the option reads, which `Transform` field it sets, and how its value is spelt
back; the rows' order is the canonical order of options in a token, so parsing and spelling
cannot drift apart. Values are range-checked here; checks that involve several fields or the
format are transform.py's. Pure: stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import BadRequest

MAX_PAGE = 99_999  # pages of a document, 1-based; the document's own count is checked at render
MAX_CROP_PX = 100_000
MIN_MAX_BYTES, MAX_MAX_BYTES = 1024, 100 * 1024 * 1024
DEFAULT_TRIM = 10
DEFAULT_SHARPEN = 1.0
_DIGITS = 9  # enough for any number we allow (b104857600); stops "10**1000" reaching int()
_DECIMAL = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3})?")
_HEX = re.compile(r"[0-9a-fA-F]{6}(?:[0-9a-fA-F]{2})?")
WATERMARK_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True)
class Option:
    """`prefix` starts the option (a whole word when `word`); `read` turns the rest into the
    field's value (BadRequest when out of range); `spell` gives the value's canonical text, or
    None for a value that is not spelt (a default)."""

    field: str
    prefix: str
    read: Callable[[str, str], Any]  # (rest, whole option) -> value
    spell: Callable[[Any], str | None]
    word: bool = False
    expected: str = ""  # how the option reads, for error messages


def _bounded(digits: str, low: int, high: int) -> int | None:
    if not digits.isdigit() or not digits.isascii() or len(digits) > _DIGITS:
        return None
    value = int(digits)
    return value if low <= value <= high else None


def _integer(field: str, low: int, high: int, code: str, shown: str) -> Callable[[str, str], int]:
    def read(rest: str, whole: str) -> int:
        value = _bounded(rest, low, high)
        if value is None:
            raise BadRequest(f"{field}: expected {shown}, got {whole!r}", code=code)
        return value

    return read


def _decimal(field: str, low: float, high: float, shown: str) -> Callable[[str, str], float]:
    def read(rest: str, whole: str) -> float:
        value = float(rest) if _DECIMAL.fullmatch(rest) else None
        if value is None or not low <= value <= high:
            raise BadRequest(f"{field}: expected {shown}, got {whole!r}", code=f"bad_{field}")
        return value

    return read


def number(value: float) -> str:
    """A decimal's one spelling: `1.5`, `2`, `0.125` (at most 3 decimals, so exact)."""
    return f"{value:g}"


def _fit(word: str) -> Option:
    return Option("fit", word, lambda _rest, whole: whole, lambda v: v, word=True, expected=word)


def _flag(field: str, word: str) -> Option:
    return Option(field, word, lambda _r, _w: True, lambda v: word if v else None, word=True)


def _gravity(rest: str, whole: str) -> str:
    if rest not in ("n", "ne", "e", "se", "s", "sw", "w", "nw", "c"):
        raise BadRequest(
            f"gravity: expected gn, gne, ge, gse, gs, gsw, gw, gnw or gc, got {whole!r}",
            code="bad_gravity",
        )
    return rest


def _focal(rest: str, whole: str) -> tuple[float, float] | None:
    x, sep, y = rest.partition("x")
    if not (sep and _DECIMAL.fullmatch(x) and _DECIMAL.fullmatch(y)) or max(float(x), float(y)) > 1:
        raise BadRequest(
            f"focal: expected fpXxY with X and Y fractions 0-1 (fp0.3x0.7), got {whole!r}",
            code="bad_focal",
        )
    point = (float(x), float(y))
    return None if point == (0.5, 0.5) else point  # the centre is the default crop


def _crop(rest: str, whole: str) -> tuple[float, float, float, float, bool] | None:
    """Pixels (all integers) or fractions (a decimal point in any): left x top x width x height."""
    parts = rest.split("x")
    fractions = "." in rest
    valid = len(parts) == 4 and all(_DECIMAL.fullmatch(p) or p.isdigit() for p in parts)
    values = [float(p) if fractions else (_bounded(p, 0, MAX_CROP_PX) or 0) for p in parts]
    if valid and fractions:
        left, top, width, height = values
        valid = width > 0 and height > 0 and left + width <= 1 and top + height <= 1
    elif valid:
        valid = all(p.isdigit() and _bounded(p, 0, MAX_CROP_PX) is not None for p in parts)
        valid = valid and values[2] >= 1 and values[3] >= 1
    if not valid:
        raise BadRequest(
            "crop: expected cLEFTxTOPxWIDTHxHEIGHT in pixels (c10x20x300x200) or fractions "
            f"0-1 with a decimal point (c0.1x0.1x0.5x0.5), got {whole!r}",
            code="bad_crop",
        )
    if fractions and values == [0, 0, 1, 1]:
        return None  # the whole image
    left, top, width, height = values
    return (left, top, width, height, fractions)


def _spell_crop(value: tuple[float, float, float, float, bool]) -> str:
    *box, fractions = value
    if not fractions:
        return "c" + "x".join(str(int(v)) for v in box)
    spelt = [number(v) for v in box]
    if not any("." in s for s in spelt):  # fractions must show a decimal point somewhere
        spelt[2] = f"{box[2]:.1f}"
    return "c" + "x".join(spelt)


def _rotate(rest: str, whole: str) -> int:
    if rest not in ("90", "180", "270"):
        raise BadRequest(f"rotate: expected r90, r180 or r270, got {whole!r}", code="bad_rotate")
    return int(rest)


def _background(rest: str, whole: str) -> str:
    if not _HEX.fullmatch(rest):
        raise BadRequest(
            f"background: expected bgRRGGBB or bgRRGGBBAA (hex), got {whole!r}",
            code="bad_background",
        )
    colour = rest.lower()
    return colour[:6] if colour.endswith("ff") and len(colour) == 8 else colour


def _watermark(rest: str, whole: str) -> str:
    if not WATERMARK_NAME.fullmatch(rest):
        raise BadRequest(
            f"watermark: expected wmNAME, NAME matching {WATERMARK_NAME.pattern}, got {whole!r}",
            code="bad_watermark",
        )
    return rest


def _optional_number(
    read: Callable[[str, str], float], default: float
) -> Callable[[str, str], float]:
    """`sharpen` is `sharpen1`: a bare word takes the default."""
    return lambda rest, whole: default if rest == "" else read(rest, whole)


# The canonical order of options in a token. Matching tries whole words first, then the longest
# prefix: `pad` before `p3`, `blur2` and `bg000000` before `b5000`.
OPTIONS: tuple[Option, ...] = (
    _fit("fit"),
    _fit("smart"),
    _fit("pad"),
    _fit("force"),
    Option("gravity", "g", _gravity, lambda v: None if v == "c" else f"g{v}", expected="gN"),
    Option("focal", "fp", _focal, lambda v: f"fp{number(v[0])}x{number(v[1])}", expected="fpXxY"),
    Option("crop", "c", _crop, _spell_crop, expected="cLxTxWxH"),
    Option(
        "trim",
        "trim",
        _optional_number(_integer("trim", 1, 255, "bad_trim", "trim or trim1-trim255"), 10),
        lambda v: "trim" if v == DEFAULT_TRIM else f"trim{v}",
        expected="trim[N]",
    ),
    Option("rotate", "r", _rotate, lambda v: f"r{v}" if v else None, expected="rN"),
    _flag("flip", "flip"),
    _flag("flop", "flop"),
    Option(
        "blur",
        "blur",
        _decimal("blur", 0.3, 100, "blur0.3-blur100"),
        lambda v: f"blur{number(v)}",
        expected="blurS",
    ),
    Option(
        "sharpen",
        "sharpen",
        _optional_number(_decimal("sharpen", 0.3, 10, "sharpen or sharpen0.3-10"), 1.0),
        lambda v: "sharpen" if v == DEFAULT_SHARPEN else f"sharpen{number(v)}",
        expected="sharpen[S]",
    ),
    Option("background", "bg", _background, lambda v: f"bg{v}", expected="bgRRGGBB"),
    Option("watermark", "wm", _watermark, lambda v: f"wm{v}", expected="wmNAME"),
    Option(
        "quality",
        "q",
        _integer("quality", 1, 100, "bad_quality", "q1-q100"),
        lambda v: f"q{v}",
        expected="qN",
    ),
    Option(
        "max_bytes",
        "b",
        _integer("max_bytes", MIN_MAX_BYTES, MAX_MAX_BYTES, "bad_max_bytes", "b1024-b104857600"),
        lambda v: f"b{v}",
        expected="bN",
    ),
    _flag("lossless", "lossless"),
    _flag("interlace", "interlace"),
    Option("interlace", "progressive", lambda _r, _w: True, lambda _v: None, word=True),
    _flag("baseline", "baseline"),
    _flag("keep_metadata", "keep"),
    Option(
        "page",
        "p",
        _integer("page", 1, MAX_PAGE, "bad_page", f"p1-p{MAX_PAGE}"),
        lambda v: None if v == 1 else f"p{v}",
        expected="pN",
    ),
)
_MATCH_ORDER = sorted(OPTIONS, key=lambda o: (not o.word, -len(o.prefix)))
EXPECTED = ", ".join(dict.fromkeys(o.expected or o.prefix for o in OPTIONS))


def read_option(text: str) -> tuple[Option, Any]:
    """The option `text` is, and its value; BadRequest naming the field when it is none."""
    for option in _MATCH_ORDER:
        if option.word and text == option.prefix:
            return option, option.read("", text)
        if not option.word and text.startswith(option.prefix):
            return option, option.read(text[len(option.prefix) :], text)
    raise BadRequest(f"option: expected {EXPECTED} (once each), got {text!r}")


def _spellers() -> dict[str, Callable[[Any], str | None]]:
    """Each field's spelling, in canonical order: its first row's (`interlace`, not the
    `progressive` it also reads; the fit words spell themselves)."""
    spellers: dict[str, Callable[[Any], str | None]] = {}
    for option in OPTIONS:
        spellers.setdefault(option.field, option.spell)
    return spellers


SPELLERS = _spellers()
