"""Golden outputs: a libvips or encoder upgrade that changes pixels fails here, visibly.

Each case's decoded output is kept as a lossless PNG in golden/ and compared by size and SSIM.
Regenerate (and review the diff) with `IMAGESERVER_REGENERATE_GOLDEN=1 make test`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pyvips

from tests.fidelity.corpus import render_file
from tests.imagecompare import ssim

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("IMAGESERVER_REGENERATE_GOLDEN") == "1"
MIN_SSIM = 0.995  # a same-version re-render gives 1.0; a 0.1 px scale change gives 0.987

CASES = [
    ("2569067123_aca715a2ee_o.jpg", "w160.jpg"),
    ("2569067123_aca715a2ee_o.jpg", "x120-smart.webp"),
    ("Landscape_6.jpg", "160x100.avif"),
    ("Channel_digital_image_CMYK_color.jpg", "w160.jpg"),
    ("xmp_test.jpg", "w160-q50.webp"),
    ("blackbug.png", "w160.png"),
    ("tbbn3p08.png", "w32.gif"),
    ("rotating-squares.gif", "w40.gif"),
    ("arrow.heic", "w120.jpg"),
    ("check.svg", "w160.png"),
    ("weld_16bit.png", "w160.avif"),
    ("kodim23_yuv420_8bpc.avif", "w160.jpg"),
]


def golden_path(name: str, token: str) -> Path:
    return GOLDEN / f"{Path(name).stem}--{token}.png"


@pytest.mark.parametrize(("name", "token"), CASES, ids=lambda v: str(v))
def test_output_matches_golden(name: str, token: str) -> None:
    ours = render_file(name, token)
    path = golden_path(name, token)
    if REGENERATE:
        ours.write_to_file(str(path))
    assert path.exists(), f"no golden for {name} {token}: run with IMAGESERVER_REGENERATE_GOLDEN=1"
    golden = pyvips.Image.new_from_file(str(path))
    assert (ours.width, ours.height, ours.bands) == (golden.width, golden.height, golden.bands)
    assert ssim(ours, golden) >= MIN_SSIM
    if ours.hasalpha():
        alpha_difference = (ours[ours.bands - 1].cast("int") - golden[golden.bands - 1]).abs()
        assert alpha_difference.avg() < 2
