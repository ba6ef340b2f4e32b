"""Sizes before pixels: tables per size kind and source shape, then invariants over any input."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imageserver.geometry import (
    UNBOUNDED,
    Plan,
    displayed_size,
    fast_decode_shrink,
    fit_box,
    plan,
    scaled_length,
)
from imageserver.transform import MAX_DENSITY, Fit, Transform, parse_token

MANIFEST = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "MANIFEST.tsv"


def _plan(source: tuple[int, int], token: str) -> Plan:
    return plan(*source, parse_token(token))


LANDSCAPE = (1800, 1200)
PORTRAIT = (1200, 1800)
TINY = (3, 2)


@pytest.mark.parametrize(
    ("source", "token", "expected"),
    [
        # resize_width, resize_height, width, height
        (LANDSCAPE, "w200.jpg", Plan(200, 133, 200, 133)),
        (LANDSCAPE, "h150.jpg", Plan(225, 150, 225, 150)),
        (LANDSCAPE, "x200.jpg", Plan(300, 200, 200, 200)),
        (LANDSCAPE, "x200-smart.jpg", Plan(300, 200, 200, 200)),
        (LANDSCAPE, "300x200.jpg", Plan(300, 200, 300, 200)),
        (LANDSCAPE, "300x100.jpg", Plan(300, 200, 300, 100)),
        (LANDSCAPE, "x200-fit.jpg", Plan(200, 133, 200, 133)),
        (LANDSCAPE, "100x400-fit.jpg", Plan(100, 67, 100, 67)),
        (LANDSCAPE, "w200@2x.jpg", Plan(400, 267, 400, 267)),
        (LANDSCAPE, "x100@3x.jpg", Plan(450, 300, 300, 300)),
        (LANDSCAPE, "w3000.jpg", Plan(1800, 1200, 1800, 1200)),
        (LANDSCAPE, "x2000.jpg", Plan(1800, 1200, 1200, 1200)),
        (LANDSCAPE, "x1000@2x.jpg", Plan(1800, 1200, 1200, 1200)),
        (LANDSCAPE, "3600x1200.jpg", Plan(1800, 1200, 1800, 600)),
        (LANDSCAPE, "900x600-fit@3x.jpg", Plan(1800, 1200, 1800, 1200)),
        (PORTRAIT, "w200.jpg", Plan(200, 300, 200, 300)),
        (PORTRAIT, "h150.jpg", Plan(100, 150, 100, 150)),
        (PORTRAIT, "x200.jpg", Plan(200, 300, 200, 200)),
        (PORTRAIT, "200x100.jpg", Plan(200, 300, 200, 100)),
        (PORTRAIT, "100x300-fit.jpg", Plan(100, 150, 100, 150)),
        (PORTRAIT, "h100@2x.jpg", Plan(133, 200, 133, 200)),
        (PORTRAIT, "h3000.jpg", Plan(1200, 1800, 1200, 1800)),
        (PORTRAIT, "1200x3600.jpg", Plan(1200, 1800, 600, 1800)),
        (TINY, "w200.jpg", Plan(3, 2, 3, 2)),
        (TINY, "x200.jpg", Plan(3, 2, 2, 2)),
        (TINY, "300x100.jpg", Plan(3, 2, 3, 1)),
        (TINY, "x10-fit@3x.jpg", Plan(3, 2, 3, 2)),
        ((1, 1), "x100.jpg", Plan(1, 1, 1, 1)),
        ((1, 1), "300x100.jpg", Plan(1, 1, 1, 1)),
        ((1000, 1), "w10.jpg", Plan(10, 1, 10, 1)),
        ((1000, 1), "x10.jpg", Plan(1000, 1, 1, 1)),
    ],
)
def test_plan(source: tuple[int, int], token: str, expected: Plan) -> None:
    assert _plan(source, token) == expected


def test_crop_offsets_centre_the_box() -> None:
    landscape = _plan(LANDSCAPE, "x200.jpg")
    assert (landscape.crops, landscape.crop_left, landscape.crop_top) == (True, 50, 0)
    portrait = _plan(PORTRAIT, "x200.jpg")
    assert (portrait.crops, portrait.crop_left, portrait.crop_top) == (True, 0, 50)
    exact = _plan(LANDSCAPE, "300x200.jpg")
    assert (exact.crops, exact.crop_left, exact.crop_top) == (False, 0, 0)


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [(n, (40, 30)) for n in (1, 2, 3, 4)] + [(n, (30, 40)) for n in (5, 6, 7, 8)],
)
def test_displayed_size(orientation: int, expected: tuple[int, int]) -> None:
    assert displayed_size(40, 30, orientation) == expected


def _orientation_rows() -> list[tuple[str, int, int]]:
    with MANIFEST.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [
        (r["file"], int(r["width"]), int(r["height"]))
        for r in rows
        if r["file"].startswith(("Landscape_", "Portrait_"))
    ]


@pytest.mark.parametrize(("name", "stored_width", "stored_height"), _orientation_rows())
def test_displayed_size_of_the_exif_orientation_photos(
    name: str, stored_width: int, stored_height: int
) -> None:
    orientation = int(name.removesuffix(".jpg").rpartition("_")[2])
    expected = (1800, 1200) if name.startswith("Landscape_") else (1200, 1800)
    assert displayed_size(stored_width, stored_height, orientation) == expected


@st.composite
def transforms(draw: st.DrawFn) -> Transform:
    """Sizes of every kind and fit, small enough that boxes are often larger than the source."""
    shape = draw(st.sampled_from(["width", "height", "box"]))
    sides = st.integers(1, 600)
    return Transform(
        None if shape == "height" else draw(sides),
        None if shape == "width" else draw(sides),
        "jpg",
        fit=draw(st.sampled_from(Fit)) if shape == "box" else Fit.CROP,
        density=draw(st.integers(1, MAX_DENSITY)),
    )


SOURCE_SIDES = st.integers(1, 5000)


@settings(max_examples=500)
@given(SOURCE_SIDES, SOURCE_SIDES, transforms())
def test_plan_invariants(src_width: int, src_height: int, transform: Transform) -> None:
    result = plan(src_width, src_height, transform)
    box_width, box_height = transform.box_width, transform.box_height
    assert 1 <= result.width <= src_width
    assert 1 <= result.height <= src_height
    assert result.resize_width <= src_width
    assert result.resize_height <= src_height
    assert box_width is None or result.width <= box_width
    assert box_height is None or result.height <= box_height
    assert 0 <= result.crop_left <= result.resize_width - result.width
    assert 0 <= result.crop_top <= result.resize_height - result.height


@settings(max_examples=500)
@given(SOURCE_SIDES, SOURCE_SIDES, transforms().filter(lambda t: t.is_box and t.fit is not Fit.FIT))
def test_crop_keeps_the_requested_aspect_ratio(
    src_width: int, src_height: int, transform: Transform
) -> None:
    result = plan(src_width, src_height, transform)
    box_width, box_height = transform.box_width, transform.box_height
    assert box_width is not None
    assert box_height is not None
    if min(result.width, result.height) > 1:
        # One side is exact, the other rounded: at most half a pixel off, scaled by the box.
        error = abs(result.width * box_height - result.height * box_width)
        assert error <= max(box_width, box_height) / 2


@settings(max_examples=500)
@given(SOURCE_SIDES, SOURCE_SIDES, transforms().filter(lambda t: t.fit is Fit.FIT or not t.is_box))
def test_fit_and_single_sides_keep_the_source_aspect_ratio(
    src_width: int, src_height: int, transform: Transform
) -> None:
    result = plan(src_width, src_height, transform)
    assert not result.crops
    if min(result.width, result.height) > 1:
        error = abs(result.width * src_height - result.height * src_width)
        assert error <= max(src_width, src_height) / 2


@pytest.mark.parametrize(
    ("source", "token", "shrink"),
    [
        ((2725, 2225), "w100.jpg", 8),  # 27x: the largest factor
        ((2725, 2225), "w200.jpg", 8),  # 13.6x: libvips would take 4, leaving 2x for the resize
        ((2725, 2225), "w300.jpg", 8),  # 9.1x
        ((2725, 2225), "w340.jpg", 4),  # 8.01x: a whole factor is halved (sharp's rule)
        ((2725, 2225), "w400.jpg", 4),  # 6.8x
        ((2725, 2225), "w720.jpg", 2),  # 3.8x: libvips would decode at full size
        ((2725, 2225), "w1200.jpg", 1),  # 2.3x: 2 is the whole factor, halved
        ((2725, 2225), "w2000.jpg", 1),
        ((1800, 1200), "x200.jpg", 4),  # a crop covers its box: 1200/200 on the short side
        ((1800, 1200), "300x100.jpg", 4),  # covers 300 wide: 1800/300
        ((1800, 1200), "x200-fit.jpg", 8),  # fits inside: 1800/200
        ((1200, 1800), "h150@2x.jpg", 4),  # density counts: 1800/300
        ((100, 100), "w3000.jpg", 1),  # never enlarged, never shrunk
    ],
)
def test_fast_decode_shrink_is_the_largest_that_covers_the_output(
    source: tuple[int, int], token: str, shrink: int
) -> None:
    assert fast_decode_shrink(*source, _plan(source, token)) == shrink


@settings(max_examples=500)
@given(SOURCE_SIDES, SOURCE_SIDES, transforms())
def test_fast_decode_shrink_never_leaves_less_than_the_output(
    src_width: int, src_height: int, transform: Transform
) -> None:
    result = plan(src_width, src_height, transform)
    shrink = fast_decode_shrink(src_width, src_height, result)
    assert shrink in (1, 2, 4, 8)
    # libjpeg's shrunk size is the source's divided and rounded up
    assert -(-src_width // shrink) >= result.resize_width
    assert -(-src_height // shrink) >= result.resize_height


@pytest.mark.parametrize(
    ("source", "token", "box"),
    [
        (LANDSCAPE, "w200.jpg", (200, UNBOUNDED)),
        (LANDSCAPE, "h150.jpg", (UNBOUNDED, 150)),
        (LANDSCAPE, "100x400-fit.jpg", (100, UNBOUNDED)),  # the width constrains
        (PORTRAIT, "100x100-fit.jpg", (UNBOUNDED, 100)),  # the height constrains
        (LANDSCAPE, "300x200-fit.jpg", (300, UNBOUNDED)),  # both alike: either side
    ],
)
def test_fit_box_leaves_only_the_constraining_side(
    source: tuple[int, int], token: str, box: tuple[int, int]
) -> None:
    """libvips then scales both axes by one factor, as its default thumbnail does."""
    assert fit_box(*source, parse_token(token)) == box


def test_lengths_round_half_up_as_libvips_does() -> None:
    assert scaled_length(2160, 200 / 3840) == 113  # 112.5: Python's round() gives 112
    assert scaled_length(3, 0.01) == 1
