"""Output tokens: accepted spellings, the one canonical spelling, and one refusal per field."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imageserver.errors import BadRequest
from imageserver.formats import OUTPUT_FORMATS
from imageserver.transform import (
    AUTO_FORMAT,
    MAX_DENSITY,
    MAX_PAGE,
    Crop,
    Fit,
    Gravity,
    Transform,
    parse_token,
    parse_tokens,
)

MAX_SIDE = 8192


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("w200.jpg", Transform(200, None, "jpg")),
        ("h150.png", Transform(None, 150, "png")),
        ("x200.webp", Transform(200, 200, "webp")),
        ("300x200.jpg", Transform(300, 200, "jpg")),
        ("300x200-fit.gif", Transform(300, 200, "gif", fit=Fit.FIT)),
        ("x200-smart.avif", Transform(200, 200, "avif", fit=Fit.SMART)),
        ("w200-q50.jpg", Transform(200, None, "jpg", quality=50)),
        ("h10-q1.webp", Transform(None, 10, "webp", quality=1)),
        ("300x200-smart-q100.avif", Transform(300, 200, "avif", fit=Fit.SMART, quality=100)),
        ("w200@2x.jpg", Transform(200, None, "jpg", density=2)),
        ("x100-fit-q75@3x.webp", Transform(100, 100, "webp", fit=Fit.FIT, quality=75, density=3)),
        ("w1.gif", Transform(1, None, "gif")),
        ("w8192.jpg", Transform(8192, None, "jpg")),
        ("h4096@2x.png", Transform(None, 4096, "png", density=2)),
        ("2730x1@3x.jpg", Transform(2730, 1, "jpg", density=3)),
        ("w800-p3.webp", Transform(800, None, "webp", page=3)),
        ("x300-p2.png", Transform(300, 300, "png", page=2)),
        (
            "300x200-smart-q50-p99999@2x.jpg",
            Transform(300, 200, "jpg", fit=Fit.SMART, quality=50, density=2, page=MAX_PAGE),
        ),
        ("x200-pad.png", Transform(200, 200, "png", fit=Fit.PAD)),
        ("300x200-force.jpg", Transform(300, 200, "jpg", fit=Fit.FORCE)),
        ("x200-gne.jpg", Transform(200, 200, "jpg", gravity=Gravity.NORTH_EAST)),
        ("x200-fp0.3x0.75.jpg", Transform(200, 200, "jpg", focal=(0.3, 0.75))),
        ("w200-c10x20x300x200.jpg", Transform(200, None, "jpg", crop=Crop(10, 20, 300, 200))),
        (
            "w200-c0.1x0x0.5x0.25.jpg",
            Transform(200, None, "jpg", crop=Crop(0.1, 0, 0.5, 0.25, fractions=True)),
        ),
        ("w200-trim.png", Transform(200, None, "png", trim=10)),
        ("w200-trim40.png", Transform(200, None, "png", trim=40)),
        ("w200-r90.jpg", Transform(200, None, "jpg", rotate=90)),
        ("w200-flip-flop.jpg", Transform(200, None, "jpg", flip=True, flop=True)),
        ("w200-blur2.5.jpg", Transform(200, None, "jpg", blur=2.5)),
        ("w200-sharpen.jpg", Transform(200, None, "jpg", sharpen=1.0)),
        ("w200-sharpen0.5.jpg", Transform(200, None, "jpg", sharpen=0.5)),
        ("x200-pad-bg00000000.png", Transform(200, 200, "png", fit=Fit.PAD, background="00000000")),
        ("w200-bgff8800.jpg", Transform(200, None, "jpg", background="ff8800")),
        ("w200-wmlogo.jpg", Transform(200, None, "jpg", watermark="logo")),
        ("w200-q80-b20000.webp", Transform(200, None, "webp", quality=80, max_bytes=20000)),
        ("w200-lossless.webp", Transform(200, None, "webp", lossless=True)),
        ("w200-interlace.png", Transform(200, None, "png", interlace=True)),
        ("w200-baseline.jpg", Transform(200, None, "jpg", baseline=True)),
        ("w200-keep.jpg", Transform(200, None, "jpg", keep_metadata=True)),
        ("placeholder.png", Transform(None, None, "png", placeholder=True)),
        (
            "x200-smart-c0x0x800x600-trim-r270-flip-blur1-sharpen2-bgffffff-wmlogo-q70-b9000"
            "-baseline-keep-p2@2x.jpg",
            Transform(
                200,
                200,
                "jpg",
                fit=Fit.SMART,
                crop=Crop(0, 0, 800, 600),
                trim=10,
                rotate=270,
                flip=True,
                blur=1.0,
                sharpen=2.0,
                background="ffffff",
                watermark="logo",
                quality=70,
                max_bytes=9000,
                baseline=True,
                keep_metadata=True,
                page=2,
                density=2,
            ),
        ),
    ],
)
def test_valid_token(token: str, expected: Transform) -> None:
    transform = parse_token(token)
    assert transform == expected
    assert transform.token() == token


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("w200.jpeg", "w200.jpg"),
        ("w200.JPG", "w200.jpg"),
        ("h150.Png", "h150.png"),
        ("200x200.jpg", "x200.jpg"),
        ("200x200-fit.webp", "x200-fit.webp"),
        ("x200-q50-smart.jpg", "x200-smart-q50.jpg"),
        ("w200@1x.jpg", "w200.jpg"),
        ("w0200.jpg", "w200.jpg"),
        ("0300x0200.png", "300x200.png"),
        ("w200-q050.jpg", "w200-q50.jpg"),
        ("w200@02x.jpg", "w200@2x.jpg"),
        ("300x300-q50-fit@1x.jpeg", "x300-fit-q50.jpg"),
        ("w200-p1.jpg", "w200.jpg"),
        ("w200-p03.jpg", "w200-p3.jpg"),
        ("x200-p2-q50-smart.jpg", "x200-smart-q50-p2.jpg"),
        ("w200-keep-r90.jpg", "w200-r90-keep.jpg"),
        ("w200-progressive.png", "w200-interlace.png"),
        ("w200-progressive.jpg", "w200.jpg"),
        ("w200-interlace.jpg", "w200.jpg"),
        ("x200-gc.jpg", "x200.jpg"),
        ("x200-fp0.5x0.5.jpg", "x200.jpg"),
        ("x200-fp0.30x0.700.jpg", "x200-fp0.3x0.7.jpg"),
        ("w200-c0x0x1.0x1.jpg", "w200.jpg"),
        ("w200-c0.0x0.0x0.5x1.jpg", "w200-c0x0x0.5x1.jpg"),
        ("w200-c0.5x0.5x0.5x0.5.jpg", "w200-c0.5x0.5x0.5x0.5.jpg"),
        ("w200-c0x0x1.0x0.5.jpg", "w200-c0x0x1x0.5.jpg"),
        ("w200-c0010x020x300x200.jpg", "w200-c10x20x300x200.jpg"),
        ("w200-trim10.jpg", "w200-trim.jpg"),
        ("w200-sharpen1.0.jpg", "w200-sharpen.jpg"),
        ("w200-blur2.50.jpg", "w200-blur2.5.jpg"),
        ("w200-bgFF8800.jpg", "w200-bgff8800.jpg"),
        ("w200-bgff8800ff.png", "w200-bgff8800.png"),
        ("w200-flop-flip.jpg", "w200-flip-flop.jpg"),
        ("w200-b9000-q70.jpg", "w200-q70-b9000.jpg"),
        ("w200-wmlogo-blur1.jpg", "w200-blur1-wmlogo.jpg"),
        ("placeholder.PNG", "placeholder.png"),
    ],
)
def test_non_canonical_spelling(spelling: str, canonical: str) -> None:
    transform = parse_token(spelling)
    assert transform.token() == canonical
    assert parse_token(canonical) == transform


@pytest.mark.parametrize(
    ("token", "field", "expected", "received"),
    [
        ("w200", "token", "SIZE[-OPTIONS][@Nx].FORMAT", "'w200'"),
        (".jpg", "token", "SIZE[-OPTIONS][@Nx].FORMAT", "'.jpg'"),
        ("q50.jpg", "size", "wN, hN, xN or WxH", "'q50'"),
        ("w-200.jpg", "size", "wN, hN, xN or WxH", "'w'"),
        ("x0.jpg", "size", "1-8192", "'0'"),
        ("w0.jpg", "width", "1-8192", "'0'"),
        ("w8193.jpg", "width", "1-8192", "'8193'"),
        ("0x200.jpg", "width", "1-8192", "'0'"),
        ("w99999999999999999999.jpg", "width", "1-8192", "'99999999999999999999'"),
        ("h0.jpg", "height", "1-8192", "'0'"),
        ("200x9000.jpg", "height", "1-8192", "'9000'"),
        ("w200-q0.jpg", "quality", "q1-q100", "'q0'"),
        ("w200-q101.jpg", "quality", "q1-q100", "'q101'"),
        ("w200-q.jpg", "quality", "q1-q100", "'q'"),
        ("w200-q5x.jpg", "quality", "q1-q100", "'q5x'"),
        ("w200@0x.jpg", "density", "@1x to @3x", "'@0x'"),
        ("w200@4x.jpg", "density", "@1x to @3x", "'@4x'"),
        ("w200@2.jpg", "density", "@1x to @3x", "'@2'"),
        ("w200@.jpg", "density", "@1x to @3x", "'@'"),
        ("w200.bmp", "format", "jpg, png, webp, gif, avif", "'bmp'"),
        ("w200.pdf", "format", "jpg, png, webp, gif, avif", "'pdf'"),
        ("w200-crop.jpg", "crop", "cLEFTxTOPxWIDTHxHEIGHT", "'crop'"),
        ("w200-.jpg", "option", "fit, smart, pad, force, gN", "''"),
        ("w200-zoom.jpg", "option", "(once each)", "'zoom'"),
        ("w200-q5-q6.jpg", "option", "once each", "'q6'"),
        ("w200-p0.jpg", "page", "p1-p99999", "'p0'"),
        ("w200-p100000.jpg", "page", "p1-p99999", "'p100000'"),
        ("w200-p.jpg", "page", "p1-p99999", "'p'"),
        ("w200-p2x.jpg", "page", "p1-p99999", "'p2x'"),
        ("w200-p2-p3.jpg", "option", "once each", "'p3'"),
        ("x200-fit-smart.jpg", "fit", "one of fit, smart, pad or force", "both 'fit' and 'smart'"),
        ("x200-smart-smart.jpg", "fit", "fit, smart, pad or force", "both 'smart' and 'smart'"),
        ("x200-pad-force.jpg", "fit", "fit, smart, pad or force", "both 'pad' and 'force'"),
        ("w200-pad.jpg", "pad", "a box size (xN or WxH)", "'w200'"),
        ("h200-force.jpg", "force", "a box size (xN or WxH)", "'h200'"),
        ("x200-gx.jpg", "gravity", "gn, gne, ge", "'gx'"),
        ("x200-g.jpg", "gravity", "gn, gne, ge", "'g'"),
        ("w200-gn.jpg", "gravity", "a box crop", "'w200'"),
        ("x200-fit-gn.jpg", "gravity", "a box crop", "'x200-fit'"),
        ("x200-fp1.5x0.5.jpg", "focal", "fractions 0-1", "'fp1.5x0.5'"),
        ("x200-fp0.5.jpg", "focal", "fpXxY", "'fp0.5'"),
        ("x200-gn-fp0.2x0.2.jpg", "focal", "either a gravity or a focal point", "both"),
        ("w200-c0x0x0x10.jpg", "crop", "in pixels", "'c0x0x0x10'"),
        ("w200-c1x2x3.jpg", "crop", "in pixels", "'c1x2x3'"),
        ("w200-c0.5x0x0.6x1.jpg", "crop", "fractions", "'c0.5x0x0.6x1'"),
        ("w200-c0x0x100001x10.jpg", "crop", "in pixels", "'c0x0x100001x10'"),
        ("w200-trim0.jpg", "trim", "trim1-trim255", "'trim0'"),
        ("w200-trim256.jpg", "trim", "trim1-trim255", "'trim256'"),
        ("w200-r45.jpg", "rotate", "r90, r180 or r270", "'r45'"),
        ("w200-r0.jpg", "rotate", "r90, r180 or r270", "'r0'"),
        ("w200-blur0.1.jpg", "blur", "blur0.3-blur100", "'blur0.1'"),
        ("w200-blur.jpg", "blur", "blur0.3-blur100", "'blur'"),
        ("w200-blur101.jpg", "blur", "blur0.3-blur100", "'blur101'"),
        ("w200-sharpen11.jpg", "sharpen", "sharpen0.3-10", "'sharpen11'"),
        ("w200-bgred.jpg", "background", "bgRRGGBB", "'bgred'"),
        ("w200-bg12345.jpg", "background", "bgRRGGBB", "'bg12345'"),
        ("w200-bg00000080.jpg", "background", "jpg has no alpha", "'bg00000080'"),
        ("w200-wmLogo.jpg", "watermark", "wmNAME", "'wmLogo'"),
        ("w200-wm.jpg", "watermark", "wmNAME", "'wm'"),
        ("w200-b100.jpg", "max_bytes", "b1024-b104857600", "'b100'"),
        ("w200-b50000.png", "max_bytes", "png has no quality setting", "'b50000'"),
        ("w200-lossless.jpg", "lossless", "webp or avif", "jpg"),
        ("w200-lossless.auto", "lossless", "webp or avif", "auto"),
        ("w200-baseline.png", "baseline", "expected jpg", "png"),
        ("w200-keep.gif", "keep_metadata", "jpg or png", "gif"),
        ("w200-lossless-q50.webp", "lossless", "no qN or bN", ""),
        ("w200-interlace.webp", "interlace", "png or gif", "webp"),
        ("w200-flip-flip.jpg", "option", "once each", "'flip' after 'flip'"),
        ("w200-interlace-progressive.png", "option", "once each", "'progressive'"),
        ("w200-fit.jpg", "fit", "a box size (xN or WxH)", "'w200'"),
        ("h200-smart.jpg", "smart", "a box size (xN or WxH)", "'h200'"),
        ("x200-q50.png", "quality", "png has no quality setting", "'q50'"),
        ("w200-q50.gif", "quality", "gif has no quality setting", "'q50'"),
        ("w5000@2x.jpg", "width", "at most 8192 px after density @2x", "10000"),
        ("h2731@3x.png", "height", "at most 8192 px after density @3x", "8193"),
    ],
)
def test_invalid_token(token: str, field: str, expected: str, received: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_token(token)
    message = caught.value.message
    assert caught.value.status == 400
    assert message.startswith(f"{field}: ")
    assert expected in message
    assert f"got {received}" in message


def test_max_side_is_a_parameter() -> None:
    assert parse_token("x200.jpg", max_side=200) == Transform(200, 200, "jpg")
    expected = r"^width: expected at most 200 px after density @2x, got 202$"
    with pytest.raises(BadRequest, match=expected):
        parse_token("x101@2x.jpg", max_side=200)


DECIMALS = st.integers(0, 1000).map(lambda n: n / 1000)  # fractions with at most 3 decimals


@st.composite
def crops(draw: st.DrawFn) -> Crop | None:
    if draw(st.booleans()):
        box = [draw(st.integers(0, 5000)) for _ in range(2)]
        return Crop(*box, draw(st.integers(1, 5000)), draw(st.integers(1, 5000)))
    left, top = draw(DECIMALS), draw(DECIMALS)
    width = (
        draw(st.integers(1, round((1 - left) * 1000)).map(lambda n: n / 1000)) if left < 1 else 0
    )
    height = draw(st.integers(1, round((1 - top) * 1000)).map(lambda n: n / 1000)) if top < 1 else 0
    if not (width and height) or (left, top, width, height) == (0, 0, 1, 1):
        return None
    return Crop(left, top, width, height, fractions=True)


@st.composite
def transforms(draw: st.DrawFn) -> Transform:
    """Any valid Transform: every option, where the format and the size allow it."""
    if draw(st.integers(0, 20)) == 0:
        return Transform(
            None, None, draw(st.sampled_from(sorted(OUTPUT_FORMATS))), placeholder=True
        )
    density = draw(st.integers(1, MAX_DENSITY))
    sides = st.integers(1, MAX_SIDE // density)
    shape = draw(st.sampled_from(["width", "height", "box"]))
    width = None if shape == "height" else draw(sides)
    height = None if shape == "width" else draw(sides)
    fmt = draw(st.sampled_from([*sorted(OUTPUT_FORMATS), AUTO_FORMAT]))
    has_quality = fmt == AUTO_FORMAT or OUTPUT_FORMATS[fmt].default_quality is not None
    has_alpha = fmt == AUTO_FORMAT or OUTPUT_FORMATS[fmt].alpha

    def accepts(choice: str) -> bool:
        candidates = ("jpg", "webp", "avif", "png") if fmt == AUTO_FORMAT else (fmt,)
        return all(OUTPUT_FORMATS[f].accepts(choice) for f in candidates)

    lossless = accepts("lossless") and draw(st.booleans())
    fit = draw(st.sampled_from(Fit)) if shape == "box" else Fit.CROP
    boxed = shape == "box" and fit is Fit.CROP
    placed = draw(st.sampled_from(["none", "gravity", "focal"])) if boxed else "none"
    focal = (draw(DECIMALS), draw(DECIMALS)) if placed == "focal" else None
    colour = st.from_regex(
        r"[0-9a-f]{6}" + ("([0-9a-e][0-9a-f]|f[0-9a-e])?" if has_alpha else ""), fullmatch=True
    )
    return Transform(
        width,
        height,
        fmt,
        fit=fit,
        quality=draw(st.none() | st.integers(1, 100)) if has_quality and not lossless else None,
        density=density,
        page=draw(st.integers(1, 3) | st.integers(1, MAX_PAGE)),
        gravity=draw(st.sampled_from(Gravity)) if placed == "gravity" else Gravity.CENTRE,
        focal=None if focal == (0.5, 0.5) else focal,
        crop=draw(crops()) if draw(st.booleans()) else None,
        trim=draw(st.none() | st.integers(1, 255)),
        rotate=draw(st.sampled_from([0, 90, 180, 270])),
        flip=draw(st.booleans()),
        flop=draw(st.booleans()),
        blur=draw(st.none() | st.integers(300, 100_000).map(lambda n: n / 1000)),
        sharpen=draw(st.none() | st.integers(300, 10_000).map(lambda n: n / 1000)),
        background=draw(st.none() | colour),
        watermark=draw(st.none() | st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True)),
        max_bytes=draw(st.none() | st.integers(1024, 100 * 1024 * 1024))
        if has_quality and not lossless
        else None,
        lossless=lossless,
        interlace=accepts("interlace") and draw(st.booleans()),
        baseline=accepts("baseline") and draw(st.booleans()),
        keep_metadata=accepts("keep_metadata") and draw(st.booleans()),
    )


@given(transforms())
def test_token_round_trips(transform: Transform) -> None:
    assert parse_token(transform.token()) == transform


# Near-misses of the grammar reach every branch of the parser far more often than free text.
TOKEN_LIKE = st.from_regex(
    r"([whx0-9]{0,8}|placeholder)(-(fit|smart|pad|force|flip|flop|keep|lossless|interlace"
    r"|progressive|g[nesw]{0,3}|fp[0-9.x]{0,9}|c[0-9.x]{0,16}|trim[0-9]{0,4}|r[0-9]{0,4}"
    r"|blur[0-9.]{0,6}|sharpen[0-9.]{0,5}|bg[0-9a-fA-F]{0,9}|wm[a-z_]{0,5}|q[0-9]{0,4}"
    r"|b[0-9]{0,10}|p[0-9]{0,6}|[a-zQ]{1,3})){0,6}(@[0-9]{0,3}x?)?\.[a-zA-Z]{0,5}",
    fullmatch=True,
)


@settings(max_examples=500)
@given(st.text() | TOKEN_LIKE)
def test_any_text_parses_to_a_canonical_transform_or_bad_request(text: str) -> None:
    try:
        transform = parse_token(text)
    except BadRequest:
        return
    canonical = transform.token()
    assert parse_token(canonical) == transform
    assert parse_token(canonical).token() == canonical


def test_parse_tokens_comma_list() -> None:
    assert parse_tokens(" w200.jpg, x100-smart.webp,,h50@2x.png ,") == [
        Transform(200, None, "jpg"),
        Transform(100, 100, "webp", fit=Fit.SMART),
        Transform(None, 50, "png", density=2),
    ]


@pytest.mark.parametrize("text", ["", " ", ",", " , ,"])
def test_parse_tokens_empty(text: str) -> None:
    assert parse_tokens(text) == []


def test_parse_tokens_refuses_the_whole_list_for_one_bad_token() -> None:
    with pytest.raises(BadRequest, match=r"^width: expected an integer 1-8192, got '0'$"):
        parse_tokens("w200.jpg,w0.jpg,x100.webp")


def test_parse_tokens_applies_max_side() -> None:
    with pytest.raises(BadRequest, match=r"^width: "):
        parse_tokens("w100.jpg,w300.jpg", max_side=200)
