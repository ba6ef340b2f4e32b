"""Golden tests of the geometry options: our render against the same libvips operations run
directly here (SSIM >= 0.99, exact sizes), then refusals, animations and shared decodes."""

from __future__ import annotations

import pytest
import pyvips

from imageserver import render
from imageserver.errors import BadRequest
from imageserver.geometry import UNBOUNDED
from imageserver.render.loaders import LibvipsLoader
from imageserver.transform import parse_token
from tests.conftest import image_bytes
from tests.imagecompare import ssim

LIMITS = render.Limits(max_pixels=50_000_000, max_frames=500)
GOLDEN_SSIM = 0.99


def ours(data: bytes, token: str) -> pyvips.Image:
    result = render.render(data, parse_token(token), LIMITS)
    image = pyvips.Image.new_from_buffer(result.data, "")
    assert (image.width, image.height) == (result.width, result.height)
    return image


def displayed(name: str) -> pyvips.Image:
    """The whole source, upright: what the operations below start from."""
    return pyvips.Image.new_from_buffer(image_bytes(name), "").autorot()


def assert_golden(name: str, token: str, expected: pyvips.Image) -> pyvips.Image:
    image = ours(image_bytes(name), token)
    assert (image.width, image.height) == (expected.width, expected.height)
    assert ssim(image, expected) >= GOLDEN_SSIM
    return image


def fitted(image: pyvips.Image, width: int, height: int = UNBOUNDED) -> pyvips.Image:
    return image.thumbnail_image(width, height=height)


def covered(image: pyvips.Image, width: int, height: int) -> pyvips.Image:
    """Scaled to cover the box, nothing cut yet."""
    scale = max(width / image.width, height / image.height)
    return image.resize(scale)


@pytest.mark.parametrize(
    ("rotate", "size"), [(90, (200, 267)), (180, (200, 150)), (270, (200, 267))]
)
def test_rotate_sizes_are_those_of_the_turned_output(rotate: int, size: tuple[int, int]) -> None:
    """`w200-r90` of the 800x600 grid is 200 wide after the turn."""
    expected = fitted(displayed("grid.jpg").rot(f"d{rotate}"), 200)
    image = assert_golden("grid.jpg", f"w200-r{rotate}.png", expected)
    assert (image.width, image.height) == size


def test_rotate_applies_after_the_exif_orientation() -> None:
    """grid-exif6.jpg is stored turned with orientation 6: upright first, then our turn."""
    expected = fitted(displayed("grid.jpg").rot90(), 200)
    assert_golden("grid-exif6.jpg", "w200-r90.png", expected)


@pytest.mark.parametrize(
    ("token", "steps"),
    [
        ("w200-flip.png", [("vertical",)]),
        ("w200-flop.png", [("horizontal",)]),
        ("w200-r90-flip-flop.png", [("d90",), ("vertical",), ("horizontal",)]),
    ],
)
def test_flip_and_flop(token: str, steps: list[tuple[str]]) -> None:
    image = displayed("grid.jpg")
    for (step,) in steps:
        image = image.rot(step) if step.startswith("d") else image.flip(step)
    assert_golden("grid.jpg", token, fitted(image, 200))


@pytest.mark.parametrize(
    ("gravity", "libvips_direction"),
    [
        ("n", "north"),
        ("ne", "north-east"),
        ("e", "east"),
        ("se", "south-east"),
        ("s", "south"),
        ("sw", "south-west"),
        ("w", "west"),
        ("nw", "north-west"),
    ],
)
@pytest.mark.parametrize("box", ["x200", "300x100"])
def test_gravity_keeps_that_side_of_the_box(gravity: str, libvips_direction: str, box: str) -> None:
    width, _, height = box.lstrip("x").partition("x")
    box_w, box_h = int(width), int(height or width)
    expected = covered(displayed("grid.jpg"), box_w, box_h).gravity(libvips_direction, box_w, box_h)
    assert_golden("grid.jpg", f"{box}-g{gravity}.png", expected)


def test_gravity_names_sides_of_the_turned_output() -> None:
    expected = covered(displayed("grid.jpg").rot90(), 300, 100).gravity("south", 300, 100)
    assert_golden("grid.jpg", "300x100-gs-r90.png", expected)


