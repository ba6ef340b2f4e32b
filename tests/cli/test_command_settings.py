"""Each command offers as flags the settings it reads, and only those; env and --config still
give it every setting, and the wanelo seed's global flags still work before any command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from imageserver_cli.arguments import settings_flags
from imageserver_cli.main import build_parser, main
from imageserver_cli.setting_groups import ALL, COMMAND_SETTINGS, HTTP_ONLY

from imageserver import settings
from imageserver.settings import Settings
from tests.cli.runner import parse_lines
from tests.conftest import IMAGES

# Read by `process` but never used there: the services build them for every caller.
BUILT_FOR_THE_SERVER = {
    "allow_private_sources",  # the source fetcher: process reads files, never URLs
    "source_allowed_hosts",
    "source_timeout_s",
    "url_signing_keys",  # the signature verifier of requested URLs
    "url_signature_bytes",
    "fallback_image",  # answered instead of failed outputs over HTTP
    "memory_cache_bytes",  # process sets these itself (process.batch_settings)
    "memory_cache_item_bytes",
    "render_queue",
    "s3_serve",  # how stored outputs are answered: S3's config slice is built whole
    "s3_public_url",
    "s3_presign_ttl_s",
}


def help_text(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return capsys.readouterr().out


def test_process_help_offers_storage_limits_and_outputs_but_not_serving(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_text("process", capsys)
    for flag in ("--storage", "--max-pixels", "--s3-endpoint-url", "--namespace-outputs"):
        assert flag in text
    for flag in ("--md5-namespaces", "--vips-concurrency", "--log-level", "--config"):
        assert flag in text
    for flag in ("--port", "--host", "--api-key", "--jobs-url", "--cors-origins", "--admin"):
        assert flag not in text


def test_a_serving_flag_is_a_usage_error_for_process() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["process", str(IMAGES / "grid.jpg"), "--port", "8080"])
    assert exited.value.code == 2


def test_every_group_names_real_settings_and_serve_offers_all() -> None:
    assert HTTP_ONLY <= ALL
    assert all(names <= ALL for names in COMMAND_SETTINGS.values())
    assert COMMAND_SETTINGS["serve"] == ALL
    assert not COMMAND_SETTINGS["process"] & HTTP_ONLY
    assert not COMMAND_SETTINGS["worker"] & HTTP_ONLY


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The settings the command then run reads from its Settings (settings.load's answer)."""
    found: set[str] = set()

    class Recording(Settings):
        def __getattribute__(self, name: str) -> Any:
            # dataclasses.replace copies every field: a copy is not a use
            if name in ALL and sys._getframe(1).f_globals.get("__name__") != "dataclasses":
                found.add(name)
            return super().__getattribute__(name)

    load = settings.load

    def recorded(*args: Any, **kwargs: Any) -> Settings:
        loaded = load(*args, **kwargs)
        return Recording(**{name: getattr(loaded, name) for name in ALL})

    monkeypatch.setattr(settings, "load", recorded)
    for name in ALL:  # the caller's env must not change what is read
        monkeypatch.delenv(settings.env_name(name), raising=False)
    return found


def as_flags(overrides: dict[str, Any]) -> list[str]:
    return [f"--{name.replace('_', '-')}={value}" for name, value in overrides.items()]


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_every_setting_process_uses_is_a_flag(
    backend: str,
    reads: set[str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    storage = {"storage": str(tmp_path / "data")}
    if backend == "s3":
        storage = request.getfixturevalue("s3_settings")
    outputs = ["--outputs", "w100.jpg", "--namespace-outputs", "p=x50.webp"]
    inputs = [str(IMAGES / name) for name in ("grid.jpg", "AutoCad_Diagram.pdf", "anim.gif")]
    assert main(["process", *inputs, *outputs, *as_flags(storage)]) == 0
    assert len(parse_lines(capsys.readouterr().out)) == 3
    if backend == "s3":
        assert {"s3_endpoint_url", "s3_timeout_s"} <= reads
    assert {"storage", "max_pixels", "namespace_outputs", "pdf_workers"} <= reads
    assert reads - BUILT_FOR_THE_SERVER <= COMMAND_SETTINGS["process"]


def test_every_setting_render_and_url_use_is_a_flag(
    reads: set[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "out")
    assert main(["render", str(IMAGES / "grid.jpg"), "w100.jpg", "w50.webp", "-o", out]) == 0
    assert {"max_pixels", "vips_concurrency"} <= reads
    assert reads <= COMMAND_SETTINGS["render"]
    reads.clear()
    assert main(["url", "p", "0123456789abcdef0123456789abcdef", "w100.jpg"]) == 0
    assert reads <= COMMAND_SETTINGS["url"]
    assert "url_signing_keys" in reads
    capsys.readouterr()


def test_a_serve_config_file_works_for_process_flags_or_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One TOML for every command: settings process does not offer are read and left unused."""
    config = tmp_path / "imageserver.toml"
    data = tmp_path / "from-toml"
    config.write_text(f'port = 8081\napi_keys = ["k"]\nstorage = "{data}"\nmax_pixels = 10000\n')
    monkeypatch.delenv("IMAGESERVER_STORAGE", raising=False)
    assert main(["process", str(IMAGES / "grid.jpg"), "--config", str(config)]) == 1
    (line,) = parse_lines(capsys.readouterr().out)
    assert line["error"] == "over_limit"  # the file's max_pixels, in force
    assert main(["process", str(IMAGES / "small.png"), "--config", str(config)]) == 0
    assert (data / "p").is_dir()  # the file's storage


def test_a_setting_offered_by_no_flag_still_comes_from_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IMAGESERVER_S3_PRESIGN_TTL_S", "60")
    args = build_parser().parse_args(["worker"])
    assert "s3_presign_ttl_s" not in vars(args)
    assert settings.load(settings_flags(args)).s3_presign_ttl_s == 60


def test_seed_global_flags_a_command_does_not_offer_are_dropped_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`images --port 8080 process f` ran in the wanelo seed, whose flags were global."""
    image = str(IMAGES / "grid.jpg")
    argv = ["--port", "8080", "--http_timeout", "3", "process", image]
    assert main([*argv, "--storage", str(tmp_path / "data")]) == 0
    captured = capsys.readouterr()
    assert len(parse_lines(captured.out)) == 1
    assert "--port has no effect on process" in captured.err
    assert "--source-timeout-s has no effect on process" in captured.err
