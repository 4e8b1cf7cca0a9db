"""Checks on files an administrator uploads for the letters."""

from __future__ import annotations

import io
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_PIXELS = 4000 * 4000
_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}


def sniff_image_type(data: bytes) -> str | None:
    """ "image/png" or "image/jpeg" when the bytes are one, judged by content."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def _read(file: Any) -> bytes:
    if hasattr(file, "seek"):
        file.seek(0)
    data: bytes = file.read(LOGO_MAX_BYTES + 1)
    if hasattr(file, "seek"):
        file.seek(0)
    return data


def _open_checked(data: bytes) -> Image.Image:
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationError(_("The logo cannot exceed 2 MB."), code="logo_too_big")
    declared = sniff_image_type(data)
    if declared is None:
        raise ValidationError(_("The logo must be a PNG or JPEG image."), code="logo_not_image")
    try:
        image = Image.open(io.BytesIO(data))
        # The header is read lazily: refuse huge declared sizes before decoding.
        width, height = image.size
        if width * height > LOGO_MAX_PIXELS:
            raise ValidationError(
                _("The logo is too large (4000 × 4000 pixels at most)."),
                code="logo_too_many_pixels",
            )
        if _FORMATS.get(image.format or "") != declared:
            raise ValidationError(
                _("The logo must be a PNG or JPEG image."), code="logo_not_image"
            )
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise ValidationError(
            _("The logo could not be read as a PNG or JPEG image."), code="logo_unreadable"
        ) from None
    return image


def validate_logo(file: Any) -> None:
    _open_checked(_read(file))


def sanitise_logo(file: Any) -> ContentFile[bytes]:
    """Decode and re-encode the logo in its own format, dropping any metadata
    (EXIF, comments, embedded profiles other than the pixels)."""
    image = _open_checked(_read(file))
    fmt = image.format or "PNG"
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, format="JPEG", quality=95)
    else:
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA")
        image.save(out, format="PNG", optimize=True)
    return ContentFile(out.getvalue(), name="logo")
