"""Two PAdES signatures on a letter, as incremental updates (pyHanko).

The scheme, measured with pyHanko 0.38 and poppler's pdfsig (see
tests/letters/test_signing.py):

* `prepare_for_signature` adds BOTH empty signature fields, SigDirector and
  SigPresident, at the rectangles the template reserved on the last page,
  before any signature. Creating a field after a certification signature
  would invalidate it (pyHanko reports `SuspiciousModification`).
* Whoever signs FIRST, Président or Directeur général, makes a
  certification signature with DocMDP P=2 (form filling and signing only);
  the second makes an approval signature. Both stay valid in both orders,
  and any later revision (annotation, content change) makes the first one
  fail its DocMDP check and leaves the last one short of the end of the
  file. Putting a lock (FieldMDP P=1) on the fields does not work when the
  order is not known in advance: a lock on the first field forbids the
  second signature, and adding one while signing second invalidates the
  certification signature.
* The visible appearance is a one-page PDF rendered by WeasyPrint (embedded
  fonts), imported as a form XObject: pyHanko's default stamp uses the
  non-embedded Courier font, which PDF/A forbids. Without an appearance,
  the field keeps the empty appearance it was created with.

This module has no Django dependency: the workflow calls it through
letters.services.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import pem  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from pyhanko.pdf_utils import content, generic, layout
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import VENDOR
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import constants
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko.stamp import NoOpStampStyle, StaticStampStyle
from pyhanko_certvalidator import ValidationContext

from . import stamps

FIELD_DIRECTOR = "SigDirector"
FIELD_PRESIDENT = "SigPresident"
# Named destinations written by WeasyPrint for the ids of the template's
# signature rectangles (top-left corner, and bottom-right with "-end").
FIELD_ANCHORS = {FIELD_DIRECTOR: "sig-director", FIELD_PRESIDENT: "sig-president"}
# How the pages name the fields (their names are codes a PDF reader shows).
FIELD_LABELS = {
    FIELD_DIRECTOR: _("signature of the Director general"),
    FIELD_PRESIDENT: _("signature of the President"),
}


def field_label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name))


SIGNATURE_FIELDS = tuple(FIELD_ANCHORS)

# Space for the CMS object, in hexadecimal digits (two per byte), given to
# pyHanko to skip its dry run, which halves signing time. It is sized to
# the signer's certificates (`_hex_digits_reserved`): pyHanko parses the
# whole of /Contents one digit at a time (about 0.8 ms per 1,000 digits),
# each time a reader loads the signature, in every later signature and
# validation. EC P-256 with a 2-certificate chain needs about 1.5 kB; an
# RFC 3161 token adds 3 to 6 kB, hence the fixed allowance with a TSA. The
# fixed sizes below are the fallback when the estimate proves short.
BYTES_RESERVED = 8192
BYTES_RESERVED_WITH_TSA = 24576
TSA_TOKEN_HEX_DIGITS = 16384
# Signed attributes, SignerInfo and SignedData around the certificates.
CMS_OVERHEAD_BYTES = 512


class LetterSigningError(Exception):
    """The PDF cannot be prepared or signed as asked."""


def sha256(pdf: bytes) -> str:
    return hashlib.sha256(pdf).hexdigest()


# ---------------------------------------------------------------------------
# Preparing the fields


def _name_tree(node: Any) -> Iterable[tuple[str, Any]]:
    node = node.get_object()
    names = node.get("/Names")
    if names is not None:
        for i in range(0, len(names) - 1, 2):
            yield str(names[i]), names[i + 1]
    for kid in node.get("/Kids", ()):
        yield from _name_tree(kid)


def _page_refs(node: Any) -> list[Any]:
    obj = node.get_object()
    if obj.get("/Type") == "/Pages" or "/Kids" in obj:
        refs: list[Any] = []
        for kid in obj["/Kids"]:
            refs.extend(_page_refs(kid))
        return refs
    return [node]


def _ref_key(ref: Any) -> tuple[int, int]:
    return (ref.idnum, ref.generation)


def signature_boxes(pdf: bytes) -> dict[str, tuple[int, tuple[float, float, float, float]]]:
    """Page index and rectangle (x1, y1, x2, y2) reserved for each field."""
    return _signature_boxes(PdfFileReader(io.BytesIO(pdf), strict=False))


def _signature_boxes(
    reader: PdfFileReader,
) -> dict[str, tuple[int, tuple[float, float, float, float]]]:
    try:
        dests = dict(_name_tree(reader.root["/Names"]["/Dests"]))
    except KeyError:
        dests = {}
    pages = {
        _ref_key(ref): index for index, ref in enumerate(_page_refs(reader.root.raw_get("/Pages")))
    }
    boxes = {}
    for field_name, anchor in FIELD_ANCHORS.items():
        try:
            start = dests[anchor].get_object()
            end = dests[f"{anchor}-end"].get_object()
        except KeyError:
            raise LetterSigningError(
                f"The PDF has no rectangle reserved for {field_name}."
            ) from None
        if isinstance(start, generic.DictionaryObject):
            start, end = start["/D"], end["/D"]
        page = pages.get(_ref_key(start.raw_get(0)))
        if page is None or page != pages.get(_ref_key(end.raw_get(0))):
            raise LetterSigningError(f"The rectangle of {field_name} is not on one page.")
        left, top = float(start[2]), float(start[3])
        right, bottom = float(end[2]), float(end[3])
        boxes[field_name] = (page, (left, bottom, right, top))
    last_page = len(pages) - 1
    if any(page != last_page for page, _ in boxes.values()):
        raise LetterSigningError("The signature rectangles must be on the last page.")
    return boxes


def prepare_for_signature(pdf: bytes) -> bytes:
    """Add the two empty signature fields, before any signature."""
    # One reader for the checks and the update: each parse costs.
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    if _signed_field_names(writer.prev):
        raise LetterSigningError("The PDF is already signed: fields must exist before.")
    boxes = _signature_boxes(writer.prev)
    for field_name, (page, box) in boxes.items():
        fields.append_signature_field(
            writer,
            SigFieldSpec(
                field_name,
                on_page=page,
                box=box,  # type: ignore[arg-type]  # floats are accepted
                empty_field_appearance=True,
            ),
        )
    _align_producer(writer)
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def _align_producer(writer: IncrementalPdfFileWriter) -> None:
    """Keep /Producer equal in the Info dictionary and the XMP (PDF/A).

    pyHanko rewrites XMP pdf:Producer as its own name on every update, and
    only appends its name to the Info entry when missing: starting from its
    name makes both agree in every later revision.
    """
    info_ref = writer.trailer.raw_get("/Info") if "/Info" in writer.trailer else None
    if info_ref is None:
        return
    info = info_ref.get_object()
    info["/Producer"] = generic.TextStringObject(VENDOR)
    writer.mark_update(info_ref)


# ---------------------------------------------------------------------------
# Signing


class _PdfPageContent(content.PdfContent):
    """The first page of an in-memory PDF, as a form XObject."""

    def __init__(self, pdf: bytes) -> None:
        self._pdf = pdf
        super().__init__()

    def render(self) -> bytes:
        writer = self._ensure_writer
        xobj = writer.import_page_as_xobject(PdfFileReader(io.BytesIO(self._pdf)), page_ix=0)
        name = f"/Appearance{uuid.uuid4().hex}"
        self.resources.xobject[name] = xobj
        x1, y1, x2, y2 = xobj.get_object()["/BBox"]
        self.box = layout.BoxConstraints(width=abs(x2 - x1), height=abs(y2 - y1))
        return f"{name} Do".encode()


class _DrawnStamp(content.PdfContent):
    """A stamp drawn straight into the signature's appearance (stamps.py)."""

    def __init__(self, stamp: stamps.Stamp) -> None:
        self._stamp = stamp
        super().__init__(box=layout.BoxConstraints(width=stamps.WIDTH, height=stamps.HEIGHT))

    def render(self) -> bytes:
        drawing = stamps.draw(self._stamp)
        data, fonts = stamps.write_resources(self._ensure_writer, drawing)
        for name, ref in fonts.items():
            self.resources.font[name] = ref
        return data


