"""Hostile scans are refused, by the web form and the API alike, and leave nothing behind.

Every file is built here, in a few bytes: polyglots that carry `%PDF-` after
another format's header, PDFs with scripts, actions, embedded files or
encryption, an image declaring more pixels than the cap. The service is the
authority (`requests_app.scan_checks`); the forms' cheap pre-check may stop a
file first, with its own French message.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from PIL import ExifTags, Image, PngImagePlugin
from pypdf import PdfWriter
from rest_framework.test import APIClient

from audit.models import AuditEvent
from requests_app import scan_checks
from requests_app.models import DisclosureRequest
from requests_app.scan_checks import ScanRefused, check_scan
from requests_app.validation import detect_scan_type
from tests.conftest import PDF_BYTES
from tests.requests_app.test_api import intake_payload
from tests.requests_app.test_views import intake_post, login

CANARY = b"CANARYMETA"

# ---------------------------------------------------------------------------
# Building the files


def pdf(*bodies: bytes, catalog: bytes = b"", page: bytes = b"") -> bytes:
    """A well-formed PDF with a correct xref: catalog, pages, one page, then `bodies`.

    The extra objects are numbered from 4 on.
    """
    objects = [
        b"<</Type/Catalog/Pages 2 0 R" + catalog + b">>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]" + page + b">>",
        *bodies,
    ]
    out = b"%PDF-1.7\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares these dimensions, with almost no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _chunk(b"IEND", b"")
    )


def image_bytes(fmt: str, **params) -> bytes:
    image = Image.new("RGB", (40, 30), (200, 180, 160))
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = CANARY.decode()
    exif[ExifTags.Base.ImageDescription] = CANARY.decode()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (50.0, 50.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (4.0, 21.0, 6.0)
    return exif


def jpeg_with_gps() -> bytes:
    return image_bytes(
        "JPEG",
        exif=gps_exif(),
        comment=CANARY,
        xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>" + CANARY + b"</x:xmpmeta>",
        quality=90,
    )


def png_with_metadata() -> bytes:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", CANARY.decode())
    text.add_itxt("XML:com.adobe.xmp", CANARY.decode())
    return image_bytes("PNG", pnginfo=text, exif=gps_exif())


def tiff_with_metadata() -> bytes:
    return image_bytes("TIFF", exif=gps_exif(), compression="tiff_lzw")


HTML_HEAD = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script>\n"

# name -> (bytes, reason given by check_scan)
HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "html first, pdf after": (lambda: HTML_HEAD + PDF_BYTES, "magic"),
    "zip carrying %PDF-": (lambda: b"PK\x03\x04\x14\x00" + b"\x00" * 24 + PDF_BYTES, "magic"),
    "exe carrying %PDF-": (lambda: b"MZ\x90\x00\x03" + b"\x00" * 59 + PDF_BYTES, "magic"),
    "svg carrying %PDF-": (
        lambda: (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><!--\n'
            + PDF_BYTES
            + b"-->"
        ),
        "magic",
    ),
    "leading space before %PDF-": (lambda: b" " + PDF_BYTES, "magic"),
    "pdf with OpenAction": (
        lambda: pdf(b"<</S/GoTo/D[3 0 R/Fit]>>", catalog=b"/OpenAction 4 0 R"),
        "pdf_action",
    ),
    "pdf with escaped OpenAction": (
        lambda: pdf(b"<</S/GoTo/D[3 0 R/Fit]>>", catalog=b"/Open#41ction 4 0 R"),
        "pdf_action",
    ),
    "pdf with page additional action": (
        lambda: pdf(b"<</S/GoTo/D[3 0 R/Fit]>>", page=b"/AA<</O 4 0 R>>"),
        "pdf_action",
    ),
    "pdf with JavaScript name tree": (
        lambda: pdf(
            b"<</Names[(x) 5 0 R]>>",
            b"<</S/JavaScript/JS(app.alert(1))>>",
            catalog=b"/Names<</JavaScript 4 0 R>>",
        ),
        "pdf_script",
    ),
    "pdf with escaped JavaScript": (
        lambda: pdf(
            b"<</Type/Annot/Subtype/Link/Rect[0 0 9 9]/A 5 0 R>>",
            b"<</S/J#61vaScript/J#53(app.alert(1))>>",
            page=b"/Annots[4 0 R]",
        ),
        "pdf_script",
    ),
    "pdf with Launch action": (
        lambda: pdf(
            b"<</Type/Annot/Subtype/Link/Rect[0 0 100 100]/A<</S/Launch/F(cmd.exe)>>>>",
            page=b"/Annots[4 0 R]",
        ),
        "pdf_action",
    ),
    "pdf with EmbeddedFiles": (
        lambda: pdf(
            b"<</Names[(a.exe) 5 0 R]>>",
            b"<</Type/Filespec/F(a.exe)/EF<</F 6 0 R>>>>",
            b"<</Length 2>>stream\nMZ\nendstream",
            catalog=b"/Names<</EmbeddedFiles 4 0 R>>",
        ),
        "pdf_embedded",
    ),
    "pdf with FileAttachment annotation": (
        lambda: pdf(
            b"<</Type/Annot/Subtype/FileAttachment/Rect[0 0 10 10]/FS<</F(a.exe)>>>>",
            page=b"/Annots[4 0 R]",
        ),
        "pdf_embedded",
    ),
    "encrypted pdf": (encrypted_pdf, "pdf_encrypted"),
    "truncated pdf": (lambda: PDF_BYTES[:120] + b"\n%%EOF\n", "pdf_unreadable"),
    "pdf without a catalog": (lambda: b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n", "pdf_unreadable"),
    "pdf with data after %%EOF": (
        lambda: PDF_BYTES + b"PK\x03\x04" + b"\x00" * 2000,
        "pdf_unreadable",
    ),
    "png above the pixel cap": (lambda: png_declaring(8000, 8000), "image_too_large"),
    "png decompression bomb": (lambda: png_declaring(100_000, 100_000), "image_too_large"),
    "truncated jpeg": (lambda: image_bytes("JPEG")[:200], "image_unreadable"),
}


def refusal(content: bytes) -> ScanRefused:
    with pytest.raises(ScanRefused) as caught:
        check_scan(content, "")
    return caught.value


# ---------------------------------------------------------------------------
# The check itself


@pytest.mark.parametrize(("build", "reason"), HOSTILE.values(), ids=HOSTILE.keys())
def test_check_scan_refuses_hostile_files(build, reason, settings):
    settings.SCAN_MAX_PIXELS = 50_000_000
    refused = refusal(build())

    assert refused.reason == reason
    assert refused.cause == "invalid_scan"
    assert refused.http_status == 400


@pytest.mark.parametrize("reason", sorted({reason for _, reason in HOSTILE.values()}))
def test_each_refusal_has_a_french_message(reason):
    build = next(build for build, r in HOSTILE.values() if r == reason)
    with translation.override("en"):
        english = refusal(build()).message
    with translation.override("fr"):
        french = refusal(build()).message

    assert french != english


def test_declared_type_must_match_the_content():
    assert refusal_with(PDF_BYTES, "image/png").reason == "type_mismatch"
    assert check_scan(PDF_BYTES, "application/pdf").content_type == "application/pdf"


def refusal_with(content: bytes, declared: str) -> ScanRefused:
    with pytest.raises(ScanRefused) as caught:
        check_scan(content, declared)
    return caught.value


def test_the_pixel_cap_is_a_setting(settings):
    settings.SCAN_MAX_PIXELS = 1_000
    assert refusal(image_bytes("PNG")).reason == "image_too_large"  # 40 x 30 = 1,200
    settings.SCAN_MAX_PIXELS = 1_200
    assert check_scan(image_bytes("PNG")).content_type == "image/png"


def test_the_pdf_walk_is_bounded(monkeypatch):
    monkeypatch.setattr(scan_checks, "MAX_PDF_ITEMS", 5)
    assert refusal(PDF_BYTES).reason == "pdf_too_complex"


def test_a_pdf_without_pages_is_refused():
    empty = pdf().replace(b"/Kids[3 0 R]/Count 1", b"/Kids[]/Count 0      ")
    assert refusal(empty).reason == "pdf_no_page"


@pytest.mark.parametrize(
    ("build", "content_type"),
    [
        (lambda: PDF_BYTES, "application/pdf"),
        (lambda: pdf(b"<</Type/Annot/Subtype/Link/Rect[0 0 9 9]>>", page=b"/Annots[4 0 R]"), None),
        (lambda: image_bytes("PNG"), "image/png"),
        (lambda: image_bytes("JPEG"), "image/jpeg"),
        (lambda: image_bytes("TIFF"), "image/tiff"),
    ],
    ids=["minimal pdf", "pdf with a link", "png", "jpeg", "tiff"],
)
def test_plain_files_pass(build, content_type):
    checked = check_scan(build())
    assert checked.content_type == (content_type or "application/pdf")


def test_a_pdf_is_stored_as_sent():
    assert check_scan(PDF_BYTES).data == PDF_BYTES


METADATA_TAGS = {
    ExifTags.Base.Make,
    ExifTags.Base.Model,
    ExifTags.Base.ImageDescription,
    ExifTags.Base.Artist,
    ExifTags.Base.Copyright,
    ExifTags.Base.DateTime,
    ExifTags.Base.XMLPacket,
    ExifTags.Base.IPTCNAA,
    ExifTags.Base.ImageResources,
    ExifTags.Base.InterColorProfile,
    ExifTags.IFD.Exif,
    ExifTags.IFD.GPSInfo,
}


def assert_no_metadata(data: bytes, fmt: str) -> None:
    assert CANARY not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == fmt
        assert image.size == (40, 30)
        exif = image.getexif()
        # A TIFF's own tags are its "EXIF": only the structural ones may remain.
        assert not set(exif) & METADATA_TAGS if fmt == "TIFF" else not exif
        assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
        assert not {"exif", "xmp", "comment", "icc_profile", "Comment"} & set(image.info)


@pytest.mark.parametrize(
    ("build", "fmt"),
    [(jpeg_with_gps, "JPEG"), (png_with_metadata, "PNG"), (tiff_with_metadata, "TIFF")],
    ids=["jpeg", "png", "tiff"],
)
def test_image_metadata_is_stripped(build, fmt):
    original = build()
    assert CANARY in original  # the metadata is really there to strip
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif()
        # Pillow writes the GPS directory in JPEG and PNG, not in TIFF.
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) or fmt == "TIFF"

    assert_no_metadata(check_scan(original).data, fmt)


def test_an_image_is_turned_upright_before_its_orientation_is_dropped():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # to be shown turned a quarter clockwise
    sideways = image_bytes("JPEG", exif=exif)

    with Image.open(io.BytesIO(check_scan(sideways).data)) as image:
        assert image.size == (30, 40)
        assert not image.getexif()


# ---------------------------------------------------------------------------
# Through the web form and the API: a French error, and nothing stored


def stored_files() -> list[Path]:
    root = Path(settings.PRIVATE_STORAGE_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def snapshot():
    return (
        DisclosureRequest.objects.count(),
        AuditEvent.objects.exclude(action__startswith="login").count(),
        stored_files(),
    )


def expected_french_error(content: bytes) -> str:
    """The form's pre-check message if it stops the file, else the service's."""
    upload = SimpleUploadedFile("lettre.pdf", content, "application/pdf")
    with translation.override("fr"):
        try:
            declared = detect_scan_type(upload)
        except ValidationError as error:
            return error.messages[0]
        with pytest.raises(ScanRefused) as caught:
            check_scan(content, declared)
        return caught.value.message


def api_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


@pytest.mark.parametrize(("build", "reason"), HOSTILE.values(), ids=HOSTILE.keys())
def test_web_intake_refuses_and_stores_nothing(client, secretariat, build, reason):
    content = build()
    message = expected_french_error(content)
    login(client, secretariat)
    before = snapshot()

    response = client.post(
        reverse("requests_app:create"),
        intake_post(scan=SimpleUploadedFile("lettre.pdf", content, "application/pdf")),
        HTTP_ACCEPT_LANGUAGE="fr",
    )

    assert response.status_code == 400
    assert escape(message) in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(("build", "reason"), HOSTILE.values(), ids=HOSTILE.keys())
def test_api_intake_refuses_with_400_json_and_stores_nothing(secretariat, build, reason):
    content = build()
    message = expected_french_error(content)
    before = snapshot()

    response = api_client(secretariat).post(
        reverse("api:request-list"),
        intake_payload(scan=SimpleUploadedFile("l.pdf", content, "application/pdf")),
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="fr",
    )

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert message in str(response.json())
    assert snapshot() == before


def test_web_intake_stores_a_jpeg_without_its_gps(client, secretariat):
    login(client, secretariat)

    response = client.post(
        reverse("requests_app:create"),
        intake_post(scan=SimpleUploadedFile("photo.jpg", jpeg_with_gps(), "image/jpeg")),
    )

    assert response.status_code == 302
    request = DisclosureRequest.objects.get()
    [stored] = stored_files()
    data = stored.read_bytes()
    assert request.scan_content_type == "image/jpeg"
    assert_no_metadata(data, "JPEG")
    assert request.scan_sha256 == hashlib.sha256(data).hexdigest()
    registered = AuditEvent.objects.get(action="register_request")
    assert registered.details["scan_sha256"] == request.scan_sha256


@pytest.mark.parametrize(
    ("build", "content_type"),
    [(lambda: PDF_BYTES, "application/pdf"), (lambda: image_bytes("PNG"), "image/png")],
    ids=["pdf", "png"],
)
def test_plain_scans_are_accepted_by_the_web_and_the_api(client, secretariat, build, content_type):
    login(client, secretariat)
    web = client.post(
        reverse("requests_app:create"),
        intake_post(scan=SimpleUploadedFile("lettre.pdf", build(), content_type)),
    )
    api = api_client(secretariat).post(
        reverse("api:request-list"),
        intake_payload(scan=SimpleUploadedFile("l.pdf", build(), content_type)),
        format="multipart",
    )

    assert web.status_code == 302
    assert api.status_code == 201, api.content
    assert [r.scan_content_type for r in DisclosureRequest.objects.all()] == [content_type] * 2
    assert len(stored_files()) == 2
