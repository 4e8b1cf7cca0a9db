"""Official letters: the letterhead, the signers' credentials and the stored
PDF of each reply.

Every file here lives in `common.storage.private_storage`, never under a
served URL. Names of stored files are generated on the server.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common.storage import private_storage
from common.storage import storage as private_storage_callable
from requests_app.models import Reply

from .validators import sniff_image_type, validate_logo

# The letterhead's default name, and fragments of the demonstration data
# (README, benches and tests fill the letterhead with them): a letterhead
# that still holds them is not the centre's own.
DEFAULT_NAME = "Centre public d'action sociale"
PLACEHOLDER_FRAGMENTS = (
    "démonstration",
    "demonstration",
    "cpas-demo",
    "example.",
    "exemple",
)
# Numbers of the demonstration data, compared by their digits.
PLACEHOLDER_NUMBERS = ("081000000", "0000000097")


def _is_placeholder(value: str) -> bool:
    lowered = value.lower()
    digits = "".join(c for c in value if c.isdigit())
    return any(fragment in lowered for fragment in PLACEHOLDER_FRAGMENTS) or (
        digits in PLACEHOLDER_NUMBERS
    )


def new_logo_name(instance: Letterhead, filename: str) -> str:
    return f"letterhead/{uuid.uuid4().hex}"


def new_document_name(instance: ReplyDocument, filename: str) -> str:
    return f"replies/{uuid.uuid4().hex}.pdf"


class Letterhead(models.Model):
    """The CPAS's letterhead: one row, edited in the admin."""

    SINGLETON_ID: ClassVar[int] = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    name = models.CharField(_("name of the CPAS"), max_length=200, default=DEFAULT_NAME)
    address = models.TextField(_("address"), blank=True, help_text=_("One line per address line."))
    city = models.CharField(
        _("place for the date"),
        max_length=100,
        default="Namur",
        help_text=_("Used in “Namur, 3 November 2026”."),
    )
    phone = models.CharField(_("telephone"), max_length=50, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    enterprise_number = models.CharField(_("enterprise number (BCE)"), max_length=20, blank=True)
    dpo_contact = models.TextField(_("contact of the data protection officer"), blank=True)
    logo = models.FileField(
        _("logo (PNG or JPEG)"),
        storage=private_storage_callable,
        upload_to=new_logo_name,
        blank=True,
        validators=[validate_logo],
    )
    logo_content_type = models.CharField(max_length=20, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("letterhead")
        verbose_name_plural = _("letterhead")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="letterhead_singleton")
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The logo's type comes from its content, never from its name.
        if not self.logo:
            self.logo_content_type = ""
        elif not getattr(self.logo, "_committed", True):
            self.logo.seek(0)
            self.logo_content_type = sniff_image_type(self.logo.read(16)) or ""
            self.logo.seek(0)
        else:
            with private_storage.open(self.logo.name, "rb") as handle:
                self.logo_content_type = sniff_image_type(handle.read(16)) or ""
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> Letterhead:
        letterhead, _ = cls.objects.get_or_create(id=cls.SINGLETON_ID)
        return letterhead

    def missing_fields(self) -> list[str]:
        """What a letter needs and the letterhead lacks, as labels for the
        administrator: the centre's own name, its address, a contact
        (telephone or e-mail) and its data protection officer. A field still
        holding the model's default or the demonstration data counts as missing.
        """
        missing = []
        name = self.name.strip()
        if not name or name == DEFAULT_NAME or _is_placeholder(name):
            missing.append(gettext("the name of the CPAS (e.g. “CPAS de Namur”)"))
        if not self.address_lines() or _is_placeholder(self.address):
            missing.append(gettext("its postal address"))
        contacts = [c for c in (self.phone.strip(), self.email.strip()) if c]
        if not contacts or any(_is_placeholder(c) for c in contacts):
            missing.append(gettext("a telephone number or an e-mail address"))
        if not self.dpo_contact.strip() or _is_placeholder(self.dpo_contact):
            missing.append(gettext("the contact of the data protection officer"))
        if _is_placeholder(self.website) or _is_placeholder(self.enterprise_number):
            missing.append(gettext("the website and enterprise number, or leave them empty"))
        return missing

    def address_lines(self) -> list[str]:
        return [line.strip() for line in self.address.splitlines() if line.strip()]

    def has_logo(self) -> bool:
        return bool(self.logo) and self.logo_content_type in ("image/png", "image/jpeg")

    def logo_bytes(self) -> tuple[bytes, str] | None:
        """The uploaded logo and its content type, if any."""
        if not self.has_logo():
            return None
        with private_storage.open(self.logo.name, "rb") as handle:
            return handle.read(), self.logo_content_type


class SigningCredential(models.Model):
    """A signer's PKCS#12 key and certificate.

    The PKCS#12 is stored re-encrypted under the server-wide passphrase
    `HUISCLOS_SIGNING_PASSPHRASE` (read from the environment or a secret
    file), never under the passphrase it was uploaded with, which is not
    kept. A database dump alone therefore yields no usable key; the server
    that holds the passphrase can sign, and only does so inside `sign_reply`
    after the signer re-entered their password.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        related_name="signing_credential",
        verbose_name=_("signer"),
    )
    pkcs12 = models.BinaryField(editable=False)
    subject = models.CharField(_("certificate subject"), max_length=500, editable=False)
    issuer = models.CharField(_("issuer"), max_length=500, editable=False)
    serial_number = models.CharField(_("serial number"), max_length=80, editable=False)
    fingerprint_sha256 = models.CharField(
        _("SHA-256 fingerprint"), max_length=64, unique=True, editable=False
    )
    not_before = models.DateTimeField(_("valid from"), editable=False)
    not_after = models.DateTimeField(_("valid until"), editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    if TYPE_CHECKING:
        user_id: int

    class Meta:
        verbose_name = _("signing certificate")
        verbose_name_plural = _("signing certificates")

    def __str__(self) -> str:
        return f"{self.user} — {self.subject}"

    def is_valid_on(self, moment: datetime | None = None) -> bool:
        moment = moment or timezone.now()
        return self.not_before <= moment <= self.not_after


class ReplyDocument(models.Model):
    """The official PDF of a reply: rendered once, then signed twice.

    Each signature is an incremental update of the same file; the stored file
    is replaced by the new bytes and `sha256` always describes the current
    file.
    """

    reply = models.OneToOneField(Reply, models.PROTECT, related_name="document")
    file = models.FileField(storage=private_storage_callable, upload_to=new_document_name)
    sha256 = models.CharField(max_length=64)
    revision = models.PositiveSmallIntegerField(
        default=1,
        help_text="1 once rendered and prepared, then one more per signature.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    if TYPE_CHECKING:
        reply_id: int

    class Meta:
        verbose_name = _("signed letter")
        verbose_name_plural = _("signed letters")

    def __str__(self) -> str:
        return f"{self.reply.request} r{self.revision}"

    def read(self) -> bytes:
        with private_storage.open(self.file.name, "rb") as handle:
            data: bytes = handle.read()
        return data


class DocumentValidation(models.Model):
    """One validation of a stored letter's signatures, kept with the hash of
    the bytes it validated.

    Validating both PAdES signatures costs tens of milliseconds: the request
    page shows the latest record for the file as it is now instead of
    validating on every view. A record is written when a signature stores
    the file (`written`), when someone asks for it on the request page
    (`on_demand`, audited) and by the nightly `verify_letters`; a nightly
    result identical to the latest nightly record of the same file only
    moves its `confirmed_at` (one row a night per letter would grow the
    table by the number of letters every day). `report` holds what `signing.validate` found, per
    signature: the certificate's subject (the signer as the page already
    shows it), its fingerprint and the flags; nothing of the letter's text.
    """

    class Trigger(models.TextChoices):
        WRITTEN = "written", _("when the letter was signed")
        ON_DEMAND = "on_demand", _("on request")
        NIGHTLY = "nightly", _("by the nightly verification")

    # Indexed by `letters_validation_latest` below, which starts with it.
    document = models.ForeignKey(
        ReplyDocument, models.PROTECT, related_name="validations", db_index=False
    )
    # The SHA-256 of the bytes validated; the page trusts the record only
    # while the stored file and `document.sha256` still hash to it.
    sha256 = models.CharField(max_length=64)
    revision = models.PositiveSmallIntegerField()
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    validated_at = models.DateTimeField(default=timezone.now)
    # The last validation that found exactly this (nightly runs).
    confirmed_at = models.DateTimeField(default=timezone.now)
    # The file matched `document.sha256`, every signature in it is intact,
    # valid and trusted, nothing was added after the last one, and the file
    # holds exactly the signatures the database records for the letter.
    ok = models.BooleanField()
    # Both signature fields are signed.
    complete = models.BooleanField()
    report = models.JSONField()

    if TYPE_CHECKING:
        document_id: int

    class Meta:
        verbose_name = _("check of a signed letter")
        verbose_name_plural = _("checks of signed letters")
        indexes = [
            # The page's read: the latest record of a document for a hash.
            models.Index(fields=["document", "sha256", "-id"], name="letters_validation_latest")
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sha256__regex=r"^[0-9a-f]{64}$"),
                name="letters_validation_sha256_hex",
            ),
            models.CheckConstraint(
                condition=models.Q(trigger__in=["written", "on_demand", "nightly"]),
                name="letters_validation_trigger_known",
            ),
            models.CheckConstraint(
                condition=models.Q(confirmed_at__gte=models.F("validated_at")),
                name="letters_validation_confirmed_after",
            ),
            # Both fields signed is only claimed of a file that checks out.
            models.CheckConstraint(
                condition=models.Q(complete=False) | models.Q(ok=True),
                name="letters_validation_complete_is_ok",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document} {self.trigger} {self.validated_at:%Y-%m-%d %H:%M}"
