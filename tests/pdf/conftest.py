"""PDF fixtures: the shared corpus's PDFs, and one generated to make mistakes visible."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from tests.conftest import image_bytes
from tests.jobs.conftest import origin  # noqa: F401 (fixture: serves corpus files to jobs)

MULTIPAGE = "GeoBase_NHNC1_Data_Model_UML_EN.pdf"  # 19 pages, letter
SCANNED = "Seige_of_Vicksburg_Sample_OCR.pdf"  # 6 pages of page images, 432x648 pt
ROTATED = "AutoCad_Diagram.pdf"  # /Rotate 270: portrait MediaBox, landscape page
ENCRYPTED = "encrypted-file.pdf"  # user password "test"
PASSWORD = "test"

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)


def corpus_pdf(name: str) -> bytes:
    return image_bytes(name)


@pytest.fixture(scope="session")
def generated_pdf() -> bytes:
    """Three pages, each displayed 2:1 or square with red where the left (or outside) is:

    1. 200x100 pt: red left half, blue right half.
    2. 100x200 pt, red bottom and blue top, with /Rotate 90: displayed as page 1.
    3. 300x300 pt all red, with a green centre that is its crop box: displayed 100x100 green.
    """
    pdf = pdfium.PdfDocument.new()
    first = pdf.new_page(200, 100)
    _rect(first, (0, 0, 100, 100), RED)
    _rect(first, (100, 0, 100, 100), BLUE)
    turned = pdf.new_page(100, 200)
    _rect(turned, (0, 0, 100, 100), RED)
    _rect(turned, (0, 100, 100, 100), BLUE)
    turned.set_rotation(90)
    cropped = pdf.new_page(300, 300)
    _rect(cropped, (0, 0, 300, 300), RED)
    _rect(cropped, (100, 100, 100, 100), GREEN)
    cropped.set_cropbox(100, 100, 200, 200)
    for page in (first, turned, cropped):
        page.gen_content()
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _rect(page: pdfium.PdfPage, box: tuple[int, int, int, int], rgb: tuple[int, int, int]) -> None:
    shape = pdfium_c.FPDFPageObj_CreateNewRect(*box)
    pdfium_c.FPDFPageObj_SetFillColor(shape, *rgb, 255)
    pdfium_c.FPDFPath_SetDrawMode(shape, pdfium_c.FPDF_FILLMODE_ALTERNATE, False)
    pdfium_c.FPDFPage_InsertObject(page, shape)
