"""The production proxy: deploy/nginx.conf run by a real nginx in front of a
live Django server, and its wiring in docker-compose.yml and the Dockerfile.

gunicorn serves no static files, so without the proxy the pages would come
without their style sheets and scripts.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

ROOT = Path(settings.BASE_DIR)
CONF = ROOT / "deploy" / "nginx.conf"
STATIC_ROOT = "/srv/huisclos/static"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(url: str, data: bytes | None = None) -> Answer:
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def django_server(transactional_db) -> Iterator[str]:
    """The bare Django application over HTTP, as gunicorn runs it. (The test
    live server would not do: it serves static files itself and, with
    MEDIA_URL unset, any file under the working directory.)"""
    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def proxy(django_server, tmp_path, settings) -> Iterator[str]:
    """nginx with the production site file; only the upstream address, the
    static directory and the port are replaced."""
    static = tmp_path / "static"
    settings.STATIC_ROOT = static
    call_command("collectstatic", "--no-input", verbosity=0)
    site = CONF.read_text()
    port = free_port()
    for old, new in [
        ("server web:8000;", f"server {django_server};"),
        (f"alias {STATIC_ROOT}/;", f"alias {static}/;"),
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
    ]:
        assert site.count(old) == 1, old
        site = site.replace(old, new)
    (tmp_path / "site.conf").write_text(site)
    temp = "\n".join(
        f"    {name}_temp_path {tmp_path}/{name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As in the nginx image: mime.types and the site file inside `http`.
    (tmp_path / "nginx.conf").write_text(
        f"""daemon off;
{"user root;" if os.geteuid() == 0 else ""}
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {tmp_path}/access.log;
{temp}
    include {tmp_path}/site.conf;
}}
"""
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"nginx did not start: {error}")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("css/screen.css", "text/css"),
        ("js/huisclos.js", "application/javascript"),
        ("js/intake.mjs", "text/javascript"),
        ("vendor/pdfjs/pdf.min.mjs", "text/javascript"),
        ("admin/css/base.css", "text/css"),
    ],
)
def test_static_files_are_served_by_nginx(proxy, path, content_type):
    answer = fetch(f"{proxy}/static/{path}")

    assert answer.status == 200
    assert answer.headers["Content-Type"].split(";")[0] == content_type
    # Headers only the proxy adds: nginx answered, not Django.
    assert answer.headers["Cache-Control"] == "public, max-age=3600"
    assert answer.headers["Server"] == "nginx"  # no version
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    source = ROOT / "static" / path
    if source.exists():
        assert answer.body == source.read_bytes()


def test_pages_go_through_to_django(proxy):
    answer = fetch(f"{proxy}/connexion/")

    assert answer.status == 200
    assert "Content-Security-Policy" in answer.headers  # Django's own headers
    assert "Cache-Control" not in answer.headers or "public" not in answer.headers["Cache-Control"]
    assert "Connexion" in answer.body.decode()


def test_no_listing_and_no_way_out_of_the_static_directory(proxy):
    listing = fetch(f"{proxy}/static/css/")
    assert listing.status in (403, 404)
    assert b"screen.css" not in listing.body
    for path in ("/static/../manage.py", "/static../manage.py", "/static/%2e%2e/manage.py"):
        answer = fetch(proxy + path)
        assert answer.status in (400, 404), path
        assert b"DJANGO_SETTINGS_MODULE" not in answer.body, path


def test_bodies_larger_than_a_scan_are_refused_at_the_proxy(proxy):
    limit = re.search(r"client_max_body_size (\d+)m;", CONF.read_text())
    assert limit is not None
    # Room for a scan and the form around it, not much more.
    assert 0 < int(limit.group(1)) * 2**20 - settings.SCAN_MAX_BYTES <= 4 * 2**20

    too_big = fetch(f"{proxy}/demandes/nouvelle/", data=b"x" * (int(limit.group(1)) + 1) * 2**20)
    small = fetch(f"{proxy}/demandes/nouvelle/", data=b"x" * 1024)

    assert too_big.status == 413
    assert small.status == 403  # reached Django: no CSRF token


def test_compose_and_dockerfile_wire_the_proxy():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    proxy, web, collect = services["proxy"], services["web"], services["collectstatic"]

    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    assert f"static:{STATIC_ROOT}:ro" in proxy["volumes"]
    assert proxy["ports"] == ["127.0.0.1:8000:8080"]
    assert proxy["depends_on"]["collectstatic"] == {"condition": "service_completed_successfully"}
    # The web process is reachable through the proxy only.
    assert "ports" not in web
    assert collect["environment"]["HUISCLOS_STATIC_ROOT"] == STATIC_ROOT
    assert f"static:{STATIC_ROOT}" in collect["volumes"]
    assert "--clear" in collect["command"]
    assert f"HUISCLOS_STATIC_ROOT={STATIC_ROOT}" in (ROOT / "Dockerfile").read_text()
