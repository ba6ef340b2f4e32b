"""Named presets: a leading name expands to its stem, options and density may follow it."""

from __future__ import annotations

import pytest

from imageserver.errors import BadRequest
from imageserver.presets import expand, is_preset, name_problem
from imageserver.settings import SettingsError, load
from imageserver.transform import Fit, Transform, parse_token

PRESETS = {"small": "w150", "header": "1200x400-smart", "big_2": "w1200-q70"}


@pytest.mark.parametrize(
    ("token", "expanded"),
    [
        ("small.jpg", "w150.jpg"),
        ("small-p3.webp", "w150-p3.webp"),
        ("small@2x.png", "w150@2x.png"),
        ("header-q50.jpg", "1200x400-smart-q50.jpg"),
        ("big_2.avif", "w1200-q70.avif"),
        # not a preset: left for the parser, which knows the grammar
        ("w150.jpg", "w150.jpg"),
        ("smaller.jpg", "smaller.jpg"),
        ("small", "small"),
        ("smallx.jpg", "smallx.jpg"),
        ("Small.jpg", "Small.jpg"),
        ("", ""),
    ],
)
def test_expand(token: str, expanded: str) -> None:
    assert expand(token, PRESETS) == expanded
    assert is_preset(token, PRESETS) == (token != expanded)


def test_parse_token_expands_the_namespace_presets() -> None:
    assert parse_token("header-p2.webp", presets=PRESETS) == Transform(
        1200, 400, "webp", fit=Fit.SMART, page=2
    )
    assert parse_token("small.jpg", presets=PRESETS).token() == "w150.jpg"


def test_a_preset_conflicting_with_its_options_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match=r"^option: .*once each.*'q50'"):
        parse_token("big_2-q50.jpg", presets=PRESETS)


def test_without_presets_a_name_is_a_bad_size() -> None:
    with pytest.raises(BadRequest, match=r"^size: expected wN, hN, xN or WxH, got 'small'$"):
        parse_token("small.jpg")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("small", None),
        ("x", None),
        ("header_2", None),
        ("w150", "reads as a size"),
        ("x20", "reads as a size"),
        ("2small", "expected a name"),
        ("Small", "expected a name"),
        ("sm-all", "expected a name"),
        ("a" * 33, "expected a name"),
    ],
)
def test_name_problem(name: str, problem: str | None) -> None:
    found = name_problem(name)
    if problem is None:
        assert found is None
    else:
        assert problem in (found or "")


OPTION_PRESETS = {
    "thumb": "x200-smart-sharpen",
    "hero": "w1200-c0x0.1x1x0.8-blur20-q60-b150000",
    "card": "400x300-pad-bg000000-wmlogo",
    "icon": "x64-lossless",
    "tilted": "w300-r90-flip-keep",
}


@pytest.mark.parametrize(
    ("token", "canonical"),
    [
        ("thumb.jpg", "x200-smart-sharpen.jpg"),
        ("thumb-q50@2x.webp", "x200-smart-sharpen-q50@2x.webp"),
        ("hero.jpg", "w1200-c0x0.1x1x0.8-blur20-q60-b150000.jpg"),
        ("card.png", "400x300-pad-bg000000-wmlogo.png"),
        ("icon.webp", "x64-lossless.webp"),
        ("tilted-p2.jpg", "w300-r90-flip-keep-p2.jpg"),
    ],
)
def test_presets_name_any_option(token: str, canonical: str) -> None:
    """`thumb = "x200-smart-sharpen"`: a preset's stem takes every option a token does."""
    assert parse_token(token, presets=OPTION_PRESETS).token() == canonical


def test_a_preset_s_options_are_checked_against_the_format() -> None:
    with pytest.raises(BadRequest, match=r"^lossless: expected webp or avif, got jpg$"):
        parse_token("icon.jpg", presets=OPTION_PRESETS)


def test_settings_take_presets_with_options() -> None:
    settings = load(
        env={"IMAGESERVER_NAMESPACE_PRESETS": "p=thumb:x200-smart-sharpen,icon:x64-lossless"}
    )
    assert settings.namespace_presets["p"] == {
        "thumb": "x200-smart-sharpen",
        "icon": "x64-lossless",
    }
    with pytest.raises(SettingsError, match=r"blur: expected blur0\.3-blur100"):
        load(env={"IMAGESERVER_NAMESPACE_PRESETS": "p=soft:w200-blur0"})
