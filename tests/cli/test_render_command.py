"""`imageserver render INPUT TOKEN...`: plain files named by the canonical token, no storage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pyvips
from imageserver_cli.main import main

from tests.cli.runner import run_cli
from tests.conftest import IMAGES


def json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_renders_each_token_to_a_file_named_by_its_canonical_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert (
        main(["render", str(IMAGES / "grid.jpg"), "w200.jpeg", "x100-q30.webp", "-o", str(out)])
        == 0
    )
    lines = json_lines(capsys)
    assert [line["token"] for line in lines] == ["w200.jpg", "x100-q30.webp"]
    assert sorted(p.name for p in out.iterdir()) == ["grid-w200.jpg", "grid-x100-q30.webp"]
    first = pyvips.Image.new_from_file(str(out / "grid-w200.jpg"))
    assert (first.width, first.height) == (200, 150)
    assert lines[0] == {
        "path": str(IMAGES / "grid.jpg"),
        "token": "w200.jpg",
        "output": str(out / "grid-w200.jpg"),
        "width": 200,
        "height": 150,
        "content_type": "image/jpeg",
        "size": (out / "grid-w200.jpg").stat().st_size,
    }
    assert not (tmp_path / "data").exists()  # no storage anywhere


def test_writes_to_the_current_directory_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["render", str(IMAGES / "alpha.png"), "300x200-fit.png"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["alpha-300x200-fit.png"]


def test_a_bad_token_exits_2_and_renders_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["render", str(IMAGES / "grid.jpg"), "w200.jpg", "w0.jpg", "-o", str(out)]) == 2
    assert "width: expected an integer 1-8192, got '0'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "error"),
    [
        (str(IMAGES / "truncated.jpg"), "undecodable"),
        (str(IMAGES / "not-an-image.txt"), "unsupported_media_type"),
        ("no-such-file.jpg", "unreadable"),
    ],
)
def test_a_bad_input_is_a_json_line_and_exit_1(name: str, error: str, tmp_path: Path) -> None:
    run = run_cli("render", name, "w100.jpg", "-o", tmp_path)
    assert run.returncode == 1
    assert [(line["path"], line["error"]) for line in run.lines] == [(name, error)]
    assert list(tmp_path.iterdir()) == []
