"""The stored letter drawn as images, for the signature page (PDFium, through
pypdfium2).

Only the server's own letters are drawn, never an uploaded file. Each page is
drawn in a forked child with the renderer's time and memory limits
(`rendering.run_limited`), at a capped width, and only the first `MAX_PAGES`
pages are offered.
"""

from __future__ import annotations

import io

import pypdfium2 as pdfium
from django.conf import settings

from .rendering import LetterRenderingError, run_limited

# A letter runs to two or three pages; past this the signer downloads the PDF.
MAX_PAGES = 10
# A4 at about 110 dpi: readable on a desktop screen, scaled down on a phone.
PAGE_WIDTH_PX = 900
# Whatever a page's size, no image is drawn larger than this factor over 72 dpi.
MAX_SCALE = 2.0


class PreviewUnavailable(Exception):
    """The letter could not be read or drawn."""


def page_count(pdf: bytes) -> int:
    """How many pages of the letter are offered as images (at most MAX_PAGES)."""
    try:
        document = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as error:
        raise PreviewUnavailable(str(error)) from error
    try:
        return min(len(document), MAX_PAGES)
    finally:
        document.close()


def _draw(pdf: bytes, index: int) -> bytes:
    document = pdfium.PdfDocument(pdf)
    try:
        # The signature fields are form widgets: pdfium draws their
        # appearances (the stamps) only with a form environment.
        document.init_forms()
        page = document[index]
        width, _height = page.get_size()
        scale = min(PAGE_WIDTH_PX / width, MAX_SCALE) if width > 0 else 1.0
        image = page.render(scale=scale, may_draw_forms=True).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()
    finally:
        document.close()


def page_png(pdf: bytes, number: int) -> bytes:
    """Page `number` (from 1) of the letter as PNG.

    Raises IndexError for a page that is not offered, PreviewUnavailable when
    the page cannot be drawn within the limits.
    """
    if not 1 <= number <= page_count(pdf):
        raise IndexError(number)
    try:
        return run_limited(
            lambda: _draw(pdf, number - 1),
            timeout=settings.HUISCLOS_RENDER_TIMEOUT_SECONDS,
            max_memory=settings.HUISCLOS_RENDER_MAX_MEMORY_BYTES,
        )
    except LetterRenderingError as error:
        raise PreviewUnavailable(str(error)) from error