def _stamp_style(appearance: bytes | stamps.Stamp | None) -> Any:
    if appearance is None:
        return NoOpStampStyle()
    background = (
        _DrawnStamp(appearance)
        if isinstance(appearance, stamps.Stamp)
        else _PdfPageContent(appearance)
    )
    return StaticStampStyle(
        background=background,
        background_opacity=1.0,
        border_width=0,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(0),  # type: ignore[no-untyped-call]
        ),
    )


class _PadesPdf17Signer(signers.PdfSigner):
    """A PdfSigner that keeps the letter a PDF 1.7 file, as PDF/A-2 requires.

    pyHanko raises the file to PDF 2.0 and declares ISO/TS 32002 when the
    key is ECDSA on a NIST curve. PAdES (ETSI EN 319 142-1, through the
    ESIC extension of PDF 1.7) already allows ECDSA, and Acrobat and
    poppler validate such signatures in 1.7 files; only RSA and ECDSA keys
    with SHA-256 reach this signer (see credentials.inspect_pkcs12).
    """

    def register_extensions(self, pdf_out: Any, *, md_algorithm: str) -> None:
        pdf_out.ensure_output_version(version=(1, 7))
        pdf_out.register_extension(constants.ESIC_EXTENSION_1)


def signed_fields(pdf: bytes) -> list[str]:
    """The names of the signature fields that hold a value (a signature)."""
    return _signed_field_names(PdfFileReader(io.BytesIO(pdf), strict=False))


