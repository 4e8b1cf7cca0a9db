"""The letters' use cases, called by requests_app.services.

* `create_reply_document(reply)`: render the reply's letter as PDF/A, add
  the two empty signature fields and store it. Call it right after the
  Reply and its items are created, in the same transaction.
* `rerender_reply_document(reply)`: render the unsigned letter again after
  the DG changed their paragraph; refused once a signature is on it.
* `sign_reply_document(signature)`: add the PAdES signature of
  `signature.signer`, in the field of `signature.capacity`, to the stored
  PDF. Call it right after the Signature row is created, in the same
  transaction: if signing fails, the signature is not recorded.
* `verify_reply_document(reply)`: check the stored file's hash and both
  signatures.
* `revalidate_document(document, trigger=...)`: validate the stored file
  again and record the result (`DocumentValidation`); `recorded_check`
  reads the latest record for the request page, without validating. Each
  signature records the validation of the bytes it stored.

Each function raises `LetterUnavailable` (with a translated message for the
user) when it cannot do its job. Files are written under new names; the
file a document replaces is deleted once the transaction commits. A file
written by a transaction that rolls back stays behind, unreferenced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper

from common.storage import StorageUnavailable, private_storage, track_write
from requests_app.models import Reply, Signature

from . import rendering, signing, validation
from .composition import compose_reply_body as compose_reply_body
from .credentials import signing_passphrase
from .errors import LetterUnavailable as LetterUnavailable
from .models import DocumentValidation, Letterhead, ReplyDocument, SigningCredential
from .validation import FIELD_FOR_CAPACITY as FIELD_FOR_CAPACITY
from .validation import RecordedCheck as RecordedCheck
from .validation import recorded_check as recorded_check


def trust_root_paths() -> list[Path]:
    configured = getattr(settings, "HUISCLOS_SIGNING_TRUST_ROOTS", None)
    if configured is None:
        demo = Path(settings.BASE_DIR) / "var" / "demo-pki" / "ca.pem"
        configured = [demo] if settings.DEBUG and demo.exists() else []
    return [Path(p) for p in configured]


def trust_roots() -> list[object]:
    """The configured roots; a missing file trusts nothing (fails closed)."""
    return list(
        signing.load_trust_roots(p.read_bytes() for p in trust_root_paths() if p.is_file())
    )


def default_timestamper() -> TimeStamper | None:
    url = getattr(settings, "HUISCLOS_TSA_URL", "")
    return HTTPTimeStamper(url, timeout=10) if url else None


def _store(document: ReplyDocument, pdf: bytes) -> None:
    old_name = document.file.name if document.file else ""
    try:
        document.file.save("reply.pdf", ContentFile(pdf), save=False)
    except StorageUnavailable as error:
        raise LetterUnavailable(
            gettext(
                "The letter could not be stored: the server's storage is unavailable. "
                "Nothing was recorded; try again later and notify the administrator."
            ),
            cause="storage_unavailable",
        ) from error
    track_write(document.file.name)
    document.sha256 = signing.sha256(pdf)
    document.save()
    if old_name and old_name != document.file.name:
        transaction.on_commit(lambda: private_storage.delete(old_name))


def create_reply_document(reply: Reply) -> ReplyDocument:
    """Render, prepare and store the reply's PDF; idempotent."""
    with transaction.atomic():
        existing = ReplyDocument.objects.filter(reply=reply).first()
        if existing is not None:
            return existing
        document = ReplyDocument(reply=reply, revision=1)
        _store(document, _render_unsigned(reply))
        return document


def _render_unsigned(reply: Reply) -> bytes:
    letterhead = Letterhead.load()
    html = rendering.letter_html(reply, letterhead, include_signatures=False)
    try:
        pdf = rendering.render_html(
            html,
            reference=reply.request.reference,
            fetcher=rendering.letter_fetcher(letterhead),
        )
        return signing.prepare_for_signature(pdf)
    except (rendering.LetterRenderingError, signing.LetterSigningError, OSError) as error:
        raise LetterUnavailable(
            gettext("The letter could not be produced. Notify the administrator."),
            cause="letter_rendering_failed",
        ) from error


