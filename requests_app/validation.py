"""Checks on raw input shared by the web forms and the API."""

from __future__ import annotations

import re
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

_NON_DIGITS = re.compile(r"[\s.\-/]")

# What an oral request never records about the person concerned: nobody can
# check who is on the line, so the call leaves no identifier of the person
# behind (who called, when, from which organisation and a short summary are
# kept). The web form, the API and the intake service all refuse them.
ORAL_FORBIDDEN_PERSON_FIELDS = ("birth_date", "national_number")


def normalise_national_number(value: str) -> str:
    """Return the 11 digits of a Belgian national register number, or raise.

    The last two digits are 97 minus the first nine modulo 97; for people
    born from 2000 on, a 2 is put before the nine digits.
    """
    digits = _NON_DIGITS.sub("", value or "")
    if not digits:
        return ""
    if not (len(digits) == 11 and digits.isascii() and digits.isdigit()):
        raise ValidationError(
            _("The national register number must have 11 digits."), code="niss_format"
        )
    base, check = int(digits[:9]), int(digits[9:])
    if check not in (97 - base % 97, 97 - int("2" + digits[:9]) % 97):
        raise ValidationError(
            _("The national register number is invalid (check digits)."),
            code="niss_checksum",
        )
    return digits


_IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "TIFF": "image/tiff"}


def detect_scan_type(upload: UploadedFile[bytes]) -> str:
    """Recognise a PDF, PNG, JPEG or TIFF by its content, never by its name.

    Returns the content type, or raises ValidationError with a message for the user.
    """
    limit = settings.SCAN_MAX_BYTES
    if upload.size is None or upload.size == 0:
        raise ValidationError(_("The file is empty."), code="scan_empty")
    if upload.size > limit:
        raise ValidationError(
            _("The file exceeds the maximum size of %(megabytes)d MB.")
            % {"megabytes": limit // (1024 * 1024)},
            code="scan_too_large",
        )
    upload.seek(0)
    head = upload.read(1024)
    try:
        if b"%PDF-" in head:
            upload.seek(max(upload.size - 1024, 0))
            tail = upload.read()
            if b"%%EOF" not in tail:
                raise ValidationError(
                    _("The PDF file is incomplete or damaged."), code="scan_invalid"
                )
            return "application/pdf"
        upload.seek(0)
        try:
            with Image.open(upload) as image:
                kind = image.format
                image.verify()
        except (
            UnidentifiedImageError,
            Image.DecompressionBombError,
            OSError,
            SyntaxError,
            ValueError,
        ):
            kind = None
        if kind not in _IMAGE_TYPES:
            raise ValidationError(
                _(
                    "This file is neither a PDF nor a PNG, JPEG or TIFF image, whatever its "
                    "name. Scan the letter in one of these formats."
                ),
                code="scan_type",
            )
        return _IMAGE_TYPES[kind]
    finally:
        upload.seek(0)


# --------------------------------------------------------------------------
# Dates: the web forms and the API serializers use these same functions, as
# field validators and in their cross-field checks, so that both refuse the
# same dates with the same French message (tests/security/test_dates.py).

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2099, 12, 31)


def validate_plausible_date(value: date) -> None:
    """A date of a letter, a receipt, a deadline: 1900 to 2099."""
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValidationError(_("Enter a date between 1900 and 2099."), code="date_out_of_range")


def _not_in_future(value: date, message: str, code: str) -> None:
    if value > timezone.localdate():
        raise ValidationError(message, code=code)
    validate_plausible_date(value)


def validate_received_on(value: date) -> None:
    _not_in_future(value, _("The date of receipt cannot be in the future."), "received_in_future")


def validate_birth_date(value: date) -> None:
    _not_in_future(value, _("The date of birth cannot be in the future."), "birth_in_future")


def validate_dispatched_on(value: date) -> None:
    _not_in_future(value, _("The dispatch date cannot be in the future."), "dispatched_in_future")


def intake_date_errors(
    *,
    received_on: date | None,
    requester_letter_date: date | None,
    requester_deadline: date | None,
) -> dict[str, ValidationError]:
    """Checks between the dates of an incoming request, by field name."""
    errors: dict[str, ValidationError] = {}
    if requester_letter_date and received_on and requester_letter_date > received_on:
        errors["requester_letter_date"] = ValidationError(
            _("The requester's letter cannot be dated after its receipt."),
            code="letter_after_receipt",
        )
    if requester_deadline and requester_letter_date and requester_deadline < requester_letter_date:
        errors["requester_deadline"] = ValidationError(
            _("The requester's deadline cannot be before the date of their letter."),
            code="deadline_before_letter",
        )
    return errors
