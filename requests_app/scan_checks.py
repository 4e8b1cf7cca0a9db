"""What a scanned letter must be before it is stored.

`check_scan` is the authority, called once by `services.register_request`
before anything is written: the forms and the API only pre-check the size and
the type cheaply. A scan must begin with its format's magic bytes at offset 0
and parse as that format; a PDF must carry no script, no automatic or launch
action, no embedded file and no encryption; an image must stay under a pixel
cap, and is re-encoded in its own format so that none of its metadata (EXIF,
GPS, XMP, comments, ICC text) is stored. Parsing is bounded: the size is
capped before anything is read, pypdf walks a capped number of objects, Pillow
checks the pixel count before decoding.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from .errors import ActionRefused

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
)
_PILLOW_FORMATS = {PNG: "PNG", JPEG: "JPEG", TIFF: "TIFF"}

DEFAULT_MAX_PIXELS = 50_000_000
_ORIENTATION = 0x0112
# Objects (indirect objects and the values inside them) walked in a PDF; a
# scanned letter of a few hundred pages stays far below.
MAX_PDF_ITEMS = 500_000
MAX_PDF_PAGES = 1_000
MAX_IMAGE_FRAMES = 500
# The last %%EOF must be this close to the end: nothing may hide after it.
PDF_TAIL = 1024

# PDF names that run something, or carry a file, when the document is opened.
_SCRIPT_NAMES = frozenset({"/JS", "/JavaScript", "/XFA"})
_ACTION_NAMES = frozenset(
    {"/OpenAction", "/AA", "/Launch", "/GoToE", "/GoToR", "/ImportData", "/SubmitForm"}
)
_EMBEDDED_NAMES = frozenset({"/EmbeddedFiles", "/EmbeddedFile", "/FileAttachment", "/RichMedia"})
# Seen in the raw bytes too (names long enough not to occur by chance in
# compressed data); the object walk also sees #xx-escaped names and objects
# inside compressed object streams.
_RAW_MARKERS = (
    (b"/JavaScript", "pdf_script"),
    (b"/OpenAction", "pdf_action"),
    (b"/Launch", "pdf_action"),
    (b"/EmbeddedFile", "pdf_embedded"),
    (b"/FileAttachment", "pdf_embedded"),
)


class ScanRefused(ActionRefused):
    """A scan that is not stored; `reason` says why, for the tests and the logs."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, cause="invalid_scan", http_status=400)
        self.reason = reason


@dataclass(frozen=True)
class CheckedScan:
    content_type: str
    data: bytes


