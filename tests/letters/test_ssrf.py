"""T-PDF-1: hostile values in every letter field fetch nothing and embed
nothing (security-tests.md §c), with a canary HTTP server and file."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pypdf import PdfReader
from weasyprint.urls import FatalURLFetchingError

from letters import rendering
from letters import services as letter_services
from letters.models import Letterhead
from letters.rendering import (
    LetterRenderingError,
    render_acknowledgement,
    render_html,
    render_letter,
)
from requests_app import services
from requests_app.models import ConcernedPerson, DisclosureRequest, Reply, ReplyItem
from tests.conftest import fresh_otp

from .conftest import inflated, pdf_text

CANARY_FILE_CONTENT = b"CANARYFILE-7f3a9c-secret-content"
CANARY_HTTP_BODY = b"CANARYHTTP-51be20-body"


class CanaryServer:
    def __init__(self) -> None:
        hits: list[str] = []
        body = CANARY_HTTP_BODY
        self.hits = hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                if self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", "file:///etc/passwd")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/css")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.timeout = 1
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CanaryServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def canary_server() -> Iterator[CanaryServer]:
    with CanaryServer() as server:
        yield server


@pytest.fixture
def canary_file(tmp_path) -> Path:
    path: Path = tmp_path / "canary-secret.txt"
    path.write_bytes(CANARY_FILE_CONTENT)
    return path


def payloads(port: int, canary: Path) -> list[str]:
    http = f"http://127.0.0.1:{port}"
    file_url = f"file://{canary}"
    svg_nested = base64.b64encode(
        f'<svg xmlns="http://www.w3.org/2000/svg" '
        f'xmlns:xlink="http://www.w3.org/1999/xlink"><image href="{file_url}" '
        f'xlink:href="{http}/svg-b64" width="10" height="10"/></svg>'.encode()
    ).decode()
    data_canary = base64.b64encode(CANARY_FILE_CONTENT).decode()
    return [
        '<link rel="attachment" href="file:///etc/passwd">',
        f'<link rel="attachment" href="{file_url}">',
        f'<a rel="attachment" href="{http}/a-attachment">pièce</a>',
        '<img src="file:///proc/self/environ">',
        f'<img src="{file_url}">',
        f'<img src="{http}/img">',
        '<img src="file:///dev/urandom">',
        f'<link rel="stylesheet" href="{http}/stylesheet">',
        '<link rel="stylesheet" href="http://169.254.169.254/latest/meta-data/">',
        f'<style>@import url("{http}/import.css");</style>',
        f"<style>@font-face{{font-family:x;src:url({http}/font)}} p{{font-family:x}}</style>",
        f"red;background:url({http}/css-context)",
        f'</style><link rel=attachment href="{file_url}">',
        f'<svg><image href="{http}/svg-image"/></svg>',
        f'<img src="data:image/svg+xml;base64,{svg_nested}">',
        f'<object data="{http}/object"></object>',
        f'<embed src="{http}/embed">',
        f'<iframe src="{http}/iframe"></iframe>',
        f'<base href="{http}/base/"><img src="relative.png">',
        f'<meta http-equiv="refresh" content="0;url={http}/refresh">',
        '<a href="javascript:alert(document.domain)">cliquer</a>',
        f'<a href="{http}/link">lien</a>',
        "{{ settings.SECRET_KEY }}",
        "{% debug %}",
        "{{ request }}{% load static %}",
        f"<script>fetch('{http}/script')</script>",
        f'"><img src=x onerror="fetch(\'{http}/onerror\')">',
        '<div style="width:1e30px;height:1e30px">énorme</div>',
        f'<video src="{http}/video" poster="{http}/poster"></video>',
        f'<img srcset="{http}/srcset 2x">',
        f'<div style="list-style-image:url({http}/list-image)">x</div>',
        f"<style>@page{{background:url({http}/page)}}</style>",
        f"url({file_url})",
        f'<img src="ftp://127.0.0.1:{port}/ftp">',
        f'<img src="//127.0.0.1:{port}/protocol-relative">',
        f'<img src="http://localhost:{port}/localhost">',
        f'<link rel="attachment" href="{http}/redirect">',
        "\u202eevil\u200b\u2066name\u2069",
        '<!--#include file="/etc/passwd" -->',
        '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/>',
        f'<![CDATA[<img src="{http}/cdata">]]>',
        f'<svg xmlns="http://www.w3.org/2000/svg"><use href="{http}/use#x"/></svg>',
        f'<link rel="attachment" href="data:text/plain;base64,{data_canary}">',
        f'<img src="{http}/x"' + " " * 2 + "x" * 30,
        f'<input type="text" value="{http}/input" style="appearance:auto">',
        f'<math><mglyph src="{http}/mglyph"/></math>',
    ]


def _fit(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit]


def _pdf_is_clean(pdf: bytes, *, allow_links: bool = False, text: bool = True) -> None:
    blob = inflated(pdf)
    assert CANARY_FILE_CONTENT not in blob
    assert CANARY_HTTP_BODY not in blob
    if text:
        extracted = pdf_text(pdf)
        assert CANARY_FILE_CONTENT.decode() not in extracted
        assert CANARY_HTTP_BODY.decode() not in extracted
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.attachments == {}
    assert b"/EmbeddedFiles" not in blob
    assert b"/EmbeddedFile" not in blob
    for marker in (b"/Launch", b"/JavaScript", b"/JS ", b"/SubmitForm", b"/GoToR", b"/ImportData"):
        assert marker not in blob
    if not allow_links:
        assert b"/URI" not in blob
        for page in reader.pages:
            for annot in page.get("/Annots") or []:
                assert annot.get_object().get("/Subtype") != "/Link"


def _hostile_everything(dr: DisclosureRequest, reply: Reply, payload: str) -> None:
    DisclosureRequest.objects.filter(pk=dr.pk).update(
        requester_name=_fit(payload, 200),
        requester_organisation=_fit(payload, 200),
        requester_address=f"{payload}\n{payload}",
        requester_reference=_fit(payload, 100),
    )
    ConcernedPerson.objects.filter(request=dr).update(
        last_name=_fit(payload, 150), first_names=_fit(payload, 200)
    )
    Reply.objects.filter(pk=reply.pk).update(body=f"{payload}\n- {payload}\n{payload}")
    ReplyItem.objects.filter(reply=reply).update(description=payload)


def _hostile_letterhead(payload: str) -> None:
    Letterhead.objects.filter(pk=Letterhead.SINGLETON_ID).update(
        name=_fit(payload, 200),
        address=f"{payload}\n{payload}",
        city=_fit(payload, 100),
        phone=_fit(payload, 50),
        email=_fit(payload, 254),
        website=_fit(payload, 200),
        enterprise_number=_fit(payload, 20),
        dpo_contact=payload,
    )


def test_corpus_has_at_least_30_payloads(tmp_path):
    assert len(payloads(1, tmp_path)) >= 30


def test_hostile_values_in_every_field_fetch_and_embed_nothing(
    flow, personas, canary_server, canary_file
):
    Letterhead.load()
    disclosure = flow.awaiting_signatures()
    refused = flow.in_review(proposal="refuse")
    services.approve(refused, actor=personas["dg"])
    inadmissible = flow.inadmissible()
    corpus = payloads(canary_server.port, canary_file)

    # Each payload alone in every field of the disclosure letter, the
    # richest one (addressee, references, persons, body, items, letterhead).
    reply = Reply.objects.get(request=disclosure)
    for payload in corpus:
        _hostile_letterhead(payload)
        _hostile_everything(disclosure, reply, payload)
        _pdf_is_clean(render_letter(Reply.objects.get(pk=reply.pk)), text=False)
        assert canary_server.hits == [], payload

    # The other letters and the acknowledgement, with the payloads in
    # groups (whole in text fields, cut to length in short ones).
    for start in range(0, len(corpus), 8):
        chunk = "\n".join(corpus[start : start + 8])
        _hostile_letterhead(chunk)
        for dr in (refused, inadmissible):
            reply = Reply.objects.get(request=dr)
            _hostile_everything(dr, reply, chunk)
            _pdf_is_clean(render_letter(Reply.objects.get(pk=reply.pk)))
        _hostile_everything(disclosure, Reply.objects.get(request=disclosure), chunk)
        _pdf_is_clean(render_acknowledgement(DisclosureRequest.objects.get(pk=disclosure.pk)))
        assert canary_server.hits == []


def test_hostile_signer_names_in_the_visible_signature(
    flow, personas, pki, canary_server, canary_file
):
    from .conftest import issue_credential

    for payload in payloads(canary_server.port, canary_file):
        stamp = rendering.render_stamp(
            signer_name=payload, capacity="president", acting=True, signed_at=_now()
        )
        _pdf_is_clean(stamp)
    dg, president = personas["dg"], personas["president"]
    hostile = payloads(canary_server.port, canary_file)
    dg.first_name, dg.last_name = _fit(hostile[12], 150), _fit(hostile[14], 150)
    dg.save()
    president.first_name, president.last_name = _fit(hostile[10], 150), _fit(hostile[1], 150)
    president.save()
    issue_credential(pki, dg)
    issue_credential(pki, president)
    dr = flow.awaiting_signatures()
    letter_services.create_reply_document(dr.reply)
    for actor in (dg, president):
        signature = services.sign_reply(dr, actor=actor, otp=fresh_otp(actor))
        document = letter_services.sign_reply_document(signature)
    _pdf_is_clean(document.read())
    assert canary_server.hits == []


def _now():
    from django.utils import timezone

    return timezone.now()


def test_the_fetcher_fails_closed_on_raw_hostile_html(canary_server, canary_file):
    """Defence in depth: even unescaped HTML reaches nothing."""
    for payload in payloads(canary_server.port, canary_file):
        html = f"<html><head>{payload}</head><body><p>{payload}</p></body></html>"
        try:
            pdf = render_html(html, reference="SP-2026-0001")
        except LetterRenderingError:
            continue
        # A javascript: or http: link can exist in raw HTML (never in our
        # templates, where values are escaped): nothing is fetched or embedded.
        _pdf_is_clean(pdf, allow_links=True)
    assert canary_server.hits == []


def test_the_fetcher_serves_only_bundled_assets(canary_file):
    fetcher = rendering.LetterFetcher()
    response = fetcher.fetch("huisclos:static/letter.css")
    assert response.content_type == "text/css"
    for url in [
        "huisclos:static/../../config/settings.py",
        "huisclos:static/",
        "huisclos:letterhead-logo",  # no logo uploaded
        f"file://{canary_file}",
        "file:///etc/passwd",
        "http://127.0.0.1/",
        "https://example.org/",
        "data:text/plain,hello",
        "ftp://127.0.0.1/",
        "HUISCLOS:static/letter.css",
    ]:
        with pytest.raises(FatalURLFetchingError):
            fetcher.fetch(url)
