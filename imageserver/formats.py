"""Image formats as data: what we accept (sniffed from bytes) and what we write (saver options).

Other modules look formats up here instead of branching on names. Pure: no pyvips, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# The encode-only choices of a token (`-lossless`, `-interlace`, `-keep`), named as the
# Transform's fields. Each format lists the ones it has with the saver options they add.
CHOICES = ("lossless", "interlace", "baseline", "keep_metadata")
# EXIF and ICC only: XMP repeats the orientation (tiff:Orientation) and IPTC is captions and
# credits. libvips drops the orientation when it rotates the pixels upright, so the EXIF it
# writes says 1.
_KEEP = {"keep": "exif:icc"}


@dataclass(frozen=True)
class OutputFormat:
    ext: str
    mime: str
    saver_suffix: str
    alpha: bool
    animation: bool
    default_quality: int | None
    saver_options: dict[str, Any] = field(default_factory=dict)
    choices: dict[str, dict[str, Any]] = field(default_factory=dict)  # see CHOICES

    def save_options(self, quality: int | None, chosen: Iterable[str] = ()) -> dict[str, Any]:
        """The options handed to libvips' saver; quality only where the format has one.

        `chosen` names CHOICES; the parser refuses those a format lacks (`accepts`), so the
        saver is only ever handed options it has.
        """
        options = dict(self.saver_options)
        if self.default_quality is not None:
            options["Q"] = quality or self.default_quality
        for name in chosen:
            options.update(self.choices.get(name, {}))
        return options

    def accepts(self, choice: str) -> bool:
        """Whether the format has the encode-only choice (`lossless`, ...) a token names."""
        return choice in self.choices


# Encoder defaults, measured by `python -m benchmarks.encoders` (docs/tokens.md).
# keep="none" strips metadata: outputs are sRGB, so the profile adds bytes and no information.
OUTPUT_FORMATS: dict[str, OutputFormat] = {
    f.ext: f
    for f in (
        OutputFormat(
            "jpg",
            "image/jpeg",
            ".jpg",
            alpha=False,
            animation=False,
            default_quality=80,
            # progressive + optimised Huffman: 4% smaller than Pillow's q80 at equal SSIM
            saver_options={"optimize_coding": True, "interlace": True, "keep": "none"},
            # progressive by default (above): `-interlace` reads as that default, `-baseline`
            # writes sequential JPEG for decoders that show nothing until the whole file is in
            choices={"baseline": {"interlace": False}, "keep_metadata": _KEEP},
        ),
        OutputFormat(
            "png",
            "image/png",
            ".png",
            alpha=True,
            animation=False,
            default_quality=None,
            saver_options={"compression": 6, "keep": "none"},
            choices={"interlace": {"interlace": True}, "keep_metadata": _KEEP},
        ),
        OutputFormat(
            "webp",
            "image/webp",
            ".webp",
            alpha=True,
            animation=True,
            default_quality=80,
            saver_options={"effort": 4, "keep": "none"},
            # lossless: Q becomes libwebp's effort at finding the smallest lossless coding
            choices={"lossless": {"lossless": True}, "keep_metadata": _KEEP},
        ),
        OutputFormat(
            "gif",
            "image/gif",
            ".gif",
            alpha=True,
            animation=True,
            default_quality=None,
            # every source frame stays a frame (cgif would merge repeats into longer delays)
            saver_options={"effort": 1, "keep_duplicate_frames": True, "keep": "none"},
            choices={"interlace": {"interlace": True}},  # GIF holds no EXIF or ICC
        ),
        OutputFormat(
            "avif",
            "image/avif",
            ".avif",
            alpha=True,
            animation=False,
            default_quality=64,  # the Q at which AVIF matches JPEG q80's SSIM
            saver_options={"effort": 0, "keep": "none"},
            # lossless: Q is ignored, and the file decodes to the very pixels it was given
            choices={"lossless": {"lossless": True}, "keep_metadata": _KEEP},
        ),
        OutputFormat(
            "tiff",
            "image/tiff",
            ".tiff",
            alpha=True,
            animation=False,
            default_quality=None,
            # lossless, for page images another system derives its own images from (the dlcs
            # seed's): deflate is 43x smaller than uncompressed on a text page in the same
            # time, smaller and faster than lzw; JPEG-in-TIFF would compress them twice lossy
            saver_options={"compression": "deflate", "keep": "none"},
            choices={"keep_metadata": {"keep": "icc"}},  # libvips writes no EXIF block in TIFF
        ),
    )
}

# Spellings accepted in URLs that redirect to the canonical extension.
FORMAT_ALIASES = {"jpeg": "jpg", "tif": "tiff"}


def output_format(name: str) -> str | None:
    """The canonical extension of an output format spelt any accepted way; None if unknown."""
    fmt = FORMAT_ALIASES.get(name.lower(), name.lower())
    return fmt if fmt in OUTPUT_FORMATS else None


@dataclass(frozen=True)
class InputFormat:
    name: str
    mime: str
    animated: bool = False  # several frames that play as one picture (GIF, WebP)
    paged: bool = False  # several pages of which we show one (TIFF)
    vector: bool = False  # drawn at any size, so "never enlarge" does not apply (SVG)
    decoder: str = "libvips"  # or "heif": HEVC, which the pyvips-binary wheel cannot decode
    # Pages of a document (PDF): counted against max_pages, and the pixel limit applies to each
    # page as rendered for an output rather than to a nominal size.
    document: bool = False
    # Decoded in a worker process: the decoder is not thread-safe, or a crash must not take the
    # server with it (PDFium is both).
    isolated: bool = False
    # The decoder can decode at 1/2, 1/4 or 1/8 of the size (libjpeg's scaled IDCT), so a fast
    # shrink-on-load may choose the factor itself (geometry.fast_decode_shrink).
    scaled_decode: bool = False


INPUT_FORMATS: dict[str, InputFormat] = {
    f.name: f
    for f in (
        InputFormat("jpeg", "image/jpeg", scaled_decode=True),
        InputFormat("png", "image/png"),
        InputFormat("gif", "image/gif", animated=True),
        InputFormat("webp", "image/webp", animated=True),
        InputFormat("avif", "image/avif"),
        InputFormat("heic", "image/heic", decoder="heif"),
        InputFormat("tiff", "image/tiff", paged=True),
        InputFormat("svg", "image/svg+xml", vector=True),
        InputFormat(
            "pdf",
            "application/pdf",
            paged=True,
            vector=True,
            decoder="pdf",
            document=True,
            isolated=True,
        ),
    )
}

# ISO-BMFF brands: AV1 first, since generic HEIF brands (mif1, msf1) also head AVIF files.
_AVIF_BRANDS = (b"avif", b"avis")
_HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx")
_GENERIC_HEIF_BRANDS = (b"mif1", b"msf1")


def sniff(head: bytes) -> InputFormat | None:
    """Identifies an upload by its first bytes; the client's Content-Type is never trusted."""
    name = _sniff_name(head)
    return INPUT_FORMATS.get(name) if name else None


def _sniff_name(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return _heif_kind(head)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if _looks_like_svg(head):
        return "svg"
    if b"%PDF-" in head[:1024]:  # readers accept a header anywhere in the first 1024 bytes
        return "pdf"
    return None


def _heif_kind(head: bytes) -> str | None:
    """The major brand, or else the compatible brands, say whether the codec is AV1 or HEVC."""
    box_end = min(int.from_bytes(head[:4], "big"), len(head))
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, box_end - 3, 4)]
    if any(b in _AVIF_BRANDS for b in brands):
        return "avif"
    if any(b in _HEIC_BRANDS + _GENERIC_HEIF_BRANDS for b in brands):
        return "heic"
    return None


def _looks_like_svg(head: bytes) -> bool:
    text = head[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<svg", b"<?xml")) and b"<svg" in text
