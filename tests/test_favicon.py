"""The favicon: linked from every page, and /favicon.ico answers."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

STATIC = Path(settings.BASE_DIR) / "static"


def test_favicon_ico_redirects_to_the_static_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.ico"
    assert (STATIC / "favicon.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_pages_link_the_svg_icon_and_its_png_fallback(client):
    page = client.get("/connexion/").content.decode()

    links = re.findall(r'<link rel="icon" href="/static/([^"]+)"', page)
    assert links == ["img/favicon.svg", "img/favicon-32.png"]
    assert (STATIC / links[0]).read_text().startswith("<svg")
    assert (STATIC / links[1]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
