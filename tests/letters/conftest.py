"""Fixtures for the letters: a test PKI, signing credentials for the
signers, a letterhead, and helpers to sign a reply through the services."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from pypdf import PdfReader

from accounts.models import User
from letters import certificates
from letters.credentials import store_credential
from letters.models import Letterhead, SigningCredential
from letters.signing import load_trust_roots
from requests_app.models import Signature

SIGNING_PASSPHRASE = "test-signing-passphrase"


@dataclass(frozen=True)
class Pki:
    ca: certificates.Issued
    tsa: certificates.Issued
    ca_path: Path

    @property
    def roots(self):
        return load_trust_roots([self.ca.certificate_pem])


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    ca = certificates.make_root_ca("CPAS de Test")
    tsa = certificates.issue_tsa(ca, organisation="CPAS de Test")
    path = tmp_path_factory.mktemp("pki") / "ca.pem"
    path.write_bytes(ca.certificate_pem)
    return Pki(ca, tsa, path)


@pytest.fixture
def _letters_rendered_once():
    """The letters are what these tests are about: the real renderer, always
    (overrides the project-wide stand-in of tests/conftest.py)."""


@pytest.fixture(autouse=True)
def _letters_settings(settings, pki):
    settings.HUISCLOS_SIGNING_PASSPHRASE = SIGNING_PASSPHRASE
    settings.HUISCLOS_SIGNING_TRUST_ROOTS = [str(pki.ca_path)]
    settings.HUISCLOS_TSA_URL = ""


def issue_credential(pki: Pki, user: User, title: str = "") -> SigningCredential:
    issued = certificates.issue_signer(
        pki.ca,
        common_name=user.get_full_name() or user.username,
        organisation="CPAS de Test",
        title=title,
    )
    p12 = certificates.to_pkcs12(issued, [pki.ca.certificate], b"upload-passphrase")
    return store_credential(user, p12, b"upload-passphrase")


@pytest.fixture
def signers(db, pki, personas):
    """The DG and the Président, with names and signing credentials."""
    for key, (first, last) in {
        "dg": ("Marie", "Lambert"),
        "president": ("Jean", "Dupont"),
    }.items():
        user = personas[key]
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])
        issue_credential(pki, user)
    return personas


@pytest.fixture
def letterhead(db) -> Letterhead:
    letterhead = Letterhead.load()
    letterhead.name = "CPAS de Namur"
    letterhead.address = "Rue de la Démonstration 1\n5000 Namur"
    letterhead.city = "Namur"
    letterhead.phone = "081 00 00 00"
    letterhead.email = "secretariat@cpas-demo.be"
    letterhead.website = "www.cpas-demo.be"
    letterhead.enterprise_number = "0000.000.097"
    letterhead.dpo_contact = "dpo@cpas-demo.be"
    letterhead.save()
    return letterhead


def reply_signatures(dr) -> list[Signature]:
    return list(Signature.objects.filter(reply=dr.reply).order_by("signed_at", "pk"))


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def revisions(pdf: bytes) -> list[bytes]:
    """Each revision of an incrementally updated PDF, as a complete file."""
    found = []
    start = 0
    while (index := pdf.find(b"%%EOF", start)) != -1:
        end = index + len(b"%%EOF")
        while end < len(pdf) and pdf[end : end + 1] in (b"\r", b"\n"):
            end += 1
        found.append(pdf[:end])
        start = end
    return found


def inflated(pdf: bytes) -> bytes:
    """The file's bytes followed by every Flate stream, decompressed."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n", pdf):
        data = pdf[match.end() :]
        try:
            parts.append(zlib.decompressobj().decompress(data, 10_000_000))
        except zlib.error:
            continue
    return b"\n".join(parts)


def metadata_strings(pdf: bytes) -> str:
    """The Info dictionary and the XMP packet of the last revision."""
    reader = PdfReader(io.BytesIO(pdf))
    info = dict(reader.metadata or {})
    xmp = reader.root_object.get("/Metadata")
    xmp_text = xmp.get_object().get_data().decode("utf-8", "replace") if xmp else ""
    return "\n".join(f"{k}={v}" for k, v in info.items()) + "\n" + xmp_text


def normalised(text: str) -> str:
    return " ".join(text.split())


PDFSIG_VALID = "Signature Validation: Signature is Valid."


def pdfsig(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "pdfsig.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdfsig", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    return result.stdout


requires_pdfsig = pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils")


def sign_in_order(dr, first: User, second: User):
    """Both signatures through requests_app.services, each followed by the
    letter's PAdES signature (idempotent if the workflow already signed)."""
    from letters import services as letter_services
    from letters.models import ReplyDocument
    from requests_app import services
    from tests.conftest import fresh_otp

    letter_services.create_reply_document(dr.reply)
    for actor in (first, second):
        signature = services.sign_reply(dr, actor=actor, otp=fresh_otp(actor))
        letter_services.sign_reply_document(signature)
    return ReplyDocument.objects.get(reply=dr.reply)


def record_signature(dr, user: User, capacity: str, *, acting: bool = False) -> Signature:
    """A Signature row made directly, without the workflow (which, once it
    signs the letter itself, would sign before the test could choose how)."""
    return Signature.objects.create(
        reply=dr.reply, signer=user, capacity=capacity, is_acting=acting
    )
