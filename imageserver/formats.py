"""Image formats as data: what we accept (sniffed from bytes) and what we write (saver options).

Other modules look formats up here instead of branching on names. Pure: no pyvips, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OutputFormat:
    ext: str
    mime: str
    saver_suffix: str
    alpha: bool
    animation: bool
    default_quality: int | None
    saver_options: dict[str, Any] = field(default_factory=dict)

    def save_options(self, quality: int | None) -> dict[str, Any]:
        """The options handed to libvips' saver; quality only where the format has one."""
        options = dict(self.saver_options)
        if self.default_quality is not None:
            options["Q"] = quality or self.default_quality
        return options


# Encoder defaults, measured on the 2725x2225 benchmark JPEG at w720 (README: "Encoder defaults").
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
            saver_options={"optimize_coding": True, "keep": "none"},
        ),
        OutputFormat(
            "png",
            "image/png",
            ".png",
            alpha=True,
            animation=False,
            default_quality=None,
            saver_options={"compression": 6, "keep": "none"},
        ),
        OutputFormat(
            "webp",
            "image/webp",
            ".webp",
            alpha=True,
            animation=True,
            default_quality=80,
            saver_options={"effort": 4, "keep": "none"},
        ),
        OutputFormat(
            "gif",
            "image/gif",
            ".gif",
            alpha=True,
            animation=True,
            default_quality=None,
            saver_options={"effort": 1, "keep": "none"},
        ),
        OutputFormat(
            "avif",
            "image/avif",
            ".avif",
            alpha=True,
            animation=False,
            default_quality=50,
            saver_options={"effort": 2, "keep": "none"},
        ),
    )
}

# Spellings accepted in URLs that redirect to the canonical extension.
FORMAT_ALIASES = {"jpeg": "jpg"}


@dataclass(frozen=True)
class InputFormat:
    name: str
    mime: str
    animated: bool = False  # several frames that play as one picture (GIF, WebP)
    paged: bool = False  # several pages of which we show one (TIFF)


INPUT_FORMATS: dict[str, InputFormat] = {
    f.name: f
    for f in (
        InputFormat("jpeg", "image/jpeg"),
        InputFormat("png", "image/png"),
        InputFormat("gif", "image/gif", animated=True),
        InputFormat("webp", "image/webp", animated=True),
        InputFormat("avif", "image/avif"),
        InputFormat("heic", "image/heic"),
        InputFormat("tiff", "image/tiff", paged=True),
        InputFormat("svg", "image/svg+xml"),
    )
}

_HEIF_BRANDS = {
    b"avif": "avif",
    b"avis": "avif",
    b"heic": "heic",
    b"heix": "heic",
    b"heim": "heic",
    b"heis": "heic",
    b"mif1": "heic",
}


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
        return _HEIF_BRANDS.get(head[8:12])
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if _looks_like_svg(head):
        return "svg"
    return None


def _looks_like_svg(head: bytes) -> bool:
    text = head[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<svg", b"<?xml")) and b"<svg" in text
