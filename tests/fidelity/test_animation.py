"""Animations keep every frame and its delay in gif and webp; still formats take frame one."""

from __future__ import annotations

import pytest
import pyvips

from tests.corpus import image_path
from tests.fidelity.corpus import page_height, render_file


def frames_and_delays(image: pyvips.Image) -> tuple[int, list[int]]:
    return image.height // page_height(image), list(image.get("delay"))


def source(name: str) -> pyvips.Image:
    return pyvips.Image.new_from_file(str(image_path(name)), n=-1)


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("rotating-squares.gif", "w40.gif"),
        ("rotating-squares.gif", "x30.gif"),
        ("rotating-squares.webp", "w40.webp"),
        ("rotating-squares.webp", "60x20.webp"),
        ("rotating-squares.webp", "w40.gif"),
    ],
)
def test_frames_and_delays_are_kept(name: str, token: str) -> None:
    ours = render_file(name, token)
    assert frames_and_delays(ours) == frames_and_delays(source(name))
    expected_height = {"w40": 40, "x30": 30, "60x20": 20}[token.split(".")[0]]
    assert page_height(ours) == expected_height


def test_gif_to_webp_keeps_the_timing() -> None:
    """libwebp merges identical consecutive frames into one longer frame: same animation."""
    ours = render_file("rotating-squares.gif", "w40.webp")
    source_frames, source_delays = frames_and_delays(source("rotating-squares.gif"))
    frames, delays = frames_and_delays(ours)
    assert sum(delays) == sum(source_delays)
    assert 1 < frames <= source_frames


@pytest.mark.parametrize("fmt", ["jpg", "png", "avif"])
@pytest.mark.parametrize("name", ["rotating-squares.gif", "rotating-squares.webp"])
def test_still_formats_take_the_first_frame(name: str, fmt: str) -> None:
    ours = render_file(name, f"w40.{fmt}")
    assert (ours.width, ours.height) == (40, 40)
    first = source(name).crop(0, 0, 80, 80).thumbnail_image(40)
    flat_ours = ours.flatten(background=[255, 255, 255]) if ours.hasalpha() else ours
    flat_first = first.flatten(background=[255, 255, 255])
    assert (flat_ours.cast("float") - flat_first.cast("float")).abs().avg() < 12
