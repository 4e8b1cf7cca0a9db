"""Issue 13, "Configuration that refuses to be unsafe".

Production (DJANGO_DEBUG off) refuses to start with a placeholder or short
secret or an e-mail backend that sends nothing; `check --deploy` is clean with
the documented environment; `load_demo` runs only in development; an
unreachable database answers 503 within 5 s; a full or read-only disk refuses
the action with a 503 and leaves no file; scans and letters are private files.
"""

from __future__ import annotations

import errno
import os
import secrets
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.storage import filesystem
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connections
from django.test import Client

from accounts.models import User
from audit.models import AuditEvent
from common.middleware import server_error
from letters.models import ReplyDocument
from requests_app import services
from requests_app.models import DisclosureRequest, State
from tests.conftest import intake, pdf_upload
from tests.requests_app.test_api import api_for, intake_payload

ROOT = Path(settings.BASE_DIR)
ENV_EXAMPLE = ROOT / ".env.example"


# ---------------------------------------------------------------------------
# Starting in production


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def production_env() -> dict[str, str]:
    """The documented production environment (docs/production.md), with
    real random secrets in place of the placeholders."""
    env = env_example()
    env.update(
        {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "HUISCLOS_SIGNING_PASSPHRASE": secrets.token_urlsafe(24),
            "DATABASE_URL": (
                f"postgres://huisclos_app:{secrets.token_urlsafe(24)}@127.0.0.1:5432/huisclos"
            ),
        }
    )
    env.pop("DJANGO_DEBUG", None)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A fresh Python process with ENV only (no DJANGO_DEBUG from the test run)."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ROOT / "var")}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Import the settings as any process of the app does first."""
    return run(env, "-c", "import config.settings")


def test_the_env_example_as_is_refuses_to_start():
    example = env_example()
    result = start({k: v for k, v in example.items() if k != "DJANGO_DEBUG"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    for name in ("DJANGO_SECRET_KEY", "HUISCLOS_SIGNING_PASSPHRASE", "DATABASE_URL"):
        assert name in result.stderr
    # The message names variables, never their values.
    for name in ("DJANGO_SECRET_KEY", "HUISCLOS_SIGNING_PASSPHRASE"):
        assert example[name].startswith("change-me")
        assert example[name] not in result.stderr
    assert "change-me-database-password" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("DJANGO_SECRET_KEY", None, "placeholder"),
        (
            "DJANGO_SECRET_KEY",
            "Xq7vT2mR9kL4pW8nZ3bH6jD1fG5sC0yA-uE_iOtK8vQ2mN4",
            "shorter than 50",
        ),
        ("DJANGO_SECRET_KEY", "", "_FILE) "),
        ("HUISCLOS_SIGNING_PASSPHRASE", None, "placeholder"),
        ("HUISCLOS_SIGNING_PASSPHRASE", "Tr0ub4dor&3xyz!", "shorter than 16"),
        ("HUISCLOS_SIGNING_PASSPHRASE", "", "_FILE) "),
        ("DATABASE_URL", None, "placeholder"),
        ("DATABASE_URL", "postgres://app:sh0rt-Pass@db:5432/huisclos", "shorter than 16"),
    ],
)
def test_a_placeholder_or_short_secret_refuses_to_start(name, value, shown):
    env = production_env()
    env[name] = env_example()[name] if value is None else value
    result = start(env)
    assert result.returncode != 0
    refusal = result.stderr.strip().splitlines()[-1]
    assert refusal.startswith("django.core.exceptions.ImproperlyConfigured")
    assert name in refusal
    assert shown in refusal
    if env[name]:
        secret = env[name].split(":")[-1].split("@")[0] if name == "DATABASE_URL" else env[name]
        assert secret not in result.stderr


@pytest.mark.parametrize("backend", ["console", "locmem", "dummy", None])
def test_an_email_backend_that_sends_nothing_refuses_to_start(backend):
    env = production_env()
    if backend is None:
        env.pop("DJANGO_EMAIL_BACKEND")  # the default: the console
    else:
        env["DJANGO_EMAIL_BACKEND"] = f"django.core.mail.backends.{backend}.EmailBackend"
    result = start(env)
    assert result.returncode != 0
    assert "DJANGO_EMAIL_BACKEND" in result.stderr.strip().splitlines()[-1]


