"""Pictures come out upright and in sRGB, whatever their orientation, profile or depth."""

from __future__ import annotations

import pytest
import pyvips

from imageserver import render
from imageserver.transform import parse_token
from tests.conftest import image_bytes
from tests.corpus import image_path
from tests.fidelity.corpus import LIMITS, render_file
from tests.imagecompare import ssim


@pytest.mark.parametrize("kind", ["Landscape", "Portrait"])
@pytest.mark.parametrize("orientation", range(2, 9))
def test_every_exif_orientation_renders_upright(kind: str, orientation: int) -> None:
    upright = render_file(f"{kind}_1.jpg", "w200.png")
    other = render_file(f"{kind}_{orientation}.jpg", "w200.png")
    assert (other.width, other.height) == (upright.width, upright.height)
    assert ssim(upright, other) >= 0.95


def reference_srgb(name: str, width: int, height: int) -> pyvips.Image:
    """The full-size original through its embedded profile to sRGB, then resized."""
    full = pyvips.Image.new_from_file(str(image_path(name))).copy_memory()
    converted = full.icc_transform("srgb", embedded=True, intent="relative")
    resized = converted.resize(width / converted.width, vscale=height / converted.height)
    return resized.colourspace("srgb") if resized.format != "uchar" else resized


@pytest.mark.parametrize(
    "name",
    [
        "Channel_digital_image_CMYK_color.jpg",  # CMYK, U.S. Web Coated (SWOP) v2
        "xmp_test.jpg",  # Adobe RGB (1998)
        "apple_gainmap_new.jpg",  # Display P3
        "prophoto.png",  # ProPhoto RGB
        "concert.jpg",  # grey, Gray Gamma 2.2
        "tifftag-photoshop.tiff",  # 16-bit Adobe RGB
    ],
)
def test_embedded_profiles_are_converted_to_srgb(name: str) -> None:
    ours = render_file(name, "w200.png")
    reference = reference_srgb(name, ours.width, ours.height)
    difference = ours.colourspace("lab").dE00(reference.colourspace("lab")).avg()
    assert difference < 2, f"mean CIEDE2000 {difference:.2f}"


def test_cmyk_without_profile_goes_through_a_standard_cmyk_profile() -> None:
    data = image_bytes("cmyk-noprofile.jpg")
    result = render.render(data, parse_token("w200.png"), LIMITS)
    ours = pyvips.Image.new_from_buffer(result.data, "")
    source = pyvips.Image.new_from_buffer(data, "").copy_memory()
    assert not source.get_typeof("icc-profile-data")
    reference = source.icc_transform("srgb", input_profile="cmyk", intent="relative")
    reference = reference.resize(ours.width / reference.width)
    assert ours.colourspace("lab").dE00(reference.colourspace("lab")).avg() < 2


@pytest.mark.parametrize("name", ["weld_16bit.png", "tifftag-photoshop.tiff"])
def test_sixteen_bit_comes_out_as_right_eight_bit(name: str) -> None:
    ours = render_file(name, "w200.png")
    assert ours.format == "uchar"
    reference = reference_srgb(name, ours.width, ours.height)
    assert abs(ours.avg() - reference.avg()) < 2  # scaled, not truncated, clipped or black
    assert ssim(ours, reference) > 0.95


@pytest.mark.parametrize("fmt", ["png", "webp", "gif", "avif"])
def test_palette_transparency_is_kept(fmt: str) -> None:
    source = pyvips.Image.new_from_file(str(image_path("tbbn3p08.png"))).copy_memory()
    ours = render_file("tbbn3p08.png", f"w32.{fmt}")
    assert ours.hasalpha()
    alpha_difference = (ours[ours.bands - 1].cast("int") - source[source.bands - 1]).abs()
    assert alpha_difference.avg() < 4  # lossy alpha may wobble; a lost alpha would be ~60