def _signed_field_names(reader: PdfFileReader) -> list[str]:
    """The filled signature fields, by name, found by walking the form's
    fields without reading the signatures themselves: pyHanko's
    `embedded_signatures` parses each one's /Contents, a few milliseconds
    a signature. Whether a value is a sound signature is `validate`'s job."""
    try:
        roots = reader.root["/AcroForm"]["/Fields"]
    except KeyError:
        return []
    found: list[str] = []
    seen: set[tuple[int, int]] = set()

    def walk(kids: Any, prefix: str, inherited_type: Any) -> None:
        for kid in kids:
            if isinstance(kid, generic.IndirectObject):
                key = (kid.idnum, kid.generation)
                if key in seen:
                    continue
                seen.add(key)
            node = kid.get_object()
            if not isinstance(node, generic.DictionaryObject):
                continue
            partial = node.get("/T")
            name = prefix if partial is None else f"{prefix}.{partial}" if prefix else str(partial)
            field_type = node.get("/FT", inherited_type)
            if field_type == "/Sig" and "/V" in node:
                found.append(name)
            if "/Kids" in node:
                walk(node["/Kids"], name, field_type)

    walk(roots, "", None)
    return found


def sign(
    pdf: bytes,
    *,
    field: str,
    credential_p12: bytes,
    passphrase: bytes,
    certify: bool,
    timestamper: TimeStamper | None = None,
    appearance: bytes | stamps.Stamp | None = None,
) -> bytes:
    """Add a PAdES B-B (B-T with a timestamper) signature in `field`.

    `certify=True` for the first signature of the letter (DocMDP P=2),
    False for the second. `appearance` is what the field shows: a
    `stamps.Stamp`, drawn in it (rendering.signature_stamp makes one), or a
    one-page PDF the size of the field, imported as is.
    """
    if field not in SIGNATURE_FIELDS:
        raise LetterSigningError(f"Unknown signature field {field!r}.")
    stream = io.BytesIO(pdf)
    reader = PdfFileReader(stream, strict=False)
    already = _signed_field_names(reader)
    if field in already:
        raise LetterSigningError(f"The field {field} is already signed.")
    if certify and already:
        raise LetterSigningError("Only the first signature can be a certification.")
    if not certify and not already:
        raise LetterSigningError("The first signature must be a certification.")
    try:
        signer = signers.SimpleSigner.load_pkcs12_data(
            credential_p12, other_certs=(), passphrase=passphrase
        )
    except (ValueError, TypeError) as error:
        raise LetterSigningError("The PKCS#12 or its passphrase is wrong.") from error
    if signer is None:
        raise LetterSigningError("The PKCS#12 or its passphrase is wrong.")
    # The chain up to, not including, the root: a validator trusts the root
    # by having it, never by finding it in the signature.
    signer.embed_roots = False
    metadata = signers.PdfSignatureMetadata(
        field_name=field,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        certify=certify,
        docmdp_permissions=MDPPerm.FILL_FORMS,
    )

    def sign_in(writer: IncrementalPdfFileWriter, reserved: int) -> bytes:
        pdf_signer = _PadesPdf17Signer(
            metadata, signer=signer, timestamper=timestamper, stamp_style=_stamp_style(appearance)
        )
        out = pdf_signer.sign_pdf(writer, existing_fields_only=True, bytes_reserved=reserved)
        signed: bytes = out.getvalue()
        return signed

    try:
        try:
            # The writer updates the file the checks above read: one parse.
            return sign_in(
                IncrementalPdfFileWriter(stream, prev=reader, strict=False),
                _hex_digits_reserved(signer, timestamper),
            )
        except SigningError as error:
            if "larger than expected" not in str(error):
                raise
            # The estimate fell short: sign again, from a fresh parse (the
            # first attempt changed the objects it read), in the fixed space.
            return sign_in(
                IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False),
                BYTES_RESERVED_WITH_TSA if timestamper else BYTES_RESERVED,
            )
    except SigningError as error:
        raise LetterSigningError(f"pyHanko refused to sign: {error}") from error
    except TimestampRequestError as error:
        raise LetterSigningError(f"The timestamping authority failed: {error}") from error
    except stamps.StampError as error:
        raise LetterSigningError(f"The visible signature cannot be drawn: {error}") from error


