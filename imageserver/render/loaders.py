"""Decoders: how an original's header is read and its pixels arrive in libvips, shrunk early.

libvips decodes everything itself except HEVC-coded HEIF (patents keep libde265 out of the
pyvips-binary wheel): pillow-heif decodes those, and the pixels go to libvips without a copy.
PDF pages come from PDFium (render/pdf.py), the same way. `page` is 0-based here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pyvips

from ..formats import InputFormat

LOAD_OPTIONS = "fail_on=error"  # refuse corrupt and truncated data instead of grey filler
# verify's decode: page 1 within this box, which is also the placeholder's input (why 32:
# render/placeholder.py)
PREVIEW_SIDE = 32


class DecodeError(Exception):
    """A decoder other than libvips could not read the data (libvips raises pyvips.Error)."""


@dataclass(frozen=True)
class Header:
    """The stored image as its header describes it (before EXIF orientation is applied)."""

    width: int
    height: int
    orientation: int
    n_pages: int
    alpha: bool
    foreign_profile: bool = False  # an embedded ICC profile other than sRGB: convert through it


@dataclass(frozen=True)
class Resize:
    """What to ask of libvips' thumbnail: an exact size, a crop mode, and the loader options."""

    width: int
    height: int
    options: dict[str, Any]
    load_options: str = ""
    page: int = 0
    shrink: int = 1  # > 1: decode at 1/shrink of the size first (JPEG), then resize from there
    # outputs that keep the aspect ratio: the box libvips fits into, scaling both axes alike
    # (geometry.fit_box); None: exactly width x height
    fit: tuple[int, int] | None = None

    def size(self) -> tuple[int, dict[str, Any]]:
        """thumbnail's width and its size options (height, size), from the fit or exact."""
        if self.fit is None:
            return self.width, {"height": self.height, **self.options}
        width, height = self.fit
        return width, {"height": height, **self.options}


class Loader(Protocol):
    def header(self, data: bytes, page: int) -> Header: ...

    def load_resized(self, data: bytes, resize: Resize) -> pyvips.Image: ...

    def load_whole(self, data: bytes, page: int, shrink: int, *, rereads: bool) -> pyvips.Image:
        """The whole picture as displayed (EXIF orientation applied), decoded at 1/shrink where
        the decoder can; for crops by coordinates and trims. `rereads`: the caller reads the
        pixels more than once (a trim scans them, then crops), so they are kept in memory."""
        ...

    def verify(self, data: bytes) -> pyvips.Image:
        """Page 1 (frame 1), upright, within PREVIEW_SIDE: reading its pixels proves they
        decode, and they are the placeholder's input (render.probe). Cheap: shrunk on load."""


class LibvipsLoader:
    """Everything libvips reads itself: shrink-on-load, EXIF rotation and ICC import in one call."""

    def header(self, data: bytes, page: int) -> Header:
        image = pyvips.Image.new_from_buffer(data, _page_option(page), access="sequential")
        return Header(
            image.width,
            image.height,
            _int_field(image, "orientation", 1),
            _int_field(image, "n-pages", 1),
            image.hasalpha(),
            _is_foreign(
                image.get("icc-profile-data") if image.get_typeof("icc-profile-data") else b""
            ),
        )

    def load_whole(self, data: bytes, page: int, shrink: int, *, rereads: bool) -> pyvips.Image:
        """Sequential (streamed, no full copy in memory) unless the pixels are read twice or
        turned by the EXIF orientation, which reads them out of order."""
        options = ",".join(filter(None, (LOAD_OPTIONS, _page_option(page))))
        shrunk = {"shrink": shrink} if shrink > 1 else {}
        image = pyvips.Image.new_from_buffer(data, options, access="sequential", **shrunk)
        if rereads or _int_field(image, "orientation", 1) != 1:
            image = pyvips.Image.new_from_buffer(data, options, **shrunk)
        return image.autorot()

    def load_resized(self, data: bytes, resize: Resize) -> pyvips.Image:
        if resize.shrink > 1:  # thumbnail_buffer would pick its own, more cautious, shrink
            image = pyvips.Image.new_from_buffer(
                data, LOAD_OPTIONS, shrink=resize.shrink, access="sequential"
            )
            width, options = resize.size()
            return image.thumbnail_image(width, **options)
        load_options = ",".join(
            filter(None, (LOAD_OPTIONS, resize.load_options, _page_option(resize.page)))
        )
        width, options = resize.size()
        return pyvips.Image.thumbnail_buffer(data, width, option_string=load_options, **options)

    def verify(self, data: bytes) -> pyvips.Image:
        return pyvips.Image.thumbnail_buffer(data, PREVIEW_SIDE, option_string=LOAD_OPTIONS)


