"""The pixel pipeline on the synthetic fixtures: crops, alpha, animation, limits.

The corpus-wide checks (orientation, colour, depth, formats) live in tests/fidelity/.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import subprocess
import sys
import time

import pytest
import pyvips

from imageserver import render
from imageserver.errors import OverLimit, Undecodable, UnsupportedMedia
from imageserver.transform import parse_token
from tests.conftest import image_bytes
from tests.imagecompare import ssim

LIMITS = render.Limits(max_pixels=50_000_000, max_frames=500)


def rendered(name: str, token: str) -> pyvips.Image:
    result = render.render(image_bytes(name), parse_token(token), LIMITS)
    animated = token.endswith((".gif", ".webp"))
    image = pyvips.Image.new_from_buffer(result.data, "n=-1" if animated else "")
    assert image.width == result.width
    return image


def test_probe_reports_displayed_size() -> None:
    found = render.probe(image_bytes("Landscape_6.jpg"), LIMITS)
    assert (found.width, found.height) == (1800, 1200)


def test_cmyk_without_profile_is_converted_not_inverted() -> None:
    image = rendered("cmyk-noprofile.jpg", "w100.jpg")
    assert image.interpretation == "srgb"
    red, green, blue = image.getpoint(5, 5)
    assert red > 200
    assert max(green, blue) < 80


def test_cmyk_with_profile_comes_out_srgb() -> None:
    image = rendered("Channel_digital_image_CMYK_color.jpg", "w100.jpg")
    assert (image.interpretation, image.bands) == ("srgb", 3)


@pytest.mark.parametrize("fmt", ["png", "webp", "gif", "avif"])
def test_alpha_kept_where_the_format_has_it(fmt: str) -> None:
    image = rendered("alpha.png", f"w100.{fmt}")
    assert image.hasalpha()
    assert image.getpoint(10, 10)[-1] > 200  # opaque half
    assert image.getpoint(90, 10)[-1] < 50  # transparent half


def test_jpg_flattens_alpha_onto_white() -> None:
    image = rendered("alpha.png", "w100.jpg")
    assert image.bands == 3
    assert image.getpoint(90, 10) == [255, 255, 255]


@pytest.mark.parametrize("token", ["w30.gif", "x20.webp", "30x10.gif"])
def test_animation_keeps_every_frame(token: str) -> None:
    image = rendered("anim.gif", token)
    page_height = image.get("page-height")
    assert image.height // page_height == 4
    colours = {tuple(image.getpoint(image.width // 2, i * page_height + 2)) for i in range(4)}
    assert len(colours) == 4  # four distinct frames, not one frame repeated


def test_animation_to_still_format_takes_the_first_frame() -> None:
    image = rendered("anim.gif", "w30.jpg")
    assert (image.width, image.height) == (30, 20)
    assert image.getpoint(15, 10)[0] > 200  # the first frame is red


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("65536-uint32-limit.png", OverLimit),
        ("bomb.png", OverLimit),  # the same lie in 222 bytes (test/images)
        ("giant-image.jpg", OverLimit),
        ("truncated.jpg", Undecodable),
        ("corrupt-header.jpg", Undecodable),
        ("not-an-image.txt", UnsupportedMedia),
    ],
)
def test_refusals_are_fast_and_typed(name: str, error: type[Exception]) -> None:
    started = time.monotonic()
    with pytest.raises(error):
        render.probe(image_bytes(name), LIMITS)
    with pytest.raises(error):
        render.render(image_bytes(name), parse_token("w100.jpg"), LIMITS)
    assert time.monotonic() - started < 0.5


def test_summed_frames_count_against_the_pixel_limit() -> None:
    tight = render.Limits(max_pixels=60 * 40 * 3, max_frames=500)  # anim.gif: 4 frames of 60x40
    with pytest.raises(OverLimit, match="4 frames"):
        render.probe(image_bytes("anim.gif"), tight)


def test_render_many_takes_the_header_its_caller_read() -> None:
    """Ingest reads the header once and hands it on: the render must use it, not read again."""
    data = image_bytes("grid.jpg")
    limits = render.Limits(max_pixels=100_000_000, max_frames=100)
    found = render.inspect(data, limits)
    taller = dataclasses.replace(found, height=found.height * 2)  # a header the file lacks
    transform = parse_token("100x100-fit.png")  # the taller header makes height the constraint
    (honest,) = render.render_many(data, [transform], limits)
    (told,) = render.render_many(data, [transform], limits, taller)
    assert (told.width, told.height) != (honest.width, honest.height)
    assert render.render_many(data, [transform], limits, found)[0].data == honest.data


def _pixels(data: bytes, token: str, fast_shrink: bool) -> pyvips.Image:
    rendered = render.render(data, parse_token(token), LIMITS, fast_shrink=fast_shrink)
    return pyvips.Image.new_from_buffer(rendered.data, "")


def _same_pixels(a: pyvips.Image, b: pyvips.Image) -> bool:
    return (a.width, a.height) == (b.width, b.height) and (a - b).abs().max() == 0


@pytest.mark.parametrize("token", ["w200.png", "h90.png", "150x150-fit.png"])
def test_fitted_outputs_are_libvips_default_thumbnail(token: str) -> None:
    """An output that keeps the aspect is scaled by one factor on both axes: exactly the pixels
    of libvips' own thumbnail (forcing the rounded size would stretch one axis a little)."""
    source = pyvips.Image.gaussnoise(997, 661, sigma=60).cast("uchar").bandjoin([128, 64])
    data = source.write_to_buffer(".png")
    transform = parse_token(token)
    box = render.geometry.fit_box(997, 661, transform)
    libvips = pyvips.Image.thumbnail_buffer(data, box[0], height=box[1], size="down")
    assert _same_pixels(_pixels(data, token, fast_shrink=False), libvips.copy_memory())