def _hex_digits_reserved(signer: signers.SimpleSigner, timestamper: TimeStamper | None) -> int:
    """Room for the CMS object of `signer` (see BYTES_RESERVED)."""
    certificate = signer.signing_cert
    if certificate is None:
        return BYTES_RESERVED_WITH_TSA if timestamper else BYTES_RESERVED
    embedded = {
        c.dump() for c in signer.cert_registry if signer.embed_roots or c.self_signed == "no"
    } | {certificate.dump()}
    size: int = (
        sum(len(der) for der in embedded)
        # The issuer and serial number, twice (SignerInfo, ESS attribute).
        + 2 * len(certificate.issuer.dump())
        # ECDSA (DER) or RSA signature, rounded up.
        + certificate.public_key.bit_size // 4
        + 16
        + CMS_OVERHEAD_BYTES
    )
    return 2 * size + (TSA_TOKEN_HEX_DIGITS if timestamper else 0)


# ---------------------------------------------------------------------------
# Validation


@dataclass(frozen=True)
class SignatureReport:
    field: str
    signer_subject: str
    signer_fingerprint: str
    signing_time: datetime | None
    certification: bool
    intact: bool
    valid: bool
    trusted: bool
    coverage: str
    modification_level: str | None
    docmdp_ok: bool | None
    timestamp_valid: bool | None
    bottom_line: bool
    error: str = ""

    @property
    def ok(self) -> bool:
        return (
            self.bottom_line
            and self.intact
            and self.valid
            and self.trusted
            and self.docmdp_ok is not False
            and self.timestamp_valid is not False
        )


