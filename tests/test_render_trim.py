"""The trim box (render/trim.py) against libvips find_trim on the whole picture: the same box on
clean borders, inside it by a few pixels on JPEG borders, and the two documented ways it
differs."""

from __future__ import annotations

import pytest
import pyvips

from imageserver.geometry import Region
from imageserver.render import trim
from tests.conftest import image_bytes

GREEN = [10.0, 200.0, 30.0]


def libvips_box(picture: pyvips.Image, threshold: int) -> Region | None:
    """What the trim step did before render/trim.py: find_trim on every full-size pixel."""
    background = picture.getpoint(0, 0)[: picture.bands - (1 if picture.hasalpha() else 0)]
    left, top, width, height = picture.find_trim(threshold=threshold, background=background)
    return Region(left, top, width, height) if width and height else None


def framed(
    name: str, left: int, top: int, right: int, bottom: int, colour: list[float] = GREEN
) -> pyvips.Image:
    picture = pyvips.Image.new_from_buffer(image_bytes(name), "")
    width, height = picture.width + left + right, picture.height + top + bottom
    bands = picture.bands - (1 if picture.hasalpha() else 0)
    fill = colour[:bands] + ([255.0] if picture.hasalpha() else [])
    return picture.embed(left, top, width, height, extend="background", background=fill)


def white_with(width: int, height: int, box: Region, value: float) -> pyvips.Image:
    """A white picture with one grey rectangle drawn in it."""
    canvas = pyvips.Image.black(width, height).new_from_image(255).cast("uchar")
    return canvas.draw_rect(value, box.left, box.top, box.width, box.height, fill=True)


@pytest.mark.parametrize(
    ("name", "border"),
    [
        ("grid.png", (50, 30, 50, 30)),  # edges on the reduced copy's blocks
        ("grid.png", (37, 21, 55, 13)),  # edges inside its blocks
        ("grid.png", (1, 0, 0, 6)),  # edges at the picture's own
        ("grid.png", (0, 0, 0, 0)),  # nothing to trim
        ("small.png", (3, 9, 2, 7)),
        ("alpha.png", (11, 5, 0, 17)),  # the transparent half is flattened onto the border
    ],
)
@pytest.mark.parametrize("threshold", [10, 40])
def test_the_box_of_a_clean_border_is_find_trims(
    name: str, border: tuple[int, int, int, int], threshold: int
) -> None:
    picture = framed(name, *border)
    assert trim.box(picture, threshold) == libvips_box(picture, threshold)


@pytest.mark.parametrize("interpretation", ["b-w", "rgb16"])
def test_grey_and_16_bit_pictures_have_find_trims_box(interpretation: str) -> None:
    picture = framed("grid.png", 37, 21, 55, 13).colourspace(interpretation)
    assert trim.box(picture, 10) == libvips_box(picture, 10)


def test_an_edge_that_its_blocks_mean_hides_is_found() -> None:
    """The rectangle's first column is alone in its block of the reduced copy: 20 levels off
    white over a quarter of the block averages to 5, under the threshold. The block outside the
    box found there (geometry.widened_region) is what keeps that column."""
    picture = white_with(400, 300, Region(103, 81, 150, 100), 235)
    assert trim.box(picture, 10) == libvips_box(picture, 10) == Region(103, 81, 150, 100)


@pytest.mark.parametrize(
    "area",
    [Region(40, 0, 8, 200), Region(0, 0, 300, 8), Region(292, 192, 8, 8), Region(150, 90, 8, 8)],
)
def test_a_strip_is_searched_as_find_trims_median_sees_it_in_the_whole(area: Region) -> None:
    """Noise tells apart a median of the strip alone (its edges copied outwards) from the
    whole picture's, which reads the pixels around the strip."""
    noise = pyvips.Image.gaussnoise(300, 200, sigma=40, mean=128, seed=7).cast("uchar")
    noise = noise.copy_memory()
    smoothed = noise.median(3).crop(area.left, area.top, area.width, area.height)
    left, top, width, height = smoothed.find_trim(threshold=30, background=[128], line_art=True)
    assert width > 0
    assert height > 0
    expected = Region(area.left + left, area.top + top, width, height)
    assert trim._found_in(noise, area, 30, [128.0]) == expected