def test_focal_point_centres_the_box_on_it() -> None:
    """grid.jpg covers 300x225 for a 300x100 box: 0.3 * 225 - 50 = 17.5, rounded to 18."""
    expected = covered(displayed("grid.jpg"), 300, 100).crop(0, 18, 300, 100)
    assert_golden("grid.jpg", "300x100-fp0.5x0.3.png", expected)


def test_focal_point_marks_the_picture_through_a_rotation() -> None:
    """(0.3, 0.5) of the picture is (0.5, 0.3) after a quarter turn: 0.3 * 400 - 50 = 70."""
    expected = covered(displayed("grid.jpg").rot90(), 300, 100).crop(0, 70, 300, 100)
    assert_golden("grid.jpg", "300x100-fp0.3x0.5-r90.png", expected)


@pytest.mark.parametrize(
    ("token", "region", "width"),
    [
        ("w200-c100x50x400x300.png", (100, 50, 400, 300), 200),
        ("w200-c0.25x0.5x0.5x0.5.png", (200, 300, 400, 300), 200),
        ("w150-c0x0x400x300-r90.png", (0, 0, 400, 300), None),  # crop, then the turn
    ],
)
def test_crop_by_coordinates_comes_before_the_resize(
    token: str, region: tuple[int, int, int, int], width: int | None
) -> None:
    picture = displayed("grid.jpg").crop(*region)
    if "r90" in token:
        picture = picture.rot90()
    assert_golden("grid.jpg", token, fitted(picture, 150 if width is None else width))


def test_crop_coordinates_are_of_the_displayed_source() -> None:
    """Pixels of the picture as seen (after EXIF orientation), not as stored."""
    expected = fitted(displayed("grid.jpg").crop(0, 0, 400, 300), 100)
    assert_golden("grid-exif6.jpg", "w100-c0x0x400x300.png", expected)


def test_crop_of_a_large_jpeg_decodes_shrunk_and_still_matches() -> None:
    """1200 -> 100 wide: decoded at 1/4 (libvips' own rule leaves 2x), region cut from that."""
    expected = fitted(displayed("Landscape_1.jpg").crop(300, 200, 1200, 800), 100)
    assert_golden("Landscape_1.jpg", "w100-c300x200x1200x800.png", expected)


@pytest.fixture(scope="module")
def framed_grid() -> bytes:
    """The grid inside a green border (50 px left and right, 30 px top and bottom)."""
    grid = pyvips.Image.new_from_buffer(image_bytes("grid.png"), "")
    return grid.embed(
        50, 30, 900, 660, extend="background", background=[10, 200, 30]
    ).write_to_buffer(".png")


@pytest.mark.parametrize("threshold", ["", "40"])
def test_trim_cuts_the_border_colour(framed_grid: bytes, threshold: str) -> None:
    grid = pyvips.Image.new_from_buffer(image_bytes("grid.png"), "")
    image = ours(framed_grid, f"w200-trim{threshold}.png")
    assert (image.width, image.height) == (200, 150)
    assert ssim(image, fitted(grid, 200)) >= GOLDEN_SSIM


def test_trim_then_crop_inside_the_trimmed_picture(framed_grid: bytes) -> None:
    grid = pyvips.Image.new_from_buffer(image_bytes("grid.png"), "")
    image = ours(framed_grid, "w100-c0x0x400x300-trim.png")
    assert ssim(image, fitted(grid.crop(0, 0, 400, 300), 100)) >= GOLDEN_SSIM
    with pytest.raises(BadRequest, match="inside the 800x600 picture"):
        ours(framed_grid, "w100-c0x0x850x300-trim.png")  # inside the source, not the grid


