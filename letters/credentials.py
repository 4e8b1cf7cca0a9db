"""Signers' PKCS#12 credentials, as stored in `SigningCredential`.

Design: an uploaded PKCS#12 is opened with the passphrase typed by the
administrator, checked (a key, a certificate that matches it, currently
valid, allowed to sign), then re-encrypted under the server-wide
passphrase `settings.HUISCLOS_SIGNING_PASSPHRASE` (environment variable or
Docker secret file) before it reaches the database. The uploaded passphrase
is never stored. Rotating the server passphrase means re-wrapping every
row (`rewrap_all`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .certificates import pkcs12_from_parts
from .models import SigningCredential

DEVELOPMENT_PASSPHRASE = "insecure-development-signing-passphrase"
PKCS12_MAX_BYTES = 64 * 1024


class CredentialError(ValueError):
    """A PKCS#12 that cannot be used; the message is shown to the administrator."""


def signing_passphrase() -> bytes:
    value = getattr(settings, "HUISCLOS_SIGNING_PASSPHRASE", "")
    if not value:
        if not settings.DEBUG:
            raise ImproperlyConfigured(
                "HUISCLOS_SIGNING_PASSPHRASE (or HUISCLOS_SIGNING_PASSPHRASE_FILE) "
                "must be set to store or use signing credentials."
            )
        value = DEVELOPMENT_PASSPHRASE
    return str(value).encode()


@dataclass(frozen=True)
class CredentialInfo:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    certificate: x509.Certificate
    chain: list[x509.Certificate]
    subject: str
    issuer: str
    serial_number: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime


def inspect_pkcs12(
    data: bytes, passphrase: bytes, *, require_current: bool = True
) -> CredentialInfo:
    if len(data) > PKCS12_MAX_BYTES:
        raise CredentialError(_("The PKCS#12 file is too large (64 kB at most)."))
    try:
        key, certificate, chain = pkcs12.load_key_and_certificates(data, passphrase or None)
    except (ValueError, TypeError):
        raise CredentialError(
            _(
                "The file could not be opened: it is not a PKCS#12 (.p12/.pfx) or the "
                "passphrase is wrong."
            )
        ) from None
    if key is None or certificate is None:
        raise CredentialError(_("The PKCS#12 must contain a private key and its certificate."))
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CredentialError(_("Only EC and RSA keys are accepted."))
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        raise CredentialError(_("The private key does not match the certificate."))
    now = timezone.now()
    valid_now = certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc
    if require_current and not valid_now:
        raise CredentialError(_("The certificate is not valid today."))
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        raise CredentialError(_("The certificate does not allow signing."))
    return CredentialInfo(
        key=key,
        certificate=certificate,
        chain=list(chain),
        subject=certificate.subject.rfc4514_string()[:500],
        issuer=certificate.issuer.rfc4514_string()[:500],
        serial_number=format(certificate.serial_number, "x")[:80],
        fingerprint_sha256=hashlib.sha256(
            certificate.public_bytes(serialization.Encoding.DER)
        ).hexdigest(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


def _rewrap(info: CredentialInfo, passphrase: bytes) -> bytes:
    return pkcs12_from_parts(info.key, info.certificate, info.chain, passphrase)


def store_credential(user: User, data: bytes, passphrase: bytes) -> SigningCredential:
    """Check an uploaded PKCS#12 and store it re-encrypted for `user`."""
    info = inspect_pkcs12(data, passphrase)
    wrapped = _rewrap(info, signing_passphrase())
    with transaction.atomic():
        credential, _ = SigningCredential.objects.update_or_create(
            user=user,
            defaults={
                "pkcs12": wrapped,
                "subject": info.subject,
                "issuer": info.issuer,
                "serial_number": info.serial_number,
                "fingerprint_sha256": info.fingerprint_sha256,
                "not_before": info.not_before,
                "not_after": info.not_after,
            },
        )
    return credential


def rewrap_all(old_passphrase: bytes, new_passphrase: bytes) -> int:
    """Re-encrypt every stored credential under a new server passphrase."""
    count = 0
    with transaction.atomic():
        for credential in SigningCredential.objects.select_for_update():
            info = inspect_pkcs12(bytes(credential.pkcs12), old_passphrase, require_current=False)
            credential.pkcs12 = _rewrap(info, new_passphrase)
            credential.save(update_fields=["pkcs12", "updated_at"])
            count += 1
    return count
