"""Formats as data: sniffing uploads by their first bytes, and the options handed to savers."""

from __future__ import annotations

import pytest

from imageserver.formats import INPUT_FORMATS, OUTPUT_FORMATS, output_format, sniff
from tests.corpus import corpus_params, corpus_path, manifest_rows, require

HEAD_BYTES = 1024  # what render.inspect hands to sniff()


def _manifest() -> list[tuple[str, str]]:
    return [(row["file"], row["format"]) for row in manifest_rows()]


def _head(name: str) -> bytes:
    with corpus_path(name).open("rb") as fh:
        return fh.read(HEAD_BYTES)


@pytest.mark.parametrize(("name", "format_name"), corpus_params(_manifest, arity=2))
def test_sniff_real_files(name: str, format_name: str) -> None:
    assert sniff(_head(name)) is INPUT_FORMATS[format_name]


def test_manifest_covers_every_input_format() -> None:
    require()
    assert {fmt for _, fmt in _manifest()} >= set(INPUT_FORMATS)


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = b"ftyp" + major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return (len(body) + 4).to_bytes(4, "big") + body


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        pytest.param(b"\xef\xbb\xbf<svg xmlns='http://www.w3.org/2000/svg'/>", "svg", id="svg-bom"),
        pytest.param(b"\n  <?xml version='1.0'?>\n<svg/>", "svg", id="svg-xml-decl"),
        pytest.param(b"<SVG></SVG>", "svg", id="svg-upper"),
        pytest.param(b"MM\x00*\x00\x00\x00\x08", "tiff", id="tiff-big-endian"),
        pytest.param(b"GIF87a\x01\x00\x01\x00", "gif", id="gif87a"),
        pytest.param(_ftyp(b"avis", b"avif", b"avis"), "avif", id="ftyp-avis"),
        pytest.param(_ftyp(b"heix", b"mif1", b"heix"), "heic", id="ftyp-heix"),
        # The major brand may be a generic HEIF one (Netflix's AVIF samples use mif1, animated
        # AVIFs msf1): the compatible brands say which codec the file holds.
        pytest.param(_ftyp(b"mif1", b"mif1", b"avif", b"miaf"), "avif", id="ftyp-mif1-avif"),
        pytest.param(_ftyp(b"msf1", b"msf1", b"avis", b"avif"), "avif", id="ftyp-msf1-avis"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "pdf", id="pdf"),
        pytest.param(b"\r\n%PDF-1.4\n", "pdf", id="pdf-after-junk"),
    ],
)
def test_sniff_headers(head: bytes, expected: str) -> None:
    assert sniff(head) is INPUT_FORMATS[expected]


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xd8", id="jpeg-soi-only"),
        pytest.param(b"\x89PNG", id="png-prefix-only"),
        pytest.param(b"GIF88a", id="gif88a"),
        pytest.param(b"RIFF\x00\x00\x00\x00WAVEfmt ", id="riff-wave"),
        pytest.param(b"<?xml version='1.0'?><html/>", id="xml-not-svg"),
        pytest.param(b"<html><body><svg/></body></html>", id="html-with-svg"),
        pytest.param(_ftyp(b"isom", b"isom", b"mp42"), id="ftyp-mp4"),
        pytest.param(_ftyp(b"qt  "), id="ftyp-quicktime"),
        pytest.param(_ftyp(b"isom", b"isom") + b"\x00\x00\x00\x0cavif", id="avif-after-ftyp-box"),
        pytest.param(b"BM6\x00\x00\x00\x00\x00", id="bmp"),
        pytest.param(b"\x00" * 64, id="zeros"),
        pytest.param(bytes(range(256)), id="all-bytes"),
        pytest.param(b"just some text", id="text"),
    ],
)
def test_sniff_refuses_non_images(head: bytes) -> None:
    assert sniff(head) is None


@pytest.mark.parametrize("ext", ["jpg", "webp", "avif"])
def test_save_options_quality(ext: str) -> None:
    output = OUTPUT_FORMATS[ext]
    assert output.default_quality is not None
    assert output.save_options(None)["Q"] == output.default_quality
    assert output.save_options(37)["Q"] == 37


@pytest.mark.parametrize("ext", ["png", "gif", "tiff"])
def test_save_options_without_quality(ext: str) -> None:
    output = OUTPUT_FORMATS[ext]
    assert output.default_quality is None
    assert "Q" not in output.save_options(None)
    assert "Q" not in output.save_options(50)


@pytest.mark.parametrize("ext", sorted(OUTPUT_FORMATS))
def test_save_options_strip_metadata_and_are_fresh_copies(ext: str) -> None:
    output = OUTPUT_FORMATS[ext]
    options = output.save_options(None)
    assert options["keep"] == "none"
    options["keep"] = "all"
    assert output.save_options(None)["keep"] == "none"


@pytest.mark.parametrize("ext", sorted(OUTPUT_FORMATS))
def test_output_format_table_is_consistent(ext: str) -> None:
    output = OUTPUT_FORMATS[ext]
    assert output.ext == ext
    assert output.saver_suffix == f".{ext}"
    assert output.mime.startswith("image/")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("jpg", "jpg"),
        ("JPEG", "jpg"),
        ("tif", "tiff"),
        ("tiff", "tiff"),
        ("ppm", None),
        ("auto", None),
    ],
)
def test_output_format_spellings(name: str, expected: str | None) -> None:
    assert output_format(name) == expected


def test_tiff_is_lossless_with_alpha() -> None:
    """Page images for another system to derive from: deflate, never JPEG-in-TIFF."""
    tiff = OUTPUT_FORMATS["tiff"]
    assert (tiff.mime, tiff.alpha, tiff.save_options(None)["compression"]) == (
        "image/tiff",
        True,
        "deflate",
    )
