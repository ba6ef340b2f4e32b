"""ThumbHash (Evan Wallace's image placeholder, MIT): RGBA pixels <-> a hash of ~25 bytes.

A port of the reference (npm `thumbhash` 0.1.1): the same bytes for the same pixels, up to
floating-point summation order. The PyPI `thumbhash` 0.1.2 cannot be used: its decoder draws
every pixel with the first pixel's cosines (a flat image) and prints to stdout, and its encoder
fails on any alpha. Pure: no pyvips; render/placeholder.py moves the pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import mul

MAX_SIDE = 100  # the reference refuses larger inputs: slower, and no better a hash
DECODED_SIDE = 32  # the decoded image's longer side, as the reference draws it
SATURATION_BOOST = 1.25  # the reference's, against the loss of the 4-bit colour terms


def encode(width: int, height: int, rgba: bytes) -> bytes:
    """The ThumbHash of `width` x `height` RGBA pixels (8-bit, not premultiplied), sides <= 100."""
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"thumbhash: expected sides 1-{MAX_SIDE}, got {width}x{height}")
    if len(rgba) != width * height * 4:
        raise ValueError(f"thumbhash: expected {width * height * 4} RGBA bytes, got {len(rgba)}")
    alphas = [a / 255 for a in rgba[3::4]]
    total_alpha = sum(alphas)
    # transparent pixels are composited atop the average colour, so they do not pull it to black
    r, g, b = (_over_average(alphas, total_alpha, rgba[band::4]) for band in range(3))
    has_alpha = total_alpha < width * height
    l_limit = 5 if has_alpha else 7  # fewer luminance terms leave room for the alpha ones
    lx = max(1, _round(l_limit * width / max(width, height)))
    ly = max(1, _round(l_limit * height / max(width, height)))
    size = (width, height)
    channels = [
        _encode_channel([(x + y + z) / 3 for x, y, z in zip(r, g, b, strict=True)], size, lx, ly),
        _encode_channel([(x + y) / 2 - z for x, y, z in zip(r, g, b, strict=True)], size, 3, 3),
        _encode_channel([x - y for x, y in zip(r, g, strict=True)], size, 3, 3),
    ]
    if has_alpha:
        channels.append(_encode_channel(alphas, size, 5, 5))
    return _pack(channels, has_alpha, width > height, lx, ly)


def decode(thumbhash: bytes) -> tuple[int, int, bytes]:
    """The placeholder image of a ThumbHash: width, height (<= 32) and RGBA bytes."""
    header = _Header(thumbhash)
    nibbles = _Nibbles(thumbhash, 6 if header.has_alpha else 5)
    l_ac = nibbles.take(_terms(header.lx, header.ly), header.l_scale)
    p_ac = nibbles.take(_terms(3, 3), header.p_scale * SATURATION_BOOST)
    q_ac = nibbles.take(_terms(3, 3), header.q_scale * SATURATION_BOOST)
    ratio = aspect_ratio(thumbhash)
    width = _round(DECODED_SIDE if ratio > 1 else DECODED_SIDE * ratio)
    height = _round(DECODED_SIDE / ratio if ratio > 1 else DECODED_SIDE)
    size = (width, height)
    l = _draw_channel(header.l_dc, l_ac, size)  # noqa: E741 - the reference's name
    p = _draw_channel(header.p_dc, p_ac, size)
    q = _draw_channel(header.q_dc, q_ac, size)
    if header.has_alpha:
        a = _draw_channel(header.a_dc, nibbles.take(_terms(5, 5), header.a_scale), size)
    else:
        a = [1.0] * (width * height)
    rgba = bytearray(width * height * 4)
    for i, (lum, yb, rg, alpha) in enumerate(zip(l, p, q, a, strict=True)):
        blue = lum - 2 / 3 * yb
        red = (3 * lum - blue + rg) / 2
        rgba[i * 4 : i * 4 + 4] = bytes(_byte(v) for v in (red, red - rg, blue, alpha))
    return width, height, bytes(rgba)


def aspect_ratio(thumbhash: bytes) -> float:
    """Width over height, as the hash keeps it (coarsely: its count of luminance terms)."""
    header = _Header(thumbhash)
    return header.lx_count / header.ly_count


_Coefficients = tuple[float, list[float], float]  # dc, ac normalised to 0-1, scale


def _over_average(alphas: list[float], total_alpha: float, band: bytes) -> list[float]:
    average = sum(a / 255 * v for a, v in zip(alphas, band, strict=True))
    average = average / total_alpha if total_alpha else 0.0
    return [average * (1 - a) + a / 255 * v for a, v in zip(alphas, band, strict=True)]


def _terms(nx: int, ny: int) -> list[tuple[int, int]]:
    """The (cx, cy) cosine pairs a channel keeps, in the hash's order: a triangle of low
    frequencies, DC (0, 0) first."""
    nx, ny = max(3, nx), max(3, ny)
    return [(cx, cy) for cy in range(ny) for cx in range(nx) if cx * ny < nx * (ny - cy)]


def _cosines(n: int, side: int) -> list[list[float]]:
    return [[math.cos(math.pi / side * c * (i + 0.5)) for i in range(side)] for c in range(n)]


def _encode_channel(channel: list[float], size: tuple[int, int], nx: int, ny: int) -> _Coefficients:
    """The DCT terms of `_terms(nx, ny)`. Separable: each row is projected once per x cosine,
    so the cost is nx * pixels, not terms * pixels (a 32x32 input encodes in about 1 ms)."""
    width, height = size
    terms = _terms(nx, ny)
    cos_x = _cosines(max(cx for cx, _ in terms) + 1, width)
    cos_y = _cosines(max(cy for _, cy in terms) + 1, height)
    rows = [channel[y * width : (y + 1) * width] for y in range(height)]
    projected = [[sum(map(mul, row, fx)) for row in rows] for fx in cos_x]
    factors = [sum(map(mul, projected[cx], cos_y[cy])) / (width * height) for cx, cy in terms]
    dc, ac = factors[0], factors[1:]
    scale = max(map(abs, ac), default=0.0)
    if scale:
        ac = [0.5 + 0.5 / scale * f for f in ac]
    return dc, ac, scale


def _pack(
    channels: list[_Coefficients], has_alpha: bool, landscape: bool, lx: int, ly: int
) -> bytes:
    (l_dc, _, l_scale), (p_dc, _, p_scale), (q_dc, _, q_scale) = channels[:3]
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (has_alpha << 23)
    )
    header16 = (
        (ly if landscape else lx)
        | (_round(63 * p_scale) << 3)
        | (_round(63 * q_scale) << 9)
        | (landscape << 15)
    )
    packed = bytearray([header24 & 255, (header24 >> 8) & 255, header24 >> 16])
    packed += bytes([header16 & 255, header16 >> 8])
    if has_alpha:
        a_dc, _, a_scale = channels[3]
        packed.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
    nibbles = [_round(15 * f) for _, ac, _ in channels for f in ac]
    nibbles += [0] * (len(nibbles) % 2)
    packed += bytes(
        low | (high << 4) for low, high in zip(nibbles[::2], nibbles[1::2], strict=True)
    )
    return bytes(packed)


class _Header:
    """The constants of a hash's first 5 (6 with alpha) bytes."""

    def __init__(self, thumbhash: bytes) -> None:
        if len(thumbhash) < 5:
            raise ValueError(f"thumbhash: expected at least 5 bytes, got {len(thumbhash)}")
        header24 = thumbhash[0] | (thumbhash[1] << 8) | (thumbhash[2] << 16)
        header16 = thumbhash[3] | (thumbhash[4] << 8)
        self.l_dc = (header24 & 63) / 63
        self.p_dc = ((header24 >> 6) & 63) / 31.5 - 1
        self.q_dc = ((header24 >> 12) & 63) / 31.5 - 1
        self.l_scale = ((header24 >> 18) & 31) / 31
        self.has_alpha = bool(header24 >> 23)
        self.p_scale = ((header16 >> 3) & 63) / 63
        self.q_scale = ((header16 >> 9) & 63) / 63
        landscape = bool(header16 >> 15)
        l_max = 5 if self.has_alpha else 7
        self.lx_count = l_max if landscape else header16 & 7
        self.ly_count = header16 & 7 if landscape else l_max
        if not self.lx_count or not self.ly_count:
            raise ValueError("thumbhash: no luminance terms in the header")
        self.lx, self.ly = max(3, self.lx_count), max(3, self.ly_count)
        if self.has_alpha and len(thumbhash) < 6:
            raise ValueError("thumbhash: expected an alpha byte")
        self.a_dc = (thumbhash[5] & 15) / 15 if self.has_alpha else 1.0
        self.a_scale = (thumbhash[5] >> 4) / 15 if self.has_alpha else 1.0


