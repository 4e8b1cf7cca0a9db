"""Letterhead logo checks, signing credentials and the demo PKI command."""

from __future__ import annotations

import io

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils.datastructures import MultiValueDict
from PIL import Image

from letters import certificates
from letters.admin import LetterheadForm, SigningCredentialForm
from letters.credentials import CredentialError, inspect_pkcs12, store_credential
from letters.models import Letterhead, SigningCredential
from letters.validators import validate_logo

from .conftest import SIGNING_PASSPHRASE


def _image(fmt: str, size=(30, 20), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 60, 110)).save(out, format=fmt, **save)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_png_and_jpeg_logos_are_accepted(fmt):
    validate_logo(io.BytesIO(_image(fmt)))


@pytest.mark.parametrize(
    "content",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>',
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b"MZ\x90\x00 this is an exe",
        b"%PDF-1.4 not an image",
        b"\x89PNG\r\n\x1a\n truncated",
        b"\xff\xd8\xff\xe0 truncated jpeg",
    ],
)
def test_other_files_are_refused_whatever_their_name(content):
    with pytest.raises(ValidationError):
        validate_logo(SimpleUploadedFile("logo.png", content, content_type="image/png"))


def test_a_gif_named_png_is_refused():
    with pytest.raises(ValidationError):
        validate_logo(io.BytesIO(_image("GIF")))


def test_pixel_flood_is_refused():
    # A 1-bit PNG of 20000 x 20000 pixels, a few kilobytes on disk.
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, format="PNG")
    with pytest.raises(ValidationError):
        validate_logo(io.BytesIO(out.getvalue()))


def test_the_admin_form_reencodes_the_logo_without_metadata(db):
    exif = Image.Exif()
    exif[0x010E] = "GPS CANARYEXIF"  # ImageDescription
    upload = SimpleUploadedFile("logo.jpg", _image("JPEG", exif=exif), content_type="image/jpeg")
    form = LetterheadForm(
        data={"name": "CPAS de Namur", "city": "Namur"},
        files=MultiValueDict({"logo": [upload]}),
        instance=Letterhead.load(),
    )
    assert form.is_valid(), form.errors
    letterhead = form.save()
    assert letterhead.logo_content_type == "image/jpeg"
    stored = letterhead.logo_bytes()
    assert stored is not None
    assert b"CANARYEXIF" not in stored[0]


def test_the_letterhead_is_a_singleton(db):
    assert Letterhead.load().pk == Letterhead.load().pk == 1
    assert Letterhead.objects.count() == 1


def _p12(pki, passphrase: bytes, **kwargs) -> bytes:
    issued = certificates.issue_signer(pki.ca, common_name="Marie Lambert", organisation="CPAS")
    return certificates.to_pkcs12(issued, [pki.ca.certificate], passphrase)


def test_a_credential_is_stored_under_the_server_passphrase(pki, personas):
    data = _p12(pki, b"uploaded")
    credential = store_credential(personas["dg"], data, b"uploaded")
    stored = bytes(SigningCredential.objects.get(pk=credential.pk).pkcs12)
    with pytest.raises(ValueError, match="Invalid password"):
        pkcs12.load_key_and_certificates(stored, b"uploaded")
    key, certificate, _ = pkcs12.load_key_and_certificates(stored, SIGNING_PASSPHRASE.encode())
    assert key is not None
    assert certificate is not None
    assert "Marie Lambert" in credential.subject
    assert len(credential.fingerprint_sha256) == 64
    assert credential.is_valid_on()


def test_a_wrong_passphrase_or_a_non_p12_is_refused(pki):
    data = _p12(pki, b"uploaded")
    with pytest.raises(CredentialError):
        inspect_pkcs12(data, b"wrong")
    with pytest.raises(CredentialError):
        inspect_pkcs12(b"not a p12", b"")


def test_the_credential_admin_form_checks_the_p12(pki, personas):
    data = _p12(pki, b"uploaded")
    # The personas with a signing role already hold a test credential.
    SigningCredential.objects.filter(user=personas["president"]).delete()
    bad = SigningCredentialForm(
        data={"user": personas["president"].pk, "passphrase": "wrong"},
        files=MultiValueDict({"pkcs12_file": [SimpleUploadedFile("x.p12", data)]}),
    )
    assert not bad.is_valid()
    good = SigningCredentialForm(
        data={"user": personas["president"].pk, "passphrase": "uploaded"},
        files=MultiValueDict({"pkcs12_file": [SimpleUploadedFile("x.p12", data)]}),
    )
    assert good.is_valid(), good.errors


def test_make_demo_certificates(tmp_path, personas, acting_dg):
    out = tmp_path / "pki"
    call_command("make_demo_certificates", "--out", str(out), "--tsa", stdout=io.StringIO())
    assert (out / "ca.pem").exists()
    assert (out / "tsa.pem").exists()
    assert b"ENCRYPTED" in (out / "ca-key.pem").read_bytes()
    users = set(SigningCredential.objects.values_list("user__username", flat=True))
    assert users == {"dg", "president", "acting_dg"}
    first_root = (out / "ca.pem").read_bytes()
    call_command("make_demo_certificates", "--out", str(out), "president", stdout=io.StringIO())
    assert (out / "ca.pem").read_bytes() == first_root  # the root is reused


def test_rotating_the_server_passphrase(pki, personas):
    from letters.credentials import rewrap_all

    credential = store_credential(personas["dg"], _p12(pki, b"uploaded"), b"uploaded")
    assert (
        rewrap_all(SIGNING_PASSPHRASE.encode(), b"new server passphrase")
        == SigningCredential.objects.count()
    )
    stored = bytes(SigningCredential.objects.get(pk=credential.pk).pkcs12)
    key, _, _ = pkcs12.load_key_and_certificates(stored, b"new server passphrase")
    assert key is not None
