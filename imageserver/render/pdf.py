"""PDF pages through PDFium (pypdfium2): libvips 8.18 from pyvips-binary has no PDF loader.

A page is drawn straight at the size its output needs into a buffer that libvips wraps without a
copy. PDFium is neither thread-safe nor a parser to trust: the server calls this module only in
worker processes (render/processes.py); in-process callers (CLI, tests) are serialised by a lock.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pyvips

from ..errors import Encrypted
from ..pages import check_page, cover_size
from .loaders import PREVIEW_SIDE, DecodeError, Header, Resize

_PDFIUM = threading.Lock()  # PDFium keeps global state: one call at a time per process
_BANDS = 3
# Annotations drawn (form fields, stamps); RGB byte order, which libvips expects, not BGR.
_RENDER_FLAGS = pdfium_c.FPDF_ANNOT | pdfium_c.FPDF_REVERSE_BYTE_ORDER
_WHITE = (255, 255, 255, 255)


class PdfLoader:
    """Header and pixels of one page; /Rotate and the crop box are PDFium's own page geometry."""

    def header(self, data: bytes, page: int) -> Header:
        with _document(data) as pdf:
            pages = len(pdf)
            check_page(page + 1, pages)
            width, height = pdf[page].get_size()  # points, crop box, rotation applied
        return Header(max(1, round(width)), max(1, round(height)), 1, pages, alpha=False)

    def load_resized(self, data: bytes, resize: Resize) -> pyvips.Image:
        """Drawn at (or just over) the output's size; thumbnail then only cuts a crop."""
        with _document(data) as pdf:
            page = pdf[resize.page]
            width, height = page.get_size()
            crop = "crop" in resize.options
            image = _draw(page, *cover_size(width, height, resize.width, resize.height, crop=crop))
        return image.thumbnail_image(resize.width, height=resize.height, **resize.options)

    def verify(self, data: bytes) -> pyvips.Image:
        """Draws page 1 small, in its shape: the document opens and its first page renders."""
        with _document(data) as pdf:
            page = pdf[0]
            width, height = page.get_size()
            scale = PREVIEW_SIDE / max(width, height, 1)
            return _draw(page, max(1, round(width * scale)), max(1, round(height * scale)))


def unlock(data: bytes, password: str) -> bytes | None:
    """A decrypted copy of a password-protected PDF; None when it opens without a password.

    The copy is what gets stored, so later renders need no password.
    """
    try:
        with _document(data):
            return None
    except Encrypted:
        pass
    with _document(data, password) as pdf:
        copy = io.BytesIO()
        pdf.save(copy, flags=pdfium_c.FPDF_REMOVE_SECURITY)
    return copy.getvalue()


@contextmanager
def _document(data: bytes, password: str | None = None) -> Iterator[pdfium.PdfDocument]:
    """An open document under the lock; PDFium's errors become DecodeError or Encrypted."""
    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(data, password=password)
        except pdfium.PdfiumError as exc:
            if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
                raise Encrypted(_encrypted_message(password)) from None
            raise DecodeError(f"pdf: {exc}") from None
        try:
            yield pdf
        except (pdfium.PdfiumError, IndexError, ValueError) as exc:
            raise DecodeError(f"pdf: {exc}") from None
        finally:
            pdf.close()


def _encrypted_message(password: str | None) -> str:
    if password is None:
        return "the PDF is password-protected: upload it again with ?password="
    return "the PDF is password-protected and the password given does not open it"


def _draw(page: pdfium.PdfPage, width: int, height: int) -> pyvips.Image:
    """The whole page stretched to width x height (the caller keeps its shape), as sRGB.

    The buffer is Python's (a packed ctypes array), so libvips may keep it after the PDFium
    bitmap is gone; `new_from_memory` references it rather than copying it.
    """
    bitmap = pdfium.PdfBitmap.new_native(width, height, pdfium_c.FPDFBitmap_BGR, rev_byteorder=True)
    bitmap.fill_rect(_WHITE, 0, 0, width, height)
    pdfium_c.FPDF_RenderPageBitmap(bitmap, page, 0, 0, width, height, 0, _RENDER_FLAGS)
    image = pyvips.Image.new_from_memory(bitmap.buffer, width, height, _BANDS, "uchar")
    return image.copy(interpretation="srgb")