def test_trim_of_a_jpeg_border_matches_libvips_find_trim() -> None:
    """JPEG noise in the border is where the box may differ from find_trim's by a few pixels
    (render/trim.py; tests/test_render_trim.py): the picture still matches libvips' trim."""
    photo = displayed("Landscape_1.jpg")
    white = {"extend": "background", "background": [255, 255, 255]}
    framed = photo.embed(37, 21, photo.width + 92, photo.height + 34, **white)
    jpeg = framed.write_to_buffer(".jpg", Q=70)
    picture = pyvips.Image.new_from_buffer(jpeg, "")
    left, top, width, height = picture.find_trim(threshold=10, background=picture.getpoint(0, 0))
    image = ours(jpeg, "w300-trim.png")
    assert image.width == 300
    assert abs(image.height - round(300 * height / width)) <= 1
    expected = picture.crop(left, top, width, height)
    assert ssim(image, expected.thumbnail_image(300, height=image.height, size="force")) >= 0.98


def test_trim_of_one_colour_keeps_the_whole_picture() -> None:
    data = pyvips.Image.black(40, 30).write_to_buffer(".png")
    assert (ours(data, "w20-trim.png").width, ours(data, "w20-trim.png").height) == (20, 15)


def test_force_stretches_to_the_box() -> None:
    expected = pyvips.Image.thumbnail_buffer(image_bytes("grid.jpg"), 300, height=100, size="force")
    assert_golden("grid.jpg", "300x100-force.png", expected)


def test_pad_fits_then_extends_to_the_box_in_white() -> None:
    expected = fitted(displayed("grid.jpg"), 300).gravity(
        "centre", 300, 300, extend="background", background=[255, 255, 255]
    )
    image = assert_golden("grid.jpg", "x300-pad.png", expected)
    assert image.getpoint(150, 5) == pytest.approx([255, 255, 255], abs=2)


def test_pad_with_a_colour_and_with_transparency() -> None:
    coloured = ours(image_bytes("grid.jpg"), "x300-pad-bg0000ff.jpg")
    assert coloured.getpoint(150, 5) == pytest.approx([0, 0, 255], abs=8)
    clear = ours(image_bytes("grid.jpg"), "x300-pad-bg00000000.png")
    assert clear.hasalpha()
    assert clear.getpoint(150, 5)[-1] == 0
    assert clear.getpoint(150, 150)[-1] == 255
    with pytest.raises(BadRequest, match="jpg has no alpha"):  # the grammar refuses it
        parse_token("x300-pad-bg00000000.jpg")


def test_pad_of_a_small_source_is_the_whole_box_without_enlarging() -> None:
    image = ours(image_bytes("small.png"), "x300-pad.png")
    assert (image.width, image.height) == (300, 300)
    expected = displayed("small.png").gravity(
        "centre", 300, 300, extend="background", background=[255, 255, 255]
    )
    assert ssim(image, expected) >= GOLDEN_SSIM


def test_flatten_takes_the_background_colour() -> None:
    expected = fitted(displayed("alpha.png"), 100).flatten(background=[0, 0, 255])
    image = assert_golden("alpha.png", "w100-bg0000ff.jpg", expected)
    assert image.getpoint(90, 10) == pytest.approx([0, 0, 255], abs=8)