def rerender_reply_document(reply: Reply) -> ReplyDocument:
    """Render the unsigned letter again (the DG changed their paragraph) and
    replace the stored file, one revision up. Refused once anyone signed it:
    a signature covers the bytes it signed."""
    with transaction.atomic():
        document = ReplyDocument.objects.select_for_update().filter(reply=reply).first()
        if document is None:
            return create_reply_document(reply)
        if reply.signatures.exists() or signing.signed_fields(_read_checked(document)):
            raise LetterUnavailable(
                gettext("The letter has been signed: it can no longer be changed."),
                cause="letter_already_signed",
            )
        document.revision += 1
        _store(document, _render_unsigned(reply))
        return document


def _read_checked(document: ReplyDocument) -> bytes:
    pdf = document.read()
    if signing.sha256(pdf) != document.sha256:
        raise LetterUnavailable(
            gettext(
                "The letter's file no longer matches its recorded fingerprint: signing is "
                "impossible. Notify the administrator."
            ),
            cause="letter_hash_mismatch",
        )
    return pdf


def sign_reply_document(
    signature: Signature, *, timestamper: TimeStamper | None = None
) -> ReplyDocument:
    """Sign the stored letter for `signature`; idempotent for one signature."""
    with transaction.atomic():
        return _sign(signature, timestamper)


def _sign(signature: Signature, timestamper: TimeStamper | None) -> ReplyDocument:
    reply = signature.reply
    create_reply_document(reply)
    document = ReplyDocument.objects.select_for_update().get(reply=reply)
    pdf = _read_checked(document)
    field = FIELD_FOR_CAPACITY[signature.capacity]
    already = signing.signed_fields(pdf)
    if field in already:
        return document
    credential = SigningCredential.objects.filter(user_id=signature.signer_id).first()
    if credential is None:
        raise LetterUnavailable(
            gettext("You have no signing certificate: ask the administrator to register one."),
            cause="no_signing_credential",
        )
    if not credential.is_valid_on(timezone.now()):
        raise LetterUnavailable(
            gettext("Your signing certificate is not valid today."),
            cause="signing_credential_expired",
        )
    try:
        appearance = rendering.signature_stamp(
            signer_name=rendering.display_name(signature.signer),
            capacity=signature.capacity,
            acting=signature.is_acting,
            signed_at=signature.signed_at,
            reference=reply.request.reference,
        )
        signed = signing.sign(
            pdf,
            field=field,
            credential_p12=bytes(credential.pkcs12),
            passphrase=signing_passphrase(),
            certify=not already,
            timestamper=timestamper if timestamper is not None else default_timestamper(),
            appearance=appearance,
        )
    except (rendering.LetterRenderingError, signing.LetterSigningError) as error:
        raise LetterUnavailable(
            gettext("The letter could not be signed. Notify the administrator."),
            cause="signing_failed",
        ) from error
    document.revision += 1
    _store(document, signed)
    # Validated once here, in the signing transaction (before the caller's
    # audit append), so that pages read the result instead of validating.
    validation.record(
        document, signed, trigger=DocumentValidation.Trigger.WRITTEN, roots=trust_roots()
    )
    return document


@dataclass(frozen=True)
class DocumentCheck:
    document: ReplyDocument
    hash_matches: bool
    report: signing.ValidationReport

    @property
    def ok(self) -> bool:
        return self.hash_matches and self.report.complete

    def problems(self) -> list[str]:
        found = [] if self.hash_matches else [gettext("the file does not match its fingerprint")]
        return found + self.report.problems()


def verify_reply_document(reply: Reply) -> DocumentCheck:
    document = ReplyDocument.objects.get(reply=reply)
    pdf = document.read()
    return DocumentCheck(
        document=document,
        hash_matches=signing.sha256(pdf) == document.sha256,
        report=signing.validate(pdf, trust_roots()),
    )


def revalidate_document(
    document: ReplyDocument, *, trigger: str, roots: list[object] | None = None
) -> DocumentValidation:
    """Validate the stored file again and record the result; `roots` (the
    configured trust roots by default) spares reading them for each letter
    of a nightly run. Raises `LetterUnavailable` if the file cannot be read."""
    return validation.revalidate(
        document,
        trigger=trigger,
        roots=trust_roots() if roots is None else roots,
    )