def max_pixels() -> int:
    return int(getattr(settings, "SCAN_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def check_upload(upload: UploadedFile[bytes], declared_content_type: str = "") -> CheckedScan:
    """Read an upload, never more than the size limit allows, and check it."""
    limit = settings.SCAN_MAX_BYTES
    upload.seek(0)
    data = upload.read(limit + 1)
    upload.seek(0)
    return check_scan(data, declared_content_type)


def check_scan(data: bytes, declared_content_type: str = "") -> CheckedScan:
    """Return the scan's content type and the bytes to store, or raise ScanRefused."""
    limit = settings.SCAN_MAX_BYTES
    if not data:
        raise ScanRefused(gettext("The file is empty."), reason="empty")
    if len(data) > limit:
        raise ScanRefused(
            gettext("The file exceeds the maximum size of %(megabytes)d MB.")
            % {"megabytes": limit // (1024 * 1024)},
            reason="too_large",
        )
    content_type = next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)
    if content_type is None:
        raise ScanRefused(
            gettext(
                "This file does not begin as a PDF, PNG, JPEG or TIFF file does: it is "
                "refused, whatever its name or what it contains further on. Scan the letter "
                "in one of these formats."
            ),
            reason="magic",
        )
    if declared_content_type and declared_content_type != content_type:
        raise ScanRefused(
            gettext(
                "The content of the file does not match its announced type. Scan the letter "
                "again in PDF, PNG, JPEG or TIFF."
            ),
            reason="type_mismatch",
        )
    if content_type == PDF:
        _check_pdf(data)
        return CheckedScan(PDF, data)
    return CheckedScan(content_type, _stripped_image(data, content_type))


# ---------------------------------------------------------------------------
# PDF


def _damaged_pdf() -> ScanRefused:
    return ScanRefused(gettext("The PDF file is incomplete or damaged."), reason="pdf_unreadable")


def _check_pdf(data: bytes) -> None:
    if b"%%EOF" not in data[-PDF_TAIL:]:
        raise _damaged_pdf()
    for marker, reason in _RAW_MARKERS:
        if marker in data:
            raise _active_content(reason)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ScanRefused(
                gettext(
                    "The PDF file is encrypted or protected by a password. Send the scan "
                    "without protection."
                ),
                reason="pdf_encrypted",
            )
        _walk_pdf(reader)
        pages = len(reader.pages)
    except ScanRefused:
        raise
    except Exception:  # pypdf raises many kinds on hostile input
        raise _damaged_pdf() from None
    if pages == 0:
        raise ScanRefused(gettext("The PDF file has no page."), reason="pdf_no_page")
    if pages > MAX_PDF_PAGES:
        raise _too_complex()


def _too_complex() -> ScanRefused:
    return ScanRefused(
        gettext("The PDF file is too complex to be checked. Scan the letter again."),
        reason="pdf_too_complex",
    )


def _active_content(reason: str) -> ScanRefused:
    messages = {
        "pdf_script": gettext(
            "The PDF file contains JavaScript, which a scanned letter never does. Scan the "
            "paper letter again, or print the document to a plain PDF."
        ),
        "pdf_action": gettext(
            "The PDF file contains an action that runs on opening or launches something, "
            "which a scanned letter never does. Scan the paper letter again, or print the "
            "document to a plain PDF."
        ),
        "pdf_embedded": gettext(
            "The PDF file contains embedded files, which a scanned letter never does. Scan "
            "the paper letter again, or print the document to a plain PDF."
        ),
    }
    return ScanRefused(messages[reason], reason=reason)


def _name_reason(name: str) -> str | None:
    if name in _SCRIPT_NAMES:
        return "pdf_script"
    if name in _ACTION_NAMES:
        return "pdf_action"
    if name in _EMBEDDED_NAMES:
        return "pdf_embedded"
    return None


def _check_name(name: Any) -> None:
    if isinstance(name, NameObject) and (reason := _name_reason(str(name))) is not None:
        raise _active_content(reason)


def _walk_pdf(reader: PdfReader) -> None:
    """Look at every object, reachable from the trailer or listed in the xref."""
    stack: list[Any] = [reader.trailer]
    for generation, numbers in reader.xref.items():
        stack.extend(IndirectObject(number, generation, reader) for number in numbers)
    stack.extend(IndirectObject(number, 0, reader) for number in reader.xref_objStm)
    seen: set[tuple[int, int]] = set()
    walked = 0
    while stack:
        walked += 1
        if walked > MAX_PDF_ITEMS:
            raise _too_complex()
        item = stack.pop()
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            item = item.get_object()
        if isinstance(item, DictionaryObject):  # streams included
            for name, value in item.items():
                _check_name(name)
                stack.append(value)
        elif isinstance(item, ArrayObject):
            stack.extend(item)
        else:
            _check_name(item)


# ---------------------------------------------------------------------------
# Images


def _stripped_image(data: bytes, content_type: str) -> bytes:
    """The image re-encoded in its own format, with nothing but its pixels (and DPI)."""
    cap = max_pixels()
    too_many = ScanRefused(
        gettext(
            "The image has too many pixels (%(megapixels)d megapixels at most). Scan the "
            "letter at a lower resolution."
        )
        % {"megapixels": max(1, cap // 1_000_000)},
        reason="image_too_large",
    )
    unreadable = ScanRefused(
        gettext("The image is incomplete or damaged."), reason="image_unreadable"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[content_type]]) as image:
                frames = getattr(image, "n_frames", 1)
                if content_type != TIFF and frames != 1:
                    raise unreadable
                if frames > MAX_IMAGE_FRAMES:
                    raise too_many
                # Count every frame's pixels before decoding any of them.
                pixels = 0
                for frame in ImageSequence.Iterator(image):
                    pixels += frame.size[0] * frame.size[1]
                    if pixels > cap:
                        raise too_many
                return _reencoded(image, content_type)
    except ScanRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, MemoryError):
        raise unreadable from None
    except Exception:  # decoders raise many kinds on hostile input
        raise unreadable from None


def _dpi(image: Image.Image) -> dict[str, Any]:
    dpi = image.info.get("dpi")
    try:
        x, y = float(dpi[0]), float(dpi[1])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return {}
    return {"dpi": (x, y)} if 0 < x < 100_000 and 0 < y < 100_000 else {}


def _bare(frame: Image.Image) -> Image.Image:
    """A new image holding the frame's pixels (and palette) only: no info, no tags."""
    frame.load()
    bare = Image.frombytes(frame.mode, frame.size, frame.tobytes())
    if frame.mode in ("P", "PA") and (palette := frame.getpalette()) is not None:
        bare.putpalette(palette)
    return bare


def _reencoded(image: Image.Image, content_type: str) -> bytes:
    out = io.BytesIO()
    dpi = _dpi(image)
    # The EXIF orientation goes with the rest: turn the pixels upright first.
    upright = content_type != TIFF and image.getexif().get(_ORIENTATION, 1) in range(2, 9)
    if content_type == JPEG and not upright:
        # Same image object, so that its quantisation tables are kept; with
        # its info emptied, Pillow writes no EXIF, XMP, ICC profile nor comment.
        image.load()
        image.info = {}
        image.save(out, "JPEG", quality="keep", **dpi)
    elif content_type == JPEG:
        _bare(ImageOps.exif_transpose(image)).save(out, "JPEG", quality=95, **dpi)
    elif content_type == PNG:
        bare = _bare(ImageOps.exif_transpose(image) if upright else image)
        bare.save(out, "PNG", optimize=False, **dpi)
    else:
        bares = [_bare(frame) for frame in ImageSequence.Iterator(image)]
        first, rest = bares[0], bares[1:]
        compression = "group4" if first.mode == "1" else "tiff_lzw"
        try:
            first.save(
                out, "TIFF", save_all=True, append_images=rest, compression=compression, **dpi
            )
        except OSError:
            out = io.BytesIO()
            first.save(
                out, "TIFF", save_all=True, append_images=rest, compression="tiff_lzw", **dpi
            )
    return out.getvalue()