@pytest.mark.parametrize(
    ("token", "frame"),
    [("x30-r90.gif", (30, 30)), ("w40-r90.gif", (40, 60)), ("x50-pad.gif", (50, 50))],
)
def test_animations_turn_and_pad_every_frame(token: str, frame: tuple[int, int]) -> None:
    result = render.render(image_bytes("anim.gif"), parse_token(token), LIMITS)
    image = pyvips.Image.new_from_buffer(result.data, "n=-1")
    page_height = image.get("page-height")
    assert (image.width, page_height, image.height // page_height) == (*frame, 4)
    assert (result.width, result.height) == frame
    colours = {
        tuple(image.getpoint(frame[0] // 2, i * page_height + frame[1] // 2)) for i in range(4)
    }
    assert len(colours) == 4


@pytest.mark.parametrize("token", ["w20-c0x0x10x10.gif", "w20-trim.webp"])
def test_crop_and_trim_of_animations_are_refused(token: str) -> None:
    with pytest.raises(BadRequest, match="not available for animations"):
        render.render(image_bytes("anim.gif"), parse_token(token), LIMITS)
    still = ours(image_bytes("anim.gif"), token.rsplit(".", 1)[0] + ".png")  # the first frame
    assert still.width in (10, 20)


def test_out_of_bounds_crop_is_refused_before_any_pixel_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_pixels(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("decoded pixels")

    monkeypatch.setattr(LibvipsLoader, "load_whole", no_pixels)
    monkeypatch.setattr(LibvipsLoader, "load_resized", no_pixels)
    with pytest.raises(BadRequest, match="inside the 800x600 picture, got 200x200 at 700,0"):
        render.render(image_bytes("grid.jpg"), parse_token("w100-c700x0x200x200.jpg"), LIMITS)


@pytest.mark.parametrize(
    "token",
    ["x200-gne.jpg", "x200-fp0.2x0.2.jpg", "300x100-force.jpg", "x300-pad.jpg", "w200-r90.jpg"],
)
def test_options_without_a_region_keep_thumbnails_shrink_on_load(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    def whole(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a full decode")

    monkeypatch.setattr(LibvipsLoader, "load_whole", whole)
    render.render(image_bytes("Landscape_1.jpg"), parse_token(token), LIMITS)


def test_outputs_differing_only_in_encoding_share_one_decode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads: list[int] = []
    original = LibvipsLoader.load_resized

    def counted(self: LibvipsLoader, data: bytes, resize: object) -> pyvips.Image:
        loads.append(1)
        return original(self, data, resize)  # type: ignore[arg-type]

    monkeypatch.setattr(LibvipsLoader, "load_resized", counted)
    tokens = ["x200-gn-r90.jpg", "x200-gn-r90.png", "x200-gn-r90-q50.webp", "x200-gn-r90-keep.jpg"]
    outputs = render.render_many(image_bytes("grid.jpg"), [parse_token(t) for t in tokens], LIMITS)
    assert len(loads) == 1
    assert {(o.width, o.height) for o in outputs} == {(200, 200)}
    render.render_many(
        image_bytes("grid.jpg"), [parse_token(t) for t in ("x200-gn.jpg", "x200-gs.jpg")], LIMITS
    )
    assert len(loads) == 3


def test_trim_with_fast_shrink_decodes_full_size(framed_grid: bytes) -> None:
    """A trim decodes full size (its edges are found on full-size pixels): a shrunk decode
    would shrink the output."""
    jpeg = pyvips.Image.new_from_buffer(framed_grid, "").write_to_buffer(".jpg", Q=95)
    result = render.render(jpeg, parse_token("w500-trim.png"), LIMITS, fast_shrink=True)
    assert (result.width, result.height) == (500, 375)


def test_crop_with_fast_shrink_cuts_the_region_from_the_shrunk_decode() -> None:
    """1200 -> 100 wide: decoded at 1/8, the region's edges rounded out to shrunk pixels."""
    data = image_bytes("Landscape_1.jpg")
    result = render.render(
        data, parse_token("w100-c300x200x1200x800.png"), LIMITS, fast_shrink=True
    )
    image = pyvips.Image.new_from_buffer(result.data, "")
    shrunk = pyvips.Image.new_from_buffer(data, "", shrink=8).crop(37, 25, 151, 100)
    expected = shrunk.thumbnail_image(100, height=67, size="force")
    assert (image.width, image.height) == (100, 67)
    assert ssim(image, expected) >= GOLDEN_SSIM
    full = fitted(displayed("Landscape_1.jpg").crop(300, 200, 1200, 800), 100)
    assert ssim(image, full) >= 0.95  # block-averaged, as every fast shrink is


def test_grey_pictures_take_a_coloured_background_in_srgb() -> None:
    grey = pyvips.Image.black(40, 20).bandjoin(pyvips.Image.black(40, 20) + 0)  # transparent
    data = grey.copy(interpretation="b-w").write_to_buffer(".png")
    flattened = ours(data, "w40-bg0000ff.jpg")
    assert (flattened.bands, flattened.getpoint(5, 5)) == (3, pytest.approx([0, 0, 255], abs=8))
    padded = ours(data, "x40-pad-bg808080.png")  # a grey colour keeps the grey bands
    assert (padded.bands, padded.getpoint(20, 2)) == (2, [128, 255])
