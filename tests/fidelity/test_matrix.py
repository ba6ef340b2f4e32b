"""Every corpus file renders in every output format, or is refused with a clear 4xx, fast."""

from __future__ import annotations

import math
import time

import pytest
import pyvips

from tests.conftest import Server
from tests.corpus import corpus_params, image_path, require
from tests.fidelity.corpus import (
    OUTPUT_FORMATS,
    REFUSED,
    Case,
    manifest,
    page_height,
    render_file,
    renderable,
)


def expected_size(case: Case, width: int) -> tuple[int, int]:
    """w{width}: never enlarged (but vectors are drawn at any size), aspect kept."""
    src_w, src_h = displayed(case)
    out_w = width if case.format in ("svg", "pdf") else min(width, src_w)
    return out_w, max(1, math.floor(src_h * out_w / src_w + 0.5))  # half up, as libvips


def displayed(case: Case) -> tuple[int, int]:
    """The manifest gives the stored size; EXIF orientations 5-8 show it turned a quarter.

    PDFs: the manifest's size is page 1 as displayed (/Rotate applied); libvips cannot read them.
    """
    if case.format == "pdf":
        return case.width, case.height
    header = pyvips.Image.new_from_file(str(image_path(case.file)))
    orientation = header.get("orientation") if header.get_typeof("orientation") else 1
    return (case.height, case.width) if orientation >= 5 else (case.width, case.height)


def test_the_corpus_is_fully_classified() -> None:
    require()
    names = {case.file for case in manifest()}
    assert set(REFUSED) <= names
    assert len(renderable()) + len(REFUSED) == len(names)


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
@pytest.mark.parametrize("case", corpus_params(renderable), ids=lambda c: c.file)
def test_every_decodable_image_renders_in_every_format(case: Case, fmt: str) -> None:
    image = render_file(case.file, f"w200.{fmt}")
    assert (image.width, page_height(image)) == expected_size(case, 200)
    assert image.format == "uchar"
    assert image.interpretation in ("srgb", "b-w")


@pytest.mark.parametrize("name", sorted(REFUSED))
async def test_refusals_are_4xx_json_and_fast(server: Server, name: str) -> None:
    status, code = REFUSED[name]
    data = image_path(name).read_bytes()
    started = time.monotonic()
    async with server.session.post(server.url + "/p", data=data) as resp:
        body = await resp.json()
        assert (resp.status, body["error"]) == (status, code), body
        assert body["message"]
    assert time.monotonic() - started < 1.0
