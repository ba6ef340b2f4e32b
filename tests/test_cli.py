"""The command line: --help documents every setting, bad configuration exits 2, serve serves."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from imageserver_cli.main import build_parser, main

from imageserver import settings
from tests.conftest import ROOT


def test_serve_help_lists_every_setting_with_its_env_and_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag, env, default, _ in settings.describe():
        assert flag in text
        assert env in text
        assert f"default: {default}" in text


def test_configuration_doc_documents_every_setting() -> None:
    readme = (ROOT / "docs" / "configuration.md").read_text()
    for flag, env, default, help_text in settings.describe():
        assert f"| `{flag}` | `{env}` | {default} | {help_text} |" in readme


def test_bad_configuration_exits_2_and_names_every_problem(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGESERVER_MAX_PIXELS", "lots")
    assert main(["serve", "--port", "0", "--render-queue", "-1"]) == 2
    err = capsys.readouterr().err
    assert "max_pixels" in err
    assert "port" in err
    assert "render_queue" in err


def test_serve_runs_the_server(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "imageserver_cli.main", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--storage", str(tmp_path / "data")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = _get_when_up(f"http://127.0.0.1:{port}/")
        assert json.loads(body)["name"] == "imageserver"
        assert (tmp_path / "data").is_dir()
    finally:
        process.terminate()
        process.wait(timeout=10)


def _get_when_up(url: str) -> bytes:
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return resp.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
