"""Settings: defaults, precedence of flags > env > TOML > defaults, coercion, and documentation."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from imageserver.jobs.config import JobsConfig
from imageserver.settings import (
    Settings,
    SettingsError,
    add_arguments,
    describe,
    env_name,
    load,
)
from imageserver.settings_parsers import Bounds, bounds_problems, field_bounds, to_float, to_int
from imageserver.storage.s3_config import S3Config

FIELD_NAMES = [f.name for f in dataclasses.fields(Settings)]
NUMBERS = (to_int, to_float)


def _toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "imageserver.toml"
    path.write_text(text)
    return str(path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imageserver", formatter_class=lambda prog: argparse.HelpFormatter(prog, width=100)
    )
    add_arguments(parser)
    return parser


def _from_flags(*argv: str) -> Settings:
    return load(vars(_parser().parse_args(argv)), env={})


def test_defaults() -> None:
    settings = load(env={})
    assert settings == Settings()
    assert (settings.host, settings.port, settings.storage) == ("127.0.0.1", 7000, "./data")
    assert settings.api_keys == []
    assert settings.namespace_outputs == {}
    assert settings.allow_private_sources is False
    assert settings.max_output_side == 8192


def test_mutable_defaults_are_not_shared() -> None:
    assert Settings().api_keys is not Settings().api_keys
    assert Settings().namespace_outputs is not Settings().namespace_outputs


@pytest.mark.parametrize(
    ("layers", "expected_port"),
    [
        pytest.param(("flags", "env", "toml"), 7003, id="flags-win"),
        pytest.param(("env", "toml"), 7002, id="env-over-toml"),
        pytest.param(("flags", "toml"), 7003, id="flags-over-toml"),
        pytest.param(("toml",), 7001, id="toml-over-default"),
        pytest.param((), 7000, id="default"),
    ],
)
def test_precedence(tmp_path: Path, layers: tuple[str, ...], expected_port: int) -> None:
    config = _toml(tmp_path, "port = 7001\nhost = '0.0.0.0'\n")
    flags = {"port": "7003"} if "flags" in layers else {}
    env = {"IMAGESERVER_PORT": "7002"} if "env" in layers else {}
    settings = load(flags, env, config if "toml" in layers else None)
    assert settings.port == expected_port
    assert settings.host == ("0.0.0.0" if "toml" in layers else "127.0.0.1")


def test_unset_flags_do_not_hide_env_or_toml(tmp_path: Path) -> None:
    config = _toml(tmp_path, "max_frames = 9\n")
    flags = vars(_parser().parse_args(["--config", config]))
    settings = load(flags, {"IMAGESERVER_PORT": "7002"})
    assert (settings.port, settings.max_frames) == (7002, 9)


def test_config_path_from_env(tmp_path: Path) -> None:
    config = _toml(tmp_path, "max_frames = 9\n")
    assert load(env={"IMAGESERVER_CONFIG": config}).max_frames == 9


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("access_log", "1", True),
        ("access_log", "true", True),
        ("access_log", " Yes ", True),
        ("access_log", "ON", True),
        ("access_log", "0", False),
        ("access_log", "false", False),
        ("access_log", "no", False),
        ("access_log", "off", False),
        ("access_log", "", False),
        ("port", "8080", 8080),
        ("max_upload_bytes", "1048576", 1048576),
        ("render_workers", "0", 0),
        ("source_timeout_s", "2.5", 2.5),
        ("source_timeout_s", "3", 3.0),
        ("storage", "/var/lib/imageserver", "/var/lib/imageserver"),
        ("statsd", "localhost:8125", "localhost:8125"),
        (
            "source_allowed_hosts",
            "a.example.com, .cdn.example.net",
            ["a.example.com", ".cdn.example.net"],
        ),
        ("api_keys", "k1,k2,,", ["k1", "k2"]),
        ("api_keys", "", []),
        (
            "namespace_outputs",
            "avatars=x100.jpg,x50.webp;p=w200.jpg",
            {"avatars": ["x100.jpg", "x50.webp"], "p": ["w200.jpg"]},
        ),
        (
            "namespace_outputs",
            " avatars = x100.jpg , x50.webp ; ",
            {"avatars": ["x100.jpg", "x50.webp"]},
        ),
        ("namespace_outputs", "", {}),
        (
            "namespace_presets",
            "docs=small:w150, header:1200x400-smart;p=thumb:x100",
            {"docs": {"small": "w150", "header": "1200x400-smart"}, "p": {"thumb": "x100"}},
        ),
    ],
)
def test_env_coercion(name: str, text: str, expected: Any) -> None:
    value = getattr(load(env={env_name(name): text}), name)
    assert value == expected
    assert type(value) is type(expected)


def test_toml_native_types_and_tables(tmp_path: Path) -> None:
    config = _toml(
        tmp_path,
        """
        access_log = true
        port = 8080
        source_timeout_s = 2
        source_allowed_hosts = ["a.example.com", ".cdn.example.net"]
        api_keys = "k1,k2"

        [namespace_outputs]
        avatars = ["x100.jpg", "x50.webp"]
        p = "w200.jpg,h100.png"
        """,
    )
    settings = load(env={}, config_path=config)
    assert settings.access_log is True
    assert settings.port == 8080
    assert settings.source_timeout_s == 2.0
    assert settings.source_allowed_hosts == ["a.example.com", ".cdn.example.net"]
    assert settings.api_keys == ["k1", "k2"]
    assert settings.namespace_outputs == {
        "avatars": ["x100.jpg", "x50.webp"],
        "p": ["w200.jpg", "h100.png"],
    }


def test_presets_from_toml_and_used_by_namespace_outputs(tmp_path: Path) -> None:
    config = _toml(
        tmp_path,
        """
        [namespace_outputs]
        docs = ["small.jpg", "header-p2.webp"]

        [namespace_presets.docs]
        small = "w150"
        header = "1200x400"
        """,
    )
    settings = load(env={}, config_path=config)
    assert settings.namespace_presets == {"docs": {"small": "w150", "header": "1200x400"}}
    with pytest.raises(SettingsError, match=r"^namespace_outputs: p: size: .*'small'"):
        load(env={"IMAGESERVER_NAMESPACE_OUTPUTS": "p=small.jpg"}, config_path=config)


def test_flags_from_argparse() -> None:
    settings = _from_flags(
        "--port", "8080",
        "--access-log",
        "--api-key", "k1",
        "--api-key", "k2,k3",
        "--source-allowed-hosts", "a.example.com",
        "--namespace-outputs", "avatars=x100.jpg,x50.webp;p=w200.jpg",
        "--source-timeout-s", "0.5",
    )  # fmt: skip
    assert settings.port == 8080
    assert settings.access_log is True
    assert settings.api_keys == ["k1", "k2", "k3"]
    assert settings.source_allowed_hosts == ["a.example.com"]
    assert settings.namespace_outputs == {"avatars": ["x100.jpg", "x50.webp"], "p": ["w200.jpg"]}
    assert settings.source_timeout_s == 0.5


def test_no_flag_turns_a_bool_off(tmp_path: Path) -> None:
    config = _toml(tmp_path, "access_log = true\n")
    assert _from_flags("--config", config, "--no-access-log").access_log is False


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    config = _toml(tmp_path, "max_pixels = 0\nlog_level = 'loud'\n")
    env = {
        "IMAGESERVER_PORT": "http",
        "IMAGESERVER_ACCESS_LOG": "maybe",
        "IMAGESERVER_SOURCE_TIMEOUT_S": "soon",
        "IMAGESERVER_STATSD": "localhost",
        "IMAGESERVER_RENDER_WORKERS": "-1",
        "IMAGESERVER_NAMESPACE_OUTPUTS": "avatars",
    }
    with pytest.raises(SettingsError) as caught:
        load(env=env, config_path=config)
    lines = str(caught.value).splitlines()
    reported = sorted(line.partition(":")[0] for line in lines)
    assert reported == sorted(
        [
            "port",
            "access_log",
            "source_timeout_s",
            "statsd",
            "render_workers",
            "namespace_outputs",
            "max_pixels",
            "log_level",
        ]
    )
    assert any(line.startswith("port: ") and "'http'" in line for line in lines)
    assert "log_level: expected debug, info, warning or error, got 'loud'" in lines


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("port", "0"),
        ("port", "65536"),
        ("port", "1.5"),
        ("max_upload_bytes", "0"),
        ("max_frames", "-3"),
        ("max_output_side", "0"),
        ("render_queue", "0"),
        ("vips_concurrency", "-1"),
        ("memory_cache_bytes", "-1"),
        ("source_timeout_s", "0"),
        ("source_timeout_s", "-1"),
        ("statsd", "localhost:"),
        ("log_level", "INFO"),
        ("pdf_workers", "-1"),
        ("pdf_page_timeout_s", "0"),
        ("pdf_max_pages", "0"),
        ("rasterize_dpi", "0"),
        ("rasterize_fallback_dpi", "-72"),
        ("rasterize_max_side", "8193"),
        ("rasterize_format", "pdf"),
        ("namespace_presets", "docs=small"),
        ("namespace_presets", "docs=w150:w150"),
        ("namespace_presets", "docs=small:w0"),
        ("namespace_presets", "docs=small:w150.jpg"),
        ("namespace_presets", "Docs=small:w150"),
    ],
)
def test_out_of_range_values_are_refused(name: str, text: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}: "):
        load(env={env_name(name): text})


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("port = true", "port"),
        ("port = [7000]", "port"),
        ("max_frames = 2.5", "max_frames"),
        ("render_workers = 1.9", "render_workers"),
        ("access_log = 'sometimes'", "access_log"),
    ],
)
def test_toml_values_of_the_wrong_type_are_refused(tmp_path: Path, line: str, name: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}: "):
        load(env={}, config_path=_toml(tmp_path, line + "\n"))


def test_unknown_toml_keys_are_refused(tmp_path: Path) -> None:
    config = _toml(tmp_path, "colour = 'red'\nport = 8080\n[server]\nhost = '::'\n")
    with pytest.raises(SettingsError) as caught:
        load(env={}, config_path=config)
    assert str(caught.value).splitlines() == [
        "unknown setting 'colour'",
        "unknown setting 'server'",
    ]


def test_unknown_env_names_are_ignored() -> None:
    assert load(env={"IMAGESERVER_COLOUR": "red", "HOME": "/root"}) == Settings()


def test_unreadable_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(SettingsError, match=f"^config file {re.escape(str(missing))}: "):
        load(env={}, config_path=str(missing))


def test_invalid_toml(tmp_path: Path) -> None:
    config = _toml(tmp_path, "port = \n")
    with pytest.raises(SettingsError, match=f"^config file {re.escape(config)}: "):
        load(env={}, config_path=config)


def test_describe_documents_every_setting() -> None:
    rows = describe()
    assert [env for _, env, _, _ in rows] == [env_name(name) for name in FIELD_NAMES]
    for flag, env, default, help_text in rows:
        assert flag.startswith("--")
        assert env.startswith("IMAGESERVER_")
        assert default
        assert help_text.strip()


def test_describe_shows_defaults() -> None:
    rows = {env: default for _, env, default, _ in describe()}
    assert rows["IMAGESERVER_PORT"] == "7000"
    assert rows["IMAGESERVER_API_KEYS"] == "(none)"
    assert rows["IMAGESERVER_STATSD"] == "''"


def test_add_arguments_gives_a_flag_for_every_setting() -> None:
    parser = _parser()
    unset = vars(parser.parse_args([]))
    assert set(unset) == {*FIELD_NAMES, "config"}
    assert all(value is None for value in unset.values())
    help_text = parser.format_help()
    for flag, env, _, _ in describe():
        assert flag in help_text
        assert env in help_text


def test_help_output(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _parser().parse_args(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for name in FIELD_NAMES:
        assert env_name(name) in out


def test_url_policies_per_namespace() -> None:
    settings = load(
        env={
            "IMAGESERVER_NAMESPACE_POLICIES": "avatars=signed;docs=presets-only",
            "IMAGESERVER_URL_SIGNING_KEYS": "k2,k1",
            "IMAGESERVER_NAMESPACE_PRESETS": "docs=small:w150",
        }
    )
    assert settings.url_signing_keys == ["k2", "k1"]
    assert [settings.policy_of(ns) for ns in ("avatars", "docs", "p")] == [
        "signed",
        "presets-only",
        "public",
    ]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"IMAGESERVER_URL_POLICY": "signed"}, "needs --url-signing-key"),
        ({"IMAGESERVER_NAMESPACE_POLICIES": "p=secret"}, "expected public, signed"),
        ({"IMAGESERVER_NAMESPACE_POLICIES": "p=presets-only"}, "needs namespace_presets"),
        ({"IMAGESERVER_URL_SIGNATURE_BYTES": "4"}, "expected 8-32"),
    ],
)
def test_url_policies_that_nobody_could_meet_are_refused(env: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError, match=problem):
        load(env=env)


def test_every_number_declares_its_bounds_in_its_type() -> None:
    """A new count or duration cannot forget its range: it is part of its declaration."""
    bounded = field_bounds(Settings)
    numbers = [f.name for f in dataclasses.fields(Settings) if f.metadata["parse"] in NUMBERS]
    assert numbers
    assert [name for name in numbers if name not in bounded] == []


def test_every_default_is_within_its_bounds_and_parses_to_itself() -> None:
    settings = Settings()
    for f in dataclasses.fields(Settings):
        value = getattr(settings, f.name)
        assert f.metadata["parse"](value) == value, f.name
    assert bounds_problems(settings) == []


@pytest.mark.parametrize(
    ("bounds", "value", "problem"),
    [
        (Bounds(above=0), 0, "must be > 0"),
        (Bounds(above=0), 0.001, None),
        (Bounds(at_least=0), -1, "must be >= 0"),
        (Bounds(at_least=0), 0, None),
        (Bounds(at_least=1, at_most=65535), 65536, "expected 1-65535, got 65536"),
        (Bounds(at_least=1, at_most=65535), 1, None),
        (Bounds(choices=("a", "b", "c")), "d", "expected a, b or c, got 'd'"),
        (Bounds(choices=("a",)), "d", "expected a, got 'd'"),
        (Bounds(choices=("a", "b")), "b", None),
    ],
)
def test_bounds_name_what_was_expected_and_what_came(
    bounds: Bounds, value: Any, problem: str | None
) -> None:
    assert bounds.problem(value) == problem


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("s3_timeout_s", "0", "s3_timeout_s: must be > 0"),
        ("job_retry_delay_s", "-1", "job_retry_delay_s: must be >= 0"),
        ("s3_presign_ttl_s", "604801", "s3_presign_ttl_s: expected 1-604800, got 604801"),
        ("s3_serve", "proxy", "s3_serve: expected stream or redirect, got 'proxy'"),
        ("url_policy", "x", "url_policy: expected public, signed or presets-only, got 'x'"),
    ],
)
def test_bounds_are_checked_at_load(name: str, text: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load(env={env_name(name): text})
    assert str(caught.value).splitlines() == [problem]


def test_a_command_may_take_only_the_settings_it_uses() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser, {"storage", "max_pixels", "access_log"})
    parsed = vars(parser.parse_args(["--storage", "/x", "--no-access-log"]))
    assert parsed == {"config": None, "storage": "/x", "max_pixels": None, "access_log": False}
    assert load(parsed, env={}).storage == "/x"
    with pytest.raises(SystemExit):
        parser.parse_args(["--port", "1"])
    with pytest.raises(ValueError, match="unknown settings: colour"):
        add_arguments(argparse.ArgumentParser(), {"storage", "colour"})


def test_s3_runs_on_every_s3_setting_and_never_shows_its_secret() -> None:
    settings = Settings(s3_access_key_id="AKIA", s3_secret_access_key="sekrit", s3_max_attempts=5)
    config = S3Config.of(settings)
    s3_names = {f.name.removeprefix("s3_") for f in dataclasses.fields(Settings)}
    assert {f.name for f in dataclasses.fields(S3Config)} <= s3_names
    assert len(dataclasses.fields(S3Config)) == len([n for n in FIELD_NAMES if n[:3] == "s3_"])
    assert (config.access_key_id, config.max_attempts) == ("AKIA", 5)
    assert "sekrit" not in repr(config)


def test_jobs_run_on_their_slice() -> None:
    settings = Settings(job_queues=["a", "b"], job_default_queue="b", storage="s3://bucket")
    config = JobsConfig.of(settings)
    assert (config.queues, config.default_queue) == (("a", "b"), "b")
    assert config.url == "sqlite:///./data/jobs.db"  # S3 keeps the jobs database local
    assert config.callback_stream_url is None
    redis = JobsConfig.of(Settings(jobs_url="redis://127.0.0.1:1/0"))
    assert redis.callback_stream_url == "redis://127.0.0.1:1/0"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"public_url": "ftp://img.example.com"}, "public_url: expected http(s)://host"),
        ({"public_url": "https://img example.com"}, "public_url: expected http(s)://host"),
        ({"cors_origins": "app.example.com"}, "cors_origins: expected '*' or an origin"),
        ({"cors_origins": "https://app.example.com/page"}, "cors_origins: expected '*'"),
    ],
)
def test_public_url_and_cors_origins_are_checked_at_start(
    overrides: dict[str, str], problem: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(problem)):
        load(flags=overrides, env={})


def test_public_url_with_a_path_and_origins_with_a_port_are_accepted() -> None:
    flags = {"public_url": "https://cdn.example.com/img/", "cors_origins": "*,http://a.test:8080"}
    settings = load(flags=flags, env={})
    assert settings.cors_origins == ["*", "http://a.test:8080"]
