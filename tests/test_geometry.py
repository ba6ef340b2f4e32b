"""Sizes before pixels: tables per size kind and source shape, then invariants over any input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imageserver.errors import BadRequest
from imageserver.geometry import (
    UNBOUNDED,
    Plan,
    Region,
    crop_region,
    displayed_size,
    fast_decode_shrink,
    fit_box,
    libvips_decode_shrink,
    oriented_focal,
    plan,
    scaled_length,
    turned,
    widened_region,
)
from imageserver.transform import MAX_DENSITY, Crop, Fit, Gravity, Transform, parse_token
from tests.corpus import corpus_params, manifest_rows


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
        (LANDSCAPE, "x200.jpg", Plan(300, 200, 200, 200, 50, 0)),
        (LANDSCAPE, "x200-smart.jpg", Plan(300, 200, 200, 200, 50, 0)),
        (LANDSCAPE, "300x200.jpg", Plan(300, 200, 300, 200)),
        (LANDSCAPE, "300x100.jpg", Plan(300, 200, 300, 100, 0, 50)),
        (LANDSCAPE, "x200-fit.jpg", Plan(200, 133, 200, 133)),
        (LANDSCAPE, "100x400-fit.jpg", Plan(100, 67, 100, 67)),
        (LANDSCAPE, "w200@2x.jpg", Plan(400, 267, 400, 267)),
        (LANDSCAPE, "x100@3x.jpg", Plan(450, 300, 300, 300, 75, 0)),
        (LANDSCAPE, "w3000.jpg", Plan(1800, 1200, 1800, 1200)),
        (LANDSCAPE, "x2000.jpg", Plan(1800, 1200, 1200, 1200, 300, 0)),
        (LANDSCAPE, "x1000@2x.jpg", Plan(1800, 1200, 1200, 1200, 300, 0)),
        (LANDSCAPE, "3600x1200.jpg", Plan(1800, 1200, 1800, 600, 0, 300)),
        (LANDSCAPE, "900x600-fit@3x.jpg", Plan(1800, 1200, 1800, 1200)),
        (PORTRAIT, "w200.jpg", Plan(200, 300, 200, 300)),
        (PORTRAIT, "h150.jpg", Plan(100, 150, 100, 150)),
        (PORTRAIT, "x200.jpg", Plan(200, 300, 200, 200, 0, 50)),
        (PORTRAIT, "200x100.jpg", Plan(200, 300, 200, 100, 0, 100)),
        (PORTRAIT, "100x300-fit.jpg", Plan(100, 150, 100, 150)),
        (PORTRAIT, "h100@2x.jpg", Plan(133, 200, 133, 200)),
        (PORTRAIT, "h3000.jpg", Plan(1200, 1800, 1200, 1800)),
        (PORTRAIT, "1200x3600.jpg", Plan(1200, 1800, 600, 1800, 300, 0)),
        (TINY, "w200.jpg", Plan(3, 2, 3, 2)),
        (TINY, "x200.jpg", Plan(3, 2, 2, 2)),
        (TINY, "300x100.jpg", Plan(3, 2, 3, 1)),
        (TINY, "x10-fit@3x.jpg", Plan(3, 2, 3, 2)),
        ((1, 1), "x100.jpg", Plan(1, 1, 1, 1)),
        ((1, 1), "300x100.jpg", Plan(1, 1, 1, 1)),
        ((1000, 1), "w10.jpg", Plan(10, 1, 10, 1)),
        ((1000, 1), "x10.jpg", Plan(1000, 1, 1, 1, 499, 0)),
    ],
)
def test_plan(source: tuple[int, int], token: str, expected: Plan) -> None:
    assert _plan(source, token) == expected


def test_crop_offsets_centre_the_box() -> None:
    landscape = _plan(LANDSCAPE, "x200.jpg")
    assert (landscape.crops, landscape.left, landscape.top) == (True, 50, 0)
    portrait = _plan(PORTRAIT, "x200.jpg")
    assert (portrait.crops, portrait.left, portrait.top) == (True, 0, 50)
    exact = _plan(LANDSCAPE, "300x200.jpg")
    assert (exact.crops, exact.left, exact.top) == (False, 0, 0)


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [(n, (40, 30)) for n in (1, 2, 3, 4)] + [(n, (30, 40)) for n in (5, 6, 7, 8)],
)
def test_displayed_size(orientation: int, expected: tuple[int, int]) -> None:
    assert displayed_size(40, 30, orientation) == expected


def _orientation_rows() -> list[tuple[str, int, int]]:
    return [
        (r["file"], int(r["width"]), int(r["height"]))
        for r in manifest_rows()
        if r["file"].startswith(("Landscape_", "Portrait_"))
    ]


@pytest.mark.parametrize(
    ("name", "stored_width", "stored_height"), corpus_params(_orientation_rows, arity=3)
)
def test_displayed_size_of_the_exif_orientation_photos(
    name: str, stored_width: int, stored_height: int
) -> None:
    orientation = int(name.removesuffix(".jpg").rpartition("_")[2])
    expected = (1800, 1200) if name.startswith("Landscape_") else (1200, 1800)
    assert displayed_size(stored_width, stored_height, orientation) == expected


@st.composite
def transforms(
    draw: st.DrawFn, shapes: tuple[str, ...] = ("width", "height", "box"), fits: Any = Fit
) -> Transform:
    """Sizes of every kind and fit, small enough that boxes are often larger than the source,
    turned any way, box crops at any gravity or focal point."""
    shape = draw(st.sampled_from(shapes))
    sides = st.integers(1, 600)
    fit = draw(st.sampled_from(fits)) if shape == "box" else Fit.CROP
    placed = shape == "box" and fit is Fit.CROP
    focal = st.tuples(st.floats(0, 1), st.floats(0, 1))
    return Transform(
        None if shape == "height" else draw(sides),
        None if shape == "width" else draw(sides),
        "jpg",
        fit=fit,
        density=draw(st.integers(1, MAX_DENSITY)),
        gravity=draw(st.sampled_from(Gravity)) if placed else Gravity.CENTRE,
        focal=draw(st.none() | focal) if placed else None,
        rotate=draw(st.sampled_from([0, 90, 180, 270])),
        flip=draw(st.booleans()),
        flop=draw(st.booleans()),
    )


SOURCE_SIDES = st.integers(1, 5000)


@settings(max_examples=500)
@given(SOURCE_SIDES, SOURCE_SIDES, transforms())
def test_plan_invariants(src_width: int, src_height: int, transform: Transform) -> None:
    """In the output's frame: never larger than the (turned) source, except a pad's box."""
    result = plan(src_width, src_height, transform)
    src_width, src_height = turned(src_width, src_height, transform.rotate)
    box_width, box_height = transform.box_width, transform.box_height
    assert 1 <= result.resize_width <= src_width
    assert 1 <= result.resize_height <= src_height
    if transform.fit is Fit.PAD:
        assert (result.width, result.height) == (box_width, box_height)
        assert not result.crops
        return
    assert 1 <= result.width <= src_width
    assert 1 <= result.height <= src_height
    assert box_width is None or result.width <= box_width
    assert box_height is None or result.height <= box_height
    assert 0 <= result.left <= result.resize_width - result.width
    assert 0 <= result.top <= result.resize_height - result.height


@settings(max_examples=500)
@given(
    SOURCE_SIDES,
    SOURCE_SIDES,
    transforms(shapes=("box",), fits=(Fit.CROP, Fit.SMART)),
)
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
@given(
    SOURCE_SIDES,
    SOURCE_SIDES,
    transforms().filter(lambda t: t.fit in (Fit.FIT, Fit.PAD) or not t.is_box),
)
def test_fit_pad_and_single_sides_keep_the_source_aspect_ratio(
    src_width: int, src_height: int, transform: Transform
) -> None:
    result = plan(src_width, src_height, transform)
    src_width, src_height = turned(src_width, src_height, transform.rotate)
    assert not result.crops
    if min(result.resize_width, result.resize_height) > 1:
        error = abs(result.resize_width * src_height - result.resize_height * src_width)
        assert error <= max(src_width, src_height) / 2


@settings(max_examples=300)
@given(SOURCE_SIDES, SOURCE_SIDES, transforms(shapes=("box",), fits=(Fit.FORCE,)))
def test_force_stretches_to_the_box_within_the_source(
    src_width: int, src_height: int, transform: Transform
) -> None:
    result = plan(src_width, src_height, transform)
    src_width, src_height = turned(src_width, src_height, transform.rotate)
    assert (result.width, result.height) == (
        min(transform.box_width or 0, src_width),
        min(transform.box_height or 0, src_height),
    )
    assert not result.crops


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
    src_width, src_height = turned(src_width, src_height, transform.rotate)
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


# The options of issue 16: gravity, focal point, rotation, pad, force, crop regions.


@pytest.mark.parametrize(
    ("token", "offsets"),
    [
        ("x200-gnw.jpg", (0, 0)),
        ("x200-gn.jpg", (50, 0)),
        ("x200-gne.jpg", (100, 0)),
        ("x200-ge.jpg", (100, 0)),
        ("x200-gse.jpg", (100, 0)),
        ("x200-gw.jpg", (0, 0)),
        ("x200.jpg", (50, 0)),
        ("300x100-gs.jpg", (0, 100)),  # 300x200 resized: the box at the bottom
        ("300x100-gn.jpg", (0, 0)),
        ("300x100-gsw.jpg", (0, 100)),
        ("x200-fp0.5x0.5.jpg", (50, 0)),  # the focal point centred in the box
        ("x200-fp0.6x0.5.jpg", (80, 0)),  # 0.6 * 300 - 100
        ("x200-fp0.1x0.5.jpg", (0, 0)),  # kept inside: the box never leaves the picture
        ("x200-fp1.0x1.0.jpg", (100, 0)),
        ("300x100-fp0.5x0.9.jpg", (0, 100)),  # 0.9 * 200 - 50 = 130, at most 100
        ("300x100-fp0.5x0.4.jpg", (0, 30)),
    ],
)
def test_gravity_and_focal_point_place_the_box(token: str, offsets: tuple[int, int]) -> None:
    result = _plan(LANDSCAPE, token)
    assert (result.resize_width, result.resize_height) == (300, 200)
    assert (result.left, result.top) == offsets


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        (Transform(None, None, "jpg", focal=(0.2, 0.3)), (0.2, 0.3)),
        (Transform(None, None, "jpg", focal=(0.2, 0.3), rotate=90), (0.7, 0.2)),
        (Transform(None, None, "jpg", focal=(0.2, 0.3), rotate=180), (0.8, 0.7)),
        (Transform(None, None, "jpg", focal=(0.2, 0.3), rotate=270), (0.3, 0.8)),
        (Transform(None, None, "jpg", focal=(0.2, 0.3), flip=True), (0.2, 0.7)),
        (Transform(None, None, "jpg", focal=(0.2, 0.3), flop=True), (0.8, 0.3)),
        (Transform(None, None, "jpg", focal=(0.2, 0.3), rotate=90, flop=True), (0.3, 0.2)),
    ],
)
def test_focal_point_follows_the_picture_through_rotation(
    transform: Transform, expected: tuple[float, float]
) -> None:
    """A focal point marks the picture: after a quarter turn clockwise its left edge is the top."""
    assert oriented_focal(transform) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("source", "token", "expected"),
    [
        ((800, 600), "w200-r90.jpg", Plan(200, 267, 200, 267)),  # sizes of the turned output
        ((800, 600), "w200-r180.jpg", Plan(200, 150, 200, 150)),
        ((800, 600), "h200-r270.jpg", Plan(150, 200, 150, 200)),
        ((800, 600), "300x100-r90.jpg", Plan(300, 400, 300, 100, 0, 150)),
        (LANDSCAPE, "x300-pad.jpg", Plan(300, 200, 300, 300)),
        (LANDSCAPE, "x300-pad-r90.jpg", Plan(200, 300, 300, 300)),
        (TINY, "x200-pad.jpg", Plan(3, 2, 200, 200)),  # never enlarged, still the whole box
        (LANDSCAPE, "300x100-force.jpg", Plan(300, 100, 300, 100)),
        (LANDSCAPE, "3000x100-force.jpg", Plan(1800, 100, 1800, 100)),  # each side capped
        (LANDSCAPE, "100x300-force-r90.jpg", Plan(100, 300, 100, 300)),
    ],
)
def test_plan_of_rotated_padded_and_forced_outputs(
    source: tuple[int, int], token: str, expected: Plan
) -> None:
    result = _plan(source, token)
    assert result == expected
    assert result.pads == ("pad" in token)


def test_pad_and_force_of_vector_sources_fill_the_box() -> None:
    assert plan(30, 20, parse_token("x200-pad.png"), enlarge=True) == Plan(200, 133, 200, 200)
    assert plan(30, 20, parse_token("x200-force.png"), enlarge=True) == Plan(200, 200, 200, 200)


def test_fit_box_is_in_the_pictures_frame_before_rotation() -> None:
    """libvips' thumbnail sees the picture unturned: a w200-r90 output is 200 high before it."""
    assert fit_box(*LANDSCAPE, parse_token("w200-r90.jpg")) == (UNBOUNDED, 200)
    assert fit_box(*LANDSCAPE, parse_token("300x100-fit-r270.jpg")) == (100, UNBOUNDED)