class _Nibbles:
    """The AC terms, 4 bits each, read in order after the header."""

    def __init__(self, thumbhash: bytes, start: int) -> None:
        self.thumbhash, self.start, self.index = thumbhash, start, 0

    def take(self, terms: list[tuple[int, int]], scale: float) -> list[tuple[int, int, float]]:
        """(cx, cy, factor) of each AC term (DC, the first term, is in the header)."""
        taken = []
        for cx, cy in terms[1:]:
            position = self.start + (self.index >> 1)
            if position >= len(self.thumbhash):
                raise ValueError("thumbhash: too short for its terms")
            nibble = (self.thumbhash[position] >> ((self.index & 1) << 2)) & 15
            taken.append((cx, cy, (nibble / 7.5 - 1) * scale))
            self.index += 1
        return taken


def _draw_channel(
    dc: float, ac: Sequence[tuple[int, int, float]], size: tuple[int, int]
) -> list[float]:
    """dc + sum(factor * cos_x * 2 cos_y), row by row: each row's terms are summed over cy
    first, then over x (separable, like the encoder)."""
    width, height = size
    nx = max(cx for cx, _, _ in ac) + 1
    cos_x = _cosines(nx, width)
    cos_y = _cosines(max(cy for _, cy, _ in ac) + 1, height)
    values: list[float] = []
    for y in range(height):
        per_cx = [0.0] * nx
        for cx, cy, factor in ac:
            per_cx[cx] += factor * cos_y[cy][y] * 2
        values += [dc + sum(per_cx[cx] * cos_x[cx][x] for cx in range(nx)) for x in range(width)]
    return values


def _round(value: float) -> int:
    """JavaScript's Math.round (halves up), as the reference quantises; Python's round()
    rounds halves to even."""
    return math.floor(value + 0.5)


def _byte(value: float) -> int:
    """Clamped, then truncated, as the reference's Uint8Array stores it."""
    return int(max(0.0, 255 * min(1.0, value)))
