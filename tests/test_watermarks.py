"""Watermark settings: their spellings (flag, env, TOML), start-up checks, and where a
watermark goes on an output (pure: no pixels here; tests/test_render_watermark.py has those)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageserver import settings, watermarks
from imageserver.errors import BadRequest
from imageserver.jobs.request import parse_ingest_params
from imageserver.keys import ImageKey
from imageserver.transform import parse_token
from imageserver.watermarks import Watermark

HASH = "6e0072682e66287b662827da75b244a3"
LOGO = Watermark(f"brand/{HASH}", "se", 0.2, 0.5)


def test_flag_and_env_spell_every_field_or_leave_them_default() -> None:
    text = f"logo=brand/{HASH}:se:0.2:0.5; badge=brand/_/badge:nw::0.8:6"
    for loaded in (
        settings.load({"watermarks": text}, env={}),
        settings.load(env={"IMAGESERVER_WATERMARKS": text}),
    ):
        assert loaded.watermarks == {
            "logo": LOGO,
            "badge": Watermark("brand/_/badge", "nw", 0.2, 0.8, 6),
        }
    assert settings.load({"watermarks": "w=brand/_/w"}, env={}).watermarks["w"] == Watermark(
        "brand/_/w", "se", 0.2, 1.0, 0
    )


def test_toml_takes_tables_or_the_flag_form(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[watermarks.logo]\nsource = "brand/{HASH}"\nposition = "se"\nscale = 0.2\n'
        'opacity = 0.5\n[watermarks]\nbadge = "brand/_/badge:c"\n'
    )
    loaded = settings.load(env={}, config_path=str(config))
    assert loaded.watermarks == {"logo": LOGO, "badge": Watermark("brand/_/badge", "c")}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("logo", "expected 'name=namespace/HASH:se:0.2:0.5'"),
        ("logo=a:b:c:d:e:f", "expected SOURCE[:POSITION"),
        (f"logo=brand/{HASH}:se:big", "logo: scale: expected a number, got 'big'"),
        (f"logo=brand/{HASH}:se:0.2:0.5:1.5", "margin: expected a number"),
        ("Logo=brand/_/x", "Logo: expected a name matching"),
        ("logo=brand/abc", "source: expected namespace/HASH (32 hex digits)"),
        ("logo=Brand/_/x", "namespace: expected"),
        ("logo=brand/_/a.b", "source name: expected 1-64"),
        (f"logo=brand/{HASH}:top", "position: expected one of c, n, ne, e, se, s, sw, w, nw"),
        (f"logo=brand/{HASH}:se:0", "scale: expected a fraction of the output's width, 0-1"),
        (f"logo=brand/{HASH}:se:1.5", "scale: expected a fraction"),
        (f"logo=brand/{HASH}:se:0.2:0", "opacity: expected more than 0, at most 1"),
        (f"logo=brand/{HASH}:se:0.2:1:-1", "margin: expected 0-1000 px"),
    ],
)
def test_bad_watermarks_are_refused_at_start_naming_the_field(text: str, named: str) -> None:
    with pytest.raises(settings.SettingsError, match="watermarks") as raised:
        settings.load({"watermarks": text}, env={})
    assert named in str(raised.value)


def test_a_toml_table_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(settings.SettingsError, match="unknown field 'alpha'"):
        settings.load({"watermarks": {"logo": {"source": f"b/{HASH}", "alpha": 1}}}, env={})


def test_every_problem_of_a_watermark_is_listed_together() -> None:
    with pytest.raises(settings.SettingsError) as raised:
        settings.load({"watermarks": "logo=brand/abc:up:2:0"}, env={})
    assert len(str(raised.value).splitlines()) == 4


def test_outputs_and_presets_may_name_only_configured_watermarks() -> None:
    known = f"logo=brand/{HASH}"
    settings.load(
        {
            "watermarks": known,
            "namespace_presets": "p=thumb:x200-wmlogo",
            "namespace_outputs": "p=w100-wmlogo.jpg",
            "upload_outputs": "w50-wmlogo.jpg",
        },
        env={},
    )
    with pytest.raises(settings.SettingsError) as raised:
        settings.load(
            {
                "namespace_presets": "p=thumb:x200-wmlogo",
                "namespace_outputs": "p=w100-wmlogo.jpg",
                "upload_outputs": "w50-wmlogo.jpg",
            },
            env={},
        )
    lines = str(raised.value).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "namespace_outputs",
        "upload_outputs",
        "namespace_presets",
    ]
    assert all("watermark: expected one of none configured, got 'logo'" in x for x in lines)


def test_check_known_names_the_configured_ones() -> None:
    watermarks.check_known([parse_token("w200.jpg"), parse_token("w200-wmlogo.jpg")], {"logo": 1})
    with pytest.raises(BadRequest, match="expected one of badge, logo, got 'nope'") as raised:
        watermarks.check_known([parse_token("w200-wmnope.jpg")], {"logo": 1, "badge": 2})
    assert raised.value.code == "bad_watermark"


def test_source_keys() -> None:
    assert watermarks.source_key(f"brand/{HASH}") == ImageKey("brand", HASH)
    assert watermarks.source_key("brand/_/logo") == ImageKey("brand", "logo", named=True)
    assert watermarks.source_key("brand/_/logo").original == "brand/_/logo/original"


@pytest.mark.parametrize(
    ("position", "margin", "expected"),
    [
        ("nw", 0, (0, 0)),
        ("n", 0, (35, 0)),
        ("ne", 5, (65, 5)),
        ("e", 5, (65, 20)),
        ("se", 5, (65, 35)),
        ("s", 5, (35, 35)),
        ("sw", 5, (5, 35)),
        ("w", 5, (5, 20)),
        ("c", 5, (35, 20)),
    ],
)
def test_place_by_compass_position(position: str, margin: int, expected: tuple[int, int]) -> None:
    """A 30x20 watermark on a 100x60 output."""
    mark = Watermark("b/_/x", position, margin=margin)
    assert watermarks.place(100, 60, 30, 20, mark) == expected


def test_place_keeps_the_watermark_on_the_output_whatever_the_margin() -> None:
    mark = Watermark("b/_/x", "se", margin=50)
    assert watermarks.place(100, 60, 90, 50, mark) == (5, 5)


@pytest.mark.parametrize(
    ("size", "scale", "margin", "expected"),
    [
        ((400, 300), 0.2, 0, (80, 300)),
        ((400, 300), 1.0, 10, (380, 280)),
        ((10, 10), 0.01, 0, (1, 10)),  # at least a pixel
        ((20, 20), 1.0, 30, (1, 1)),  # a margin wider than the output
    ],
)
def test_box_is_a_fraction_of_the_width_within_the_margins(
    size: tuple[int, int], scale: float, margin: int, expected: tuple[int, int]
) -> None:
    mark = Watermark("b/_/x", scale=scale, margin=margin)
    assert watermarks.box(*size, mark) == expected


def test_an_ingest_job_naming_an_unknown_watermark_is_refused_at_submit() -> None:
    configured = settings.load({"watermarks": f"logo=brand/{HASH}"}, env={})
    body = {"namespace": "p", "source": "https://example.com/a.jpg", "outputs": ["w100-wmlogo.jpg"]}
    assert parse_ingest_params(body, configured)["outputs"] == ["w100-wmlogo.jpg"]
    with pytest.raises(BadRequest, match="got 'nope'"):
        parse_ingest_params({**body, "outputs": ["w100-wmnope.jpg"]}, configured)