@pytest.mark.parametrize(("token", "shrink"), [("w120.png", 4), ("x60-smart.png", 8)])
def test_fast_shrink_decodes_jpegs_at_the_chosen_scale(token: str, shrink: int) -> None:
    """grid.jpg is 800x600: w120 is 6.7x smaller, x60 covers its box from 10x; libvips' own
    choice would be 2 and 4, since it leaves at least 2x for the resize."""
    data = image_bytes("grid.jpg")
    plan_ = render.geometry.plan(800, 600, parse_token(token))
    assert render.geometry.fast_decode_shrink(800, 600, plan_) == shrink
    options = {"crop": "attention"} if "smart" in token else {"size": "force"}
    scaled = pyvips.Image.new_from_buffer(data, "", shrink=shrink)
    expected = scaled.thumbnail_image(plan_.width, height=plan_.height, **options).copy_memory()
    libvips = pyvips.Image.thumbnail_buffer(
        data, plan_.width, height=plan_.height, **options
    ).copy_memory()
    assert _same_pixels(_pixels(data, token, fast_shrink=True), expected)
    assert _same_pixels(_pixels(data, token, fast_shrink=False), libvips)
    assert not _same_pixels(expected, libvips)


@pytest.mark.parametrize("name", ["grid.png", "grid-exif6.jpg", "cmyk-noprofile.jpg"])
def test_fast_shrink_keeps_size_orientation_and_colour(name: str) -> None:
    """Only JPEGs take the fast path; whatever path, the output is the same picture."""
    data = image_bytes(name)
    default, fast = _pixels(data, "w150.png", False), _pixels(data, "w150.png", True)
    assert (fast.width, fast.height) == (default.width, default.height)
    assert ssim(default, fast) > 0.95
    if name.endswith(".png"):
        assert _same_pixels(default, fast)


def test_configure_shortens_the_gil_switch_interval() -> None:
    """Render threads back from libvips wait for the GIL at most this long (CPython's default is
    5 ms): `process` lost about 3% of its throughput to those waits."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    try:
        render.configure(vips_concurrency=0)
        assert sys.getswitchinterval() == pytest.approx(render.GIL_SWITCH_INTERVAL_S)
    finally:
        sys.setswitchinterval(before)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_release_free_memory_hands_freed_heap_back_to_the_os() -> None:
    """Freed chunks below a live one stay mapped (glibc trims only the heap's top by itself)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    chunk = 64 * 1024  # under the mmap threshold: from the heap
    chunks = [libc.malloc(chunk) for _ in range(800)]
    for address in chunks:
        ctypes.memset(address, 1, chunk)
    for address in chunks[:-1]:
        libc.free(address)
    before = _rss_bytes()
    render.release_free_memory()
    after = _rss_bytes()
    libc.free(chunks[-1])
    assert before - after > 25 * 2**20


_FREED_MIB = """
import ctypes, os, sys
from imageserver import render
render.configure(vips_concurrency=0, malloc_mmap_threshold=int(sys.argv[1]))
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
size = 8 << 20
first = libc.malloc(size)
ctypes.memset(first, 1, size)
libc.free(first)  # glibc's sliding threshold rises to 8 MiB here
block, pinned = libc.malloc(size), libc.malloc(64)  # pinned: the block is not the heap's top
ctypes.memset(block, 1, size)
before = rss()
libc.free(block)
print(round((before - rss()) / 2**20))  # MiB; the measuring itself may touch a page
"""


@pytest.mark.parametrize(("threshold", "freed_mib"), [(0, 0), (2**20, 8)])
def test_a_fixed_mmap_threshold_gives_large_buffers_back_when_freed(
    threshold: int, freed_mib: int
) -> None:
    """In a process of its own: the allocator's set-up is process-wide."""
    out = subprocess.run(
        [sys.executable, "-c", _FREED_MIB, str(threshold)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == freed_mib