def test_the_documented_production_environment_starts_and_passes_check_deploy():
    result = run(production_env(), "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_the_documented_environment_is_in_the_production_doc():
    doc = (ROOT / "docs" / "production.md").read_text()
    assert "check --deploy" in doc
    for name in env_example():
        assert name in doc, f"{name} is not documented in docs/production.md"


def test_load_demo_refuses_to_run_in_production():
    result = run(production_env(), "manage.py", "load_demo")
    assert result.returncode != 0
    assert "DJANGO_DEBUG=true" in result.stderr


@pytest.mark.django_db
def test_load_demo_refuses_without_debug_and_creates_nothing(settings):
    settings.HUISCLOS_DEMO_ALLOWED = False
    users = User.objects.count()
    with pytest.raises(CommandError, match="DJANGO_DEBUG=true"):
        call_command("load_demo")
    assert User.objects.count() == users


# ---------------------------------------------------------------------------
# Secrets stay out of the image and out of git


def test_secrets_stay_out_of_the_image_and_of_git():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for entry in (".env", "secrets/", "var/", ".git/", ".venv/"):
        assert entry in ignored
    for path in ("secrets/db_owner_password", ".env"):
        checked = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert checked.returncode == 0, f"{path} is not git-ignored"


# ---------------------------------------------------------------------------
# PostgreSQL unreachable


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (the kernel
    completes the handshake; nobody reads)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def database_at(django_db_blocker) -> Iterator[Callable[[int], None]]:
    """Point the default connection at 127.0.0.1:PORT, with the settings'
    OPTIONS (connect_timeout...), and put it back afterwards."""
    connection = connections["default"]
    original = connection.settings_dict
    with django_db_blocker.unblock():
        connection.close()

        def move(port: int) -> None:
            connection.close()
            connection.settings_dict = {**original, "HOST": "127.0.0.1", "PORT": str(port)}

        try:
            yield move
        finally:
            connection.close()
            connection.settings_dict = original


def signed_in_client() -> Client:
    """A browser with a session cookie: its first query reads the session."""
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = "x" * 32
    return client


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    began = time.monotonic()
    result = call()
    return result, time.monotonic() - began


@pytest.mark.parametrize("port_kind", ["closed_port", "silent_port"])
def test_an_unreachable_database_gives_a_french_503_page_within_5_seconds(
    request, port_kind, database_at
):
    port = request.getfixturevalue(port_kind)
    database_at(port)
    pages = {
        "home": lambda: signed_in_client().get("/"),
        "login": lambda: Client().post(
            "/connexion/", {"username": "president", "password": "whatever-it-is"}
        ),
    }
    for name, call in pages.items():
        response, seconds = timed(call)
        assert response.status_code == 503, name
        assert seconds < 5, f"{name}: {seconds:.1f} s"
        page = response.content.decode()
        assert '<html lang="fr-BE">' in page
        assert "Service temporairement indisponible" in page
        assert response["Cache-Control"] == "no-store"
        assert response["Retry-After"]


@pytest.mark.parametrize("port_kind", ["closed_port", "silent_port"])
def test_an_unreachable_database_gives_a_json_503_on_the_api_within_5_seconds(
    request, port_kind, database_at
):
    database_at(request.getfixturevalue(port_kind))
    response, seconds = timed(
        lambda: Client().get("/api/requests/", HTTP_AUTHORIZATION="Token " + "a" * 40)
    )
    assert response.status_code == 503
    assert seconds < 5
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "database_unavailable"
    assert "indisponible" in body["detail"]


def test_a_database_outage_noticed_outside_a_view_is_a_503_too(rf):
    """Saving the session happens after the view: the 500 handler answers 503."""
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = server_error(rf.get("/"))
    assert response.status_code == 503
    assert "Service temporairement indisponible" in response.content.decode()
    try:
        raise ValueError("a bug")
    except ValueError:
        assert server_error(rf.get("/")).status_code == 500


def test_database_timeouts_are_configured():
    database: dict[str, Any] = dict(settings.DATABASES["default"])
    options: dict[str, Any] = database.get("OPTIONS", {})
    if database["ENGINE"].endswith("postgresql"):
        assert 0 < options["connect_timeout"] <= 4
        assert "statement_timeout=" in options["options"]
        # The statistics' outcome query: JIT compiling cost four times the query.
        assert "-c jit=off" in options["options"]
        assert options["tcp_user_timeout"] > 0


# ---------------------------------------------------------------------------
# Storage errors


class _RefusingFile:
    """A file whose writes fail as a full (or read-only...) disk makes them."""

    def __init__(self, handle: Any, code: int) -> None:
        self.handle, self.code = handle, code

    def write(self, data: Any) -> int:
        raise OSError(self.code, os.strerror(self.code))

    def close(self) -> None:
        self.handle.close()


class _DiskRefusing:
    """`os` as Django's FileSystemStorage sees it: files under FOLDER are
    created (an empty file is on disk) and then refuse every write."""

    def __init__(self, code: int, folder: str) -> None:
        self.code, self.folder, self.refusing = code, folder, False

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def open(self, path: str, *args: Any) -> int:
        self.refusing = f"/{self.folder}/" in str(path)
        return os.open(path, *args)

    def fdopen(self, fd: int, mode: str) -> Any:
        handle = os.fdopen(fd, mode)
        return _RefusingFile(handle, self.code) if self.refusing else handle


def refuse_writes(monkeypatch, code: int, folder: str) -> None:
    monkeypatch.setattr(filesystem, "os", _DiskRefusing(code, folder))


def stored_files() -> list[Path]:
    root = Path(settings.PRIVATE_STORAGE_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def refusals(cause: str) -> list[AuditEvent]:
    return [
        e for e in AuditEvent.objects.filter(action="refused") if e.details.get("cause") == cause
    ]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_scan_that_cannot_be_stored_is_a_503_refusal_and_leaves_nothing(
    secretariat, monkeypatch, code
):
    refuse_writes(monkeypatch, code, "scans")
    with pytest.raises(services.ActionRefused) as refused:
        services.register_request(
            intake(), actor=secretariat, scan=pdf_upload(), scan_content_type="application/pdf"
        )
    assert refused.value.http_status == 503
    assert refused.value.cause == "storage_unavailable"
    assert "stock" in refused.value.message  # French: "n'a pas pu être stocké"
    assert not DisclosureRequest.objects.exists()
    assert stored_files() == []
    [event] = refusals("storage_unavailable")
    assert event.details["attempted"] == "register_request"
    assert event.actor_id == secretariat.pk


def test_the_api_answers_503_when_the_disk_is_full(secretariat, monkeypatch):
    refuse_writes(monkeypatch, errno.ENOSPC, "scans")
    response = api_for(secretariat).post("/api/requests/", intake_payload(), format="multipart")
    assert response.status_code == 503
    assert response.json()["code"] == "storage_unavailable"
    assert not DisclosureRequest.objects.exists()
    assert stored_files() == []


def test_a_letter_that_cannot_be_stored_is_a_503_refusal_and_leaves_nothing(flow, dg, monkeypatch):
    dr = flow.in_review()
    scans = stored_files()
    refuse_writes(monkeypatch, errno.ENOSPC, "replies")
    with pytest.raises(services.ActionRefused) as refused:
        services.approve(dr, actor=dg)
    assert refused.value.http_status == 503
    assert refused.value.cause == "storage_unavailable"
    assert DisclosureRequest.objects.get(pk=dr.pk).state == State.AWAITING_REVIEW
    assert not ReplyDocument.objects.exists()
    assert stored_files() == scans
    [event] = refusals("storage_unavailable")
    assert event.details["attempted"] == "approve"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_scans_and_letters_are_written_0600_in_0700_folders(flow):
    dr = flow.awaiting_signatures()
    root = Path(settings.PRIVATE_STORAGE_ROOT)
    scan = root / str(dr.scan.name)
    letter = root / str(ReplyDocument.objects.get(reply__request=dr).file.name)
    for path in (scan, letter):
        assert mode(path) == 0o600, path
        folder = path.parent
        while True:
            assert mode(folder) == 0o700, folder
            if folder == root:
                break
            folder = folder.parent


def test_the_intake_page_answers_503_when_the_disk_is_full(secretariat, monkeypatch):
    from django.urls import reverse

    from tests.requests_app.test_views import intake_post

    refuse_writes(monkeypatch, errno.ENOSPC, "scans")
    client = Client()
    client.force_login(secretariat)

    response = client.post(reverse("requests_app:create"), intake_post())

    assert response.status_code == 503
    assert "stock" in response.content.decode()
    assert not DisclosureRequest.objects.exists()
    assert stored_files() == []
