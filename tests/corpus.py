"""Where test images come from: test/images/ in the repository, then the shared corpus.

The corpus (../shared/testdata with its MANIFEST.tsv, or $IMAGESERVER_TESTDATA) is optional so a
fresh clone's `make test` passes: tests needing its files skip with ABSENT as the reason. CI sets
IMAGESERVER_REQUIRE_CORPUS=1, which makes its absence an error (tests/conftest.py) instead.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "test" / "images"
_DEFAULT = ROOT.parent / "shared" / "testdata"
TESTDATA = Path(os.environ.get("IMAGESERVER_TESTDATA") or _DEFAULT)
MANIFEST = TESTDATA / "MANIFEST.tsv"
REQUIRED = os.environ.get("IMAGESERVER_REQUIRE_CORPUS", "") not in ("", "0")
_SHOWN = "../shared/testdata" if TESTDATA == _DEFAULT else str(TESTDATA)
ABSENT = f"{_SHOWN} not found: corpus-wide tests skipped; set IMAGESERVER_TESTDATA=path"


def present() -> bool:
    return MANIFEST.is_file()


def require() -> None:
    """Skips the calling test when there is no corpus."""
    if not present():
        pytest.skip(ABSENT)


def corpus_path(name: str) -> Path:
    """A corpus file; the calling test skips when there is no corpus."""
    require()
    return TESTDATA / name


def image_path(name: str) -> Path:
    """A fixture from test/images/, or else from the corpus."""
    local = IMAGES / name
    return local if local.exists() else corpus_path(name)


def image_bytes(name: str) -> bytes:
    return image_path(name).read_bytes()


def manifest_rows() -> list[dict[str, str]]:
    """MANIFEST.tsv's rows; none without a corpus (corpus_params then gives a skipped case)."""
    if not present():
        return []
    with MANIFEST.open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def corpus_params(cases: Callable[[], Iterable[Any]], arity: int = 1) -> list[Any]:
    """Parameters for a test over the corpus, read only when it is there.

    Without it, one case that skips with ABSENT, so the report says why instead of pytest's
    'got empty parameter set'.
    """
    if present():
        return list(cases())
    skipped = pytest.mark.skip(reason=ABSENT)
    return [pytest.param(*[None] * arity, marks=skipped, id="no-corpus")]