@pytest.mark.parametrize(
    ("crop", "region"),
    [
        (Crop(10, 20, 300, 200), Region(10, 20, 300, 200)),
        (Crop(0, 0, 800, 600), Region(0, 0, 800, 600)),
        (Crop(0.1, 0.1, 0.5, 0.5, fractions=True), Region(80, 60, 400, 300)),
        (Crop(0.25, 0.0, 0.75, 1.0, fractions=True), Region(200, 0, 600, 600)),
        (Crop(0.999, 0.999, 0.001, 0.001, fractions=True), Region(799, 599, 1, 1)),
        (Crop(0.5, 0.5, 0.0001, 0.0001, fractions=True), Region(400, 300, 1, 1)),
    ],
)
def test_crop_region(crop: Crop, region: Region) -> None:
    assert crop_region(800, 600, crop) == region


@pytest.mark.parametrize("crop", [Crop(600, 0, 300, 200), Crop(0, 500, 10, 101)])
def test_crop_outside_the_picture_is_a_bad_request(crop: Crop) -> None:
    with pytest.raises(BadRequest, match="crop: expected a region inside the 800x600 picture"):
        crop_region(800, 600, crop)


@pytest.mark.parametrize(
    ("found", "shrink", "widened"),
    [
        (Region(10, 5, 20, 30), 4, Region(36, 16, 88, 128)),  # a block more on each side
        (Region(0, 1, 10, 8), 4, Region(0, 0, 44, 40)),  # clamped at the left and top
        (Region(190, 140, 10, 10), 4, Region(756, 556, 44, 44)),  # clamped at 800x600
        (Region(3, 3, 1, 1), 1, Region(2, 2, 3, 3)),
    ],
)
def test_widened_region(found: Region, shrink: int, widened: Region) -> None:
    """A box found on a picture reduced 1/shrink, back in the 800x600 picture's pixels."""
    assert widened_region(found, shrink, 800, 600) == widened


