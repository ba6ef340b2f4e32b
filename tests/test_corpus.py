"""The optional corpus: its tests skip with a reason without it, fail in CI without it, and
the copies in test/images/ are the corpus's files unchanged."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from tests.corpus import IMAGES, ROOT, manifest_rows, require

# corpus-wide tests: parametrized by MANIFEST.tsv, read only when it is there
CORPUS_TESTS = ["tests/test_formats.py::test_sniff_real_files", "tests/test_geometry.py"]


def pytest_run(**env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *CORPUS_TESTS]
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_the_corpus_its_tests_skip_and_say_why(tmp_path: Path) -> None:
    done = pytest_run(IMAGESERVER_TESTDATA=str(tmp_path / "none"))
    assert done.returncode == 0, done.stdout
    reason = f"{tmp_path / 'none'} not found: corpus-wide tests skipped; set IMAGESERVER_TESTDATA"
    assert reason in done.stdout
    assert " failed" not in done.stdout


def test_when_required_its_absence_is_an_error(tmp_path: Path) -> None:
    done = pytest_run(IMAGESERVER_TESTDATA=str(tmp_path / "none"), IMAGESERVER_REQUIRE_CORPUS="1")
    assert done.returncode not in (0, 5), done.stdout
    assert "IMAGESERVER_REQUIRE_CORPUS is set but" in done.stderr


def test_copies_in_test_images_are_the_corpus_files() -> None:
    require()
    copied = [row for row in manifest_rows() if (IMAGES / row["file"]).exists()]
    assert len(copied) >= 20
    for row in copied:
        assert hashlib.sha256((IMAGES / row["file"]).read_bytes()).hexdigest() == row["sha256"]