class HeifLoader:
    """HEVC HEIF via pillow-heif; the container's rotation is applied by libheif on decode."""

    def header(self, data: bytes, page: int) -> Header:
        heif = _open_heif(data)  # one picture: render.inspect refuses page > 0
        width, height = heif.size
        icc = heif.info.get("icc_profile") if heif.info.get("icc_profile_type") != "nclx" else None
        return Header(width, height, 1, 1, "A" in heif.mode, _is_foreign(icc or b""))

    def load_whole(self, data: bytes, page: int, shrink: int, *, rereads: bool) -> pyvips.Image:
        return self._decode(data)  # decoded into memory whole: any access pattern is cheap

    def load_resized(self, data: bytes, resize: Resize) -> pyvips.Image:
        width, options = resize.size()
        return self._decode(data).thumbnail_image(width, **options)

    def verify(self, data: bytes) -> pyvips.Image:
        return self._decode(data).thumbnail_image(PREVIEW_SIDE, height=PREVIEW_SIDE)

    @staticmethod
    def _decode(data: bytes) -> pyvips.Image:
        heif = _open_heif(data)
        try:
            pixels = heif.data
        except (ValueError, RuntimeError, OSError) as exc:
            raise DecodeError(f"heif: {exc}") from None
        width, height = heif.size
        bands = len(heif.mode.split(";")[0])
        sixteen_bit = heif.mode.endswith(";16")
        row_items = heif.stride // (2 if sixteen_bit else 1) // bands
        # new_from_memory keeps a reference to the decoded buffer: no copy into libvips
        image = pyvips.Image.new_from_memory(
            pixels, row_items, height, bands, "ushort" if sixteen_bit else "uchar"
        )
        if row_items != width:
            image = image.crop(0, 0, width, height)  # drop row padding, still no copy
        image = image.copy(interpretation=_INTERPRETATIONS[(bands >= 3, sixteen_bit)])
        icc = heif.info.get("icc_profile")
        if icc and heif.info.get("icc_profile_type") != "nclx":
            image.set_type(pyvips.GValue.blob_type, "icc-profile-data", bytes(icc))
        return image


_INTERPRETATIONS = {
    (True, False): "srgb",
    (True, True): "rgb16",
    (False, False): "b-w",
    (False, True): "grey16",
}


def _open_heif(data: bytes) -> Any:
    import pillow_heif  # imported when a HEIC arrives, not at start-up

    try:
        return pillow_heif.open_heif(data, convert_hdr_to_8bit=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise DecodeError(f"heif: {exc}") from None


def _is_foreign(icc: bytes) -> bool:
    """Converting sRGB to sRGB costs a third of a render and changes nothing: skip it."""
    return bool(icc) and not profile_description(icc).lower().startswith("srgb")


def profile_description(icc: bytes) -> str:
    """The ICC 'desc' tag (v2 textDescriptionType or v4 multiLocalizedUnicode), or ''."""
    count = int.from_bytes(icc[128:132], "big") if len(icc) >= 132 else 0
    for entry in range(132, min(132 + 12 * count, len(icc) - 11), 12):
        if icc[entry : entry + 4] == b"desc":
            offset = int.from_bytes(icc[entry + 4 : entry + 8], "big")
            return _text(icc[offset : offset + int.from_bytes(icc[entry + 8 : entry + 12], "big")])
    return ""


def _text(tag: bytes) -> str:
    if tag[:4] == b"desc":
        length = int.from_bytes(tag[8:12], "big")
        return tag[12 : 12 + length].split(b"\0")[0].decode("latin-1")
    if tag[:4] == b"mluc" and len(tag) >= 28:
        size, offset = int.from_bytes(tag[20:24], "big"), int.from_bytes(tag[24:28], "big")
        return tag[offset : offset + size].decode("utf-16-be", errors="replace")
    return ""


def _page_option(page: int) -> str:
    """Only paged loaders (TIFF) know the option, and only pages after the first need it."""
    return f"page={page}" if page else ""


def _int_field(image: pyvips.Image, name: str, default: int) -> int:
    return int(image.get(name)) if image.get_typeof(name) else default


LOADERS: dict[str, Loader] = {"libvips": LibvipsLoader(), "heif": HeifLoader()}


def loader_for(input_format: InputFormat) -> Loader:
    if input_format.decoder == "pdf":  # PDFium loads with the first PDF, not at start-up
        from . import pdf

        return pdf.PdfLoader()
    return LOADERS[input_format.decoder]