def test_pictures_too_small_to_reduce_take_find_trim_itself() -> None:
    picture = white_with(11, 30, Region(4, 6, 3, 5), 0)
    assert trim.box(picture, 10) == libvips_box(picture, 10) == Region(4, 6, 3, 5)


def test_a_picture_of_one_colour_has_no_box() -> None:
    assert trim.box(pyvips.Image.black(300, 200), 10) is None


@pytest.mark.parametrize(
    ("name", "border", "colour"),
    [
        ("Landscape_1.jpg", (37, 21, 55, 13), GREEN),  # these three: find_trim's box
        ("Portrait_2.jpg", (37, 21, 55, 13), [255.0, 255.0, 255.0]),
        ("grid.png", (37, 21, 55, 13), GREEN),
        ("grid.png", (13, 8, 36, 8), [211.0, 54.0, 86.0]),  # these two: inside it
        ("small.png", (23, 30, 15, 24), [52.0, 127.0, 6.0]),
    ],
)
def test_a_jpeg_border_keeps_at_most_find_trims_box(
    name: str, border: tuple[int, int, int, int], colour: list[float]
) -> None:
    """JPEG noise and ringing next to the picture, which find_trim's median lets through, may be
    cut here: the box is then inside find_trim's, by less than the 16 px of a JPEG MCU."""
    jpeg = framed(name, *border, colour).write_to_buffer(".jpg", Q=85)
    picture = pyvips.Image.new_from_buffer(jpeg, "")
    ours, theirs = trim.box(picture, 10), libvips_box(picture, 10)
    assert ours is not None
    assert theirs is not None
    (left, top, right, bottom), (left_0, top_0, right_0, bottom_0) = _edges(ours), _edges(theirs)
    assert 0 <= left - left_0 < 16
    assert 0 <= top - top_0 < 16
    assert 0 <= right_0 - right < 16
    assert 0 <= bottom_0 - bottom < 16


def _edges(box: Region) -> tuple[int, int, int, int]:
    return box.left, box.top, box.left + box.width, box.top + box.height


def test_a_small_mark_far_in_the_border_is_kept() -> None:
    """A 3x3 black mark survives find_trim's median, and shows in the block means."""
    picture = white_with(400, 300, Region(100, 80, 200, 150), 0).draw_rect(
        0, 9, 270, 3, 3, fill=True
    )
    assert trim.box(picture, 10) == libvips_box(picture, 10) == Region(9, 80, 291, 193)


def test_a_faint_small_mark_alone_in_the_border_is_cut() -> None:
    """Documented: 30 levels off white over 3x3 pixels is content to find_trim; split over four
    blocks of the reduced copy, at most 4/16 of it (7.5) shows, under the threshold of 10."""
    picture = white_with(400, 300, Region(100, 80, 200, 150), 0).draw_rect(
        225, 7, 7, 3, 3, fill=True
    )
    assert libvips_box(picture, 10) == Region(7, 7, 293, 223)
    assert trim.box(picture, 10) == Region(100, 80, 200, 150)


def test_a_line_that_finds_trims_median_erases_is_kept() -> None:
    """Documented: a line 1 px wide in the border shows in the block means, the median at full
    size erases it, so the edges it reaches stay where the reduced copy put them (a block out):
    the line and the border between it and the picture are kept (find_trim cuts them)."""
    picture = white_with(400, 300, Region(100, 80, 200, 150), 0).draw_line(0, 60, 20, 60, 280)
    assert libvips_box(picture, 10) == Region(100, 80, 200, 150)
    assert trim.box(picture, 10) == Region(56, 16, 244, 272)