@st.composite
def fraction_crops(draw: st.DrawFn) -> Crop:
    left, top = draw(st.floats(0, 1)), draw(st.floats(0, 1))
    width, height = draw(st.floats(0, 1 - left)), draw(st.floats(0, 1 - top))
    return Crop(left, top, width, height, fractions=True)


@settings(max_examples=300)
@given(st.integers(1, 3000), st.integers(1, 3000), fraction_crops())
def test_fraction_crops_stay_inside_and_keep_a_pixel(width: int, height: int, crop: Crop) -> None:
    region = crop_region(width, height, crop)
    assert 0 <= region.left < width
    assert 0 <= region.top < height
    assert 1 <= region.width <= width - region.left
    assert 1 <= region.height <= height - region.top


@pytest.mark.parametrize(
    ("source", "token", "shrink"),
    [
        ((2725, 2225), "w100.jpg", 8),  # 27x: leaves 3.4x for the resize
        ((2725, 2225), "w200.jpg", 4),  # 13.6x: 8 would leave less than 2x
        ((2725, 2225), "w720.jpg", 1),  # 3.8x
        ((1800, 1200), "x200.jpg", 2),  # covers its box: 1200/200 = 6
    ],
)
def test_libvips_decode_shrink_leaves_a_factor_of_two(
    source: tuple[int, int], token: str, shrink: int
) -> None:
    """The choice of libvips' thumbnail, for crops by coordinates that decode themselves."""
    assert libvips_decode_shrink(*source, _plan(source, token)) == shrink