@dataclass(frozen=True)
class ValidationReport:
    signatures: list[SignatureReport]
    revisions: int
    modified_after_last_signature: bool
    unsigned_fields: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every signature valid and trusted, and nothing added after the last."""
        return (
            bool(self.signatures)
            and all(s.ok for s in self.signatures)
            and not self.modified_after_last_signature
        )

    @property
    def complete(self) -> bool:
        """`ok`, and both fields signed."""
        return self.ok and not self.unsigned_fields

    def problems(self) -> list[str]:
        found = []
        if not self.signatures:
            found.append(gettext("no signature"))
        for s in self.signatures:
            before = len(found)
            which = {"field": field_label(s.field)}
            if not s.intact:
                found.append(gettext("%(field)s: content changed since signing") % which)
            elif not s.valid:
                found.append(gettext("%(field)s: invalid signature") % which)
            if s.intact and s.valid and not s.trusted:
                found.append(gettext("%(field)s: certificate not recognised") % which)
            if s.docmdp_ok is False:
                if s.modification_level:
                    found.append(
                        gettext("%(field)s: changes not allowed after signing (%(level)s)")
                        % {**which, "level": s.modification_level}
                    )
                else:
                    found.append(
                        gettext("%(field)s: changes not allowed after signing (unknown)") % which
                    )
            if s.timestamp_valid is False:
                found.append(gettext("%(field)s: invalid timestamp") % which)
            if s.error:
                # pyHanko's own wording, as it reported the problem.
                found.append(gettext("%(field)s: %(error)s") % {**which, "error": s.error})
            if len(found) == before and not s.ok:
                found.append(gettext("%(field)s: signature not valid") % which)
        if self.modified_after_last_signature:
            found.append(gettext("the document was changed after the last signature"))
        for name in self.unsigned_fields:
            found.append(gettext("%(field)s: not signed yet") % {"field": field_label(name)})
        return found


def load_trust_roots(pem_or_der: Iterable[bytes]) -> list[asn1_x509.Certificate]:
    roots = []
    for data in pem_or_der:
        if pem.detect(data):
            for _, _, der in pem.unarmor(data, multiple=True):
                roots.append(asn1_x509.Certificate.load(der))
        else:
            roots.append(asn1_x509.Certificate.load(data))
    return roots


def validate(
    pdf: bytes,
    trust_roots: Sequence[asn1_x509.Certificate],
    *,
    expected_fields: Sequence[str] = SIGNATURE_FIELDS,
) -> ValidationReport:
    """Validate every signature offline against `trust_roots`."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    reports = []
    signatures = reader.embedded_signatures
    # One context for the letter's signatures: the second reuses the paths
    # the first built (the same roots, the same validation time).
    context = ValidationContext(trust_roots=list(trust_roots), allow_fetching=False)
    for embedded in signatures:
        cert = embedded.signer_cert
        base = {
            "field": str(embedded.field_name),
            "signer_subject": cert.subject.human_friendly,
            "signer_fingerprint": hashlib.sha256(cert.dump()).hexdigest(),
            "certification": embedded.sig_object.get("/Reference") is not None
            and any(
                ref.get("/TransformMethod") == "/DocMDP"
                for ref in embedded.sig_object["/Reference"]
            ),
        }
        try:
            status = validate_pdf_signature(embedded, context)
        except Exception as error:  # a malformed signature is a failed one
            reports.append(
                SignatureReport(
                    **base,
                    signing_time=None,
                    intact=False,
                    valid=False,
                    trusted=False,
                    coverage="",
                    modification_level=None,
                    docmdp_ok=False,
                    timestamp_valid=None,
                    bottom_line=False,
                    error=type(error).__name__,
                )
            )
            continue
        timestamp = status.timestamp_validity
        reports.append(
            SignatureReport(
                **base,
                signing_time=(timestamp.timestamp if timestamp else status.signer_reported_dt),
                intact=status.intact,
                valid=status.valid,
                trusted=status.trusted,
                coverage=status.coverage.name if status.coverage else "",
                modification_level=(
                    status.modification_level.name if status.modification_level else None
                ),
                docmdp_ok=status.docmdp_ok,
                timestamp_valid=(timestamp.valid and timestamp.intact) if timestamp else None,
                bottom_line=status.bottom_line,
            )
        )
    revisions = reader.xrefs.total_revisions
    last = max(signatures, key=lambda s: s.signed_revision, default=None)
    modified_after = last is not None and (
        last.signed_revision < revisions - 1
        or last.evaluate_signature_coverage() != SignatureCoverageLevel.ENTIRE_FILE
    )
    signed = {r.field for r in reports}
    return ValidationReport(
        signatures=reports,
        revisions=revisions,
        modified_after_last_signature=modified_after,
        unsigned_fields=[name for name in expected_fields if name not in signed],
    )
