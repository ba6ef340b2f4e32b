"""Output tokens: accepted spellings, the one canonical spelling, and one refusal per field."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imageserver.errors import BadRequest
from imageserver.formats import OUTPUT_FORMATS
from imageserver.transform import MAX_DENSITY, MAX_PAGE, Fit, Transform, parse_token, parse_tokens

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
        ("w200-crop.jpg", "option", "fit, smart, qN or pN", "'crop'"),
        ("w200-.jpg", "option", "fit, smart, qN or pN", "''"),
        ("w200-q5-q6.jpg", "option", "once each", "'q6'"),
        ("w200-p0.jpg", "page", "p1-p99999", "'p0'"),
        ("w200-p100000.jpg", "page", "p1-p99999", "'p100000'"),
        ("w200-p.jpg", "page", "p1-p99999", "'p'"),
        ("w200-p2x.jpg", "page", "p1-p99999", "'p2x'"),
        ("w200-p2-p3.jpg", "option", "once each", "'p3'"),
        ("x200-fit-smart.jpg", "fit", "one of fit or smart", "both 'fit' and 'smart'"),
        ("x200-smart-smart.jpg", "fit", "one of fit or smart", "both 'smart' and 'smart'"),
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


@st.composite
def transforms(draw: st.DrawFn) -> Transform:
    """Any valid Transform: sides within the limit after density, quality only where it exists."""
    density = draw(st.integers(1, MAX_DENSITY))
    sides = st.integers(1, MAX_SIDE // density)
    shape = draw(st.sampled_from(["width", "height", "box"]))
    width = None if shape == "height" else draw(sides)
    height = None if shape == "width" else draw(sides)
    fmt = draw(st.sampled_from(sorted(OUTPUT_FORMATS)))
    has_quality = OUTPUT_FORMATS[fmt].default_quality is not None
    return Transform(
        width,
        height,
        fmt,
        fit=draw(st.sampled_from(Fit)) if shape == "box" else Fit.CROP,
        quality=draw(st.none() | st.integers(1, 100)) if has_quality else None,
        density=density,
        page=draw(st.integers(1, 3) | st.integers(1, MAX_PAGE)),
    )


@given(transforms())
def test_token_round_trips(transform: Transform) -> None:
    assert parse_token(transform.token()) == transform


# Near-misses of the grammar reach every branch of the parser far more often than free text.
TOKEN_LIKE = st.from_regex(
    r"[whx0-9]{0,8}(-(fit|smart|q[0-9]{0,4}|p[0-9]{0,6}|[a-zQ]{1,3})){0,4}(@[0-9]{0,3}x?)?"
    r"\.[a-zA-Z]{0,5}",
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
