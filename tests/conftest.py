"""Personas and shared fixtures.

One user per role, plus an acting DG, a second referent and an outsider with
no role. Requests in each state are built through the services, never by
setting the state directly.

The personas but the acting DG belong to the world: committed once per
session with the reference data, and built again after each transactional
test's flush (see "The world" below). Outside tests/letters/, WeasyPrint
renders one letter and one stamp per session (see "Letters" below).
"""

from __future__ import annotations

import hashlib
import importlib
import re
import time
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.signals import got_request_exception
from django.db import connection
from django.db.backends.postgresql.operations import DatabaseOperations
from django.test import Client, override_settings
from django.utils import timezone
from django.utils.functional import empty
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django.plugin import blocking_manager_key

from accounts.models import ActingDesignation, Role, User
from common.storage import private_storage
from legal_basis import releases
from legal_basis.models import LegalBasis
from letters import certificates, rendering
from letters.credentials import store_credential
from requests_app import services
from requests_app.inputs import ChecklistData, IntakeData, ItemData, PersonData
from requests_app.models import DisclosureRequest

PASSWORD = "correct horse battery staple"
CANARY_NAME = "CANARYNOM"
CANARY_FIRST = "CANARYPRENOM"
# A valid national register number (check digits 97 - 850101001 % 97 = 15).
CANARY_NISS = "85010100115"

# A minimal PDF that pypdf reads strictly: one blank page, a correct xref.
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n"
    b"0000000052 00000 n \n0000000101 00000 n \n"
    b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n164\n%%EOF\n"
)


def inline_scripts(html: str) -> list[str]:
    """Script elements that carry code, or load it from outside the app's static files."""
    return [
        attributes + body
        for attributes, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
        if body.strip() or 'src="/static/' not in attributes
    ]


_original_sql_flush = DatabaseOperations.sql_flush


def _sql_flush_bypassing_audit_triggers(self, style, tables, **kwargs):
    # Transactional tests end with a TRUNCATE of every table, which the
    # audit table's trigger rightly refuses. The test database is owned by a
    # superuser, who may switch ordinary triggers off for that flush only.
    global _flushed
    _flushed = True
    statements = _original_sql_flush(self, style, tables, **kwargs)
    if not statements:
        return statements
    return [
        "SET session_replication_role = replica;",
        *statements,
        "SET session_replication_role = origin;",
    ]


DatabaseOperations.sql_flush = _sql_flush_bypassing_audit_triggers  # type: ignore[method-assign]


def restore_reference_data() -> None:
    """Roles and the catalogue, which a transactional test's flush wipes."""
    from django.apps import apps

    roles = importlib.import_module("requests_app.migrations.0002_roles")
    roles.create_roles(apps, None)
    dpo = importlib.import_module("accounts.migrations.0004_dpo_role")
    dpo.create_dpo_group(apps, None)
    releases.load_shipped()
    _empty_the_trail()


def _empty_the_trail() -> None:
    # The world starts with an empty audit trail, as the audit tests expect;
    # the events of a catalogue import are asserted in
    # tests/legal_basis/test_import.py. Only the test database's superuser
    # may switch the append-only triggers off, for these two statements.
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("DELETE FROM requests_app_auditevent")
        cursor.execute("DELETE FROM requests_app_auditchainhead")
        cursor.execute("SET session_replication_role = origin")


# ---------------------------------------------------------------------------
# The world: the reference data and one persona per role, built once per
# session (per xdist worker), committed in the test database, and built again
# after each flush. Tests run in a transaction on top of it (or, when
# transactional, are followed by a flush and a rebuild), so every test starts
# from the same world. Fixtures hand out fresh instances (roles are cached on
# the instance), read again by primary key.

WORLD: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "secretariat": ((Role.SECRETARIAT,), {"first_name": "Sam", "last_name": "Secr"}),
    "president": ((Role.PRESIDENT,), {}),
    "dg": ((Role.DIRECTOR_GENERAL,), {}),
    "referent": ((Role.REFERENT,), {}),
    "other_referent": ((Role.REFERENT,), {}),
    "auditor": ((Role.AUDITOR,), {}),
    "dpo": ((Role.DPO,), {}),
    "outsider": ((), {}),
}
_world_pks: dict[str, int] = {}
_flushed = False
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SIGNING_PASSPHRASE = "test-signing-passphrase"


def build_world() -> None:
    """Reference data and personas, committed; the database must hold neither."""
    global _flushed
    restore_reference_data()
    with override_settings(
        PASSWORD_HASHERS=FAST_HASHERS, HUISCLOS_SIGNING_PASSPHRASE=SIGNING_PASSPHRASE
    ):
        for username, (roles, extra) in WORLD.items():
            _world_pks[username] = make_user(username, *roles, **extra).pk
    _flushed = False


def persona(username: str) -> User:
    """A fresh instance of a persona of the world."""
    return User.objects.get(pk=_world_pks[username])


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        # A reused test database holds whatever the last run left (a flushed
        # database, or more if it was interrupted): start from an empty one.
        call_command("flush", interactive=False, verbosity=0)
        build_world()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    # A transactional test ends with a flush (in its fixtures' teardown, so
    # after anything a fixture could do): put the world back before the next
    # test, whatever its kind (xdist's worksteal mixes the kinds' order).
    # After the session's last test (nextitem is None), the session fixtures
    # have been torn down with it and the test database is gone: nothing to rebuild.
    try:
        return (yield)
    finally:
        if _flushed and nextitem is not None:
            with item.config.stash[blocking_manager_key].unblock():
                build_world()


@pytest.fixture(autouse=True)
def _fast_passwords(settings, tmp_path):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    settings.HUISCLOS_SIGNING_PASSPHRASE = SIGNING_PASSPHRASE
    # Letters signed with the test CA validate as trusted on request pages.
    ca_pem = tmp_path / "test-ca.pem"
    ca_pem.write_bytes(_TEST_CA.certificate_pem)
    settings.HUISCLOS_SIGNING_TRUST_ROOTS = [str(ca_pem)]
    # The lazy storage reads PRIVATE_STORAGE_ROOT again on first use.
    private_storage._wrapped = empty  # type: ignore[assignment]  # LazyObject reset


# ---------------------------------------------------------------------------
# Letters: outside tests/letters/, the letter is not what a test is about. The
# services still build each letter's HTML, prepare the PDF's two signature
# fields and sign it with pyHanko for real, but WeasyPrint runs once per
# session: every letter is one real PDF/A of our style sheet with the two
# signature rectangles, and every visible signature one real stamp. Tests
# about the letter's content or layout (tests/letters/, or marked
# `real_letters`) keep the real renderer.

_real_render_html = rendering.render_html
_STAND_IN_LETTER_HTML = (
    '<!DOCTYPE html><html lang="fr-BE"><head>'
    f'<link rel="stylesheet" href="{rendering.ASSET_PREFIX}letter.css"></head><body>'
    "<p>Lettre de substitution des tests.</p>"
    '<div class="closing"><div class="signatures">'
    + "".join(
        f'<div class="signature"><div class="sig-box" id="{anchor}">'
        f'<span class="sig-box-end" id="{anchor}-end"></span></div></div>'
        for anchor in rendering.SIGNATURE_ANCHORS.values()
    )
    + "</div></div></body></html>"
)
_STAND_IN_STAMP_HTML = (
    '<!DOCTYPE html><html lang="fr-BE"><head>'
    f'<link rel="stylesheet" href="{rendering.ASSET_PREFIX}stamp.css"></head><body>'
    '<div class="stamp"><div class="title">Signature de substitution des tests</div></div>'
    "</body></html>"
)
_stand_ins: dict[str | None, bytes] = {}


def _render_html_once(
    html: str,
    *,
    reference: str = "",
    fetcher: rendering.LetterFetcher | None = None,
    pdf_variant: str | None = rendering.PDF_VARIANT,
) -> bytes:
    """render_html's stand-in: the same real PDF for every letter (PDF/A) and
    every stamp (pdf_variant None), each rendered on first use."""
    if pdf_variant not in _stand_ins:
        stand_in = _STAND_IN_STAMP_HTML if pdf_variant is None else _STAND_IN_LETTER_HTML
        _stand_ins[pdf_variant] = _real_render_html(stand_in, pdf_variant=pdf_variant)
    return _stand_ins[pdf_variant]


@pytest.fixture(autouse=True)
def _letters_rendered_once(request, monkeypatch):
    if request.node.get_closest_marker("real_letters") is None:
        monkeypatch.setattr(rendering, "render_html", _render_html_once)


@pytest.fixture(autouse=True)
def _no_server_errors():
    """Any unhandled exception in a view fails the test: no 500 anywhere."""
    errors: list[object] = []

    def collect(sender, request=None, **kwargs):
        errors.append(getattr(request, "path", request))

    got_request_exception.connect(collect)
    yield
    got_request_exception.disconnect(collect)
    assert not errors, f"server errors on {errors}"


_TEST_CA = certificates.make_root_ca("CPAS de Test")
SIGNING_ROLES = {Role.PRESIDENT, Role.DIRECTOR_GENERAL}


def give_credential(user: User) -> None:
    """A test certificate, so the user can put a PAdES signature on letters."""
    issued = certificates.issue_signer(
        _TEST_CA,
        common_name=user.get_full_name() or user.username,
        organisation="CPAS de Test",
    )
    store_credential(user, certificates.to_pkcs12(issued, [_TEST_CA.certificate], b"t"), b"t")


def totp_key(username: str) -> str:
    """The known key (hex) of a test user's authenticator."""
    return hashlib.sha1(f"huisclos-test-totp:{username}".encode()).hexdigest()


def give_authenticator(user: User) -> TOTPDevice:
    """A confirmed TOTP device with a known key: tests compute its codes."""
    return TOTPDevice.objects.create(
        user=user, name="authenticator", key=totp_key(user.username), confirmed=True
    )


def totp_code(user: User, at: float | None = None) -> str:
    """The code the user's authenticator shows at `at` (now by default)."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    clock = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    clock.time = time.time() if at is None else at
    return f"{clock.token():0{device.digits}d}"


def fresh_otp(user: User) -> str:
    """A code the user's authenticator accepts for the next step-up.

    django-otp refuses a code of a time step already used, and throttles
    after a wrong code: tests that are not about those guards sign several
    times within 30 s, so this clears both first. tests/security/ tests the
    guards with `totp_code`, without this helper.
    """
    TOTPDevice.objects.filter(user=user).update(
        last_t=-1, throttling_failure_count=0, throttling_failure_timestamp=None
    )
    return totp_code(user)


def _verified_session(client: Client, user: Any) -> None:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()


_original_force_login = Client.force_login
_original_login = Client.login


def _force_login_verified(self: Client, user: Any, backend: str | None = None) -> None:
    # Tests that are not about the second factor start signed in with it
    # verified; tests/security/ signs in through the pages.
    _original_force_login(self, user, backend)
    _verified_session(self, user)


def _login_verified(self: Client, **credentials: Any) -> bool:
    done = _original_login(self, **credentials)
    if done:
        _verified_session(self, User.objects.get(username=credentials.get("username")))
    return done


Client.force_login = _force_login_verified  # type: ignore[method-assign,assignment]
Client.login = _login_verified  # type: ignore[method-assign,assignment]


def make_user(username: str, *roles: str, **extra) -> User:
    user = User.objects.create_user(username, password=PASSWORD, **extra)
    give_authenticator(user)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    if SIGNING_ROLES & set(roles):
        give_credential(user)
    return user


@pytest.fixture
def secretariat(db) -> User:
    return persona("secretariat")


@pytest.fixture
def president(db) -> User:
    return persona("president")


@pytest.fixture
def dg(db) -> User:
    return persona("dg")


@pytest.fixture
def referent(db) -> User:
    return persona("referent")


@pytest.fixture
def other_referent(db) -> User:
    return persona("other_referent")


@pytest.fixture
def auditor(db) -> User:
    return persona("auditor")


@pytest.fixture
def dpo(db) -> User:
    return persona("dpo")


@pytest.fixture
def outsider(db) -> User:
    return persona("outsider")


@pytest.fixture
def acting_dg(db) -> User:
    """A referent designated acting DG from yesterday to tomorrow."""
    user = make_user("acting_dg", Role.REFERENT)
    give_credential(user)
    today = timezone.localdate()
    ActingDesignation.objects.create(
        user=user,
        role=Role.DIRECTOR_GENERAL,
        starts_on=today - timedelta(days=1),
        ends_on=today + timedelta(days=1),
    )
    return user


@pytest.fixture
def personas(secretariat, president, dg, referent, other_referent, auditor, dpo, outsider):
    return {
        "secretariat": secretariat,
        "president": president,
        "dg": dg,
        "referent": referent,
        "other_referent": other_referent,
        "auditor": auditor,
        "dpo": dpo,
        "outsider": outsider,
    }


def pdf_upload(name: str = "lettre.pdf", content: bytes = PDF_BYTES) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def intake(**overrides) -> IntakeData:
    values: dict[str, Any] = {
        "received_on": date(2026, 11, 2),
        "channel": "post",
        "requester_kind": "investigating_judge",
        "requester_name": "Juge CANARYJUGE",
        "requester_organisation": "Tribunal de première instance",
        "requester_address": "Rue CANARYRUE 1, 5000 Namur",
        "requester_reference": "JI/2026/123",
        "cited_provision": "Art. 87 et 88 du Code d'instruction criminelle",
        "information_requested": "CANARYINFO adresse et aide perçue",
        "requester_deadline": None,
        "documents": ["judge_order"],
        "persons": [
            PersonData(
                last_name=CANARY_NAME,
                first_names=CANARY_FIRST,
                birth_date=date(1985, 1, 1),
                national_number=CANARY_NISS,
            )
        ],
    }
    if overrides.get("channel") == "oral":
        # An oral request records neither a birth date nor a national number.
        values["persons"] = [PersonData(last_name=CANARY_NAME, first_names=CANARY_FIRST)]
    values.update(overrides)
    return IntakeData(**values)


def register(actor: User, **overrides) -> DisclosureRequest:
    data = intake(**overrides)
    scan = None if data.channel == "oral" else pdf_upload()
    return services.register_request(
        data, actor=actor, scan=scan, scan_content_type="application/pdf"
    )


def basis(code: str) -> LegalBasis:
    return LegalBasis.objects.in_force_on(timezone.localdate()).get(code=code)


def answer_all(bases, answer: str = "met") -> list[ChecklistData]:
    """Answer every checklist condition of `bases`."""
    return [
        ChecklistData(b, position, answer, "" if answer == "met" else "Note")
        for b in bases
        for position in range(len(b.checklist))
    ]


def checklist_post(bases, answer: str = "met") -> dict[str, str]:
    """Opinion-form fields answering every condition of `bases`."""
    data = {}
    for b in bases:
        for position in range(len(b.checklist)):
            data[f"cl-{b.pk}-{position}-answer"] = answer
            data[f"cl-{b.pk}-{position}-note"] = "" if answer == "met" else "Note"
    return data


def checklist_json(bases, answer: str = "met") -> list[dict[str, Any]]:
    return [
        {"basis": b.code, "position": position, "answer": answer, "note": "Note"}
        for b in bases
        for position in range(len(b.checklist))
    ]


def opinion_kwargs(proposal: str = "disclose") -> dict[str, Any]:
    items = (
        []
        if proposal == "refuse"
        else [
            ItemData("CANARYITEM adresse actuelle", "address", "Nécessaire à l'enquête"),
            ItemData("Montant du RIS", "aid", "Demandé par le juge"),
        ]
    )
    bases = [basis("ji-search-seizure")]
    for item in items:
        item.legal_basis = bases[0]
    return {
        "legal_bases": bases,
        "proposal": proposal,
        "reasoning": "Motivation CANARYMOTIF",
        "items": items,
        "checklist": answer_all(bases),
    }


class Flow:
    """Moves a request through the procedure with the personas."""

    def __init__(self, personas):
        self.p = personas

    def received(self, **overrides) -> DisclosureRequest:
        return register(self.p["secretariat"], **overrides)

    def assigned(self, **overrides) -> DisclosureRequest:
        dr = self.received(**overrides)
        services.assign_referent(dr, actor=self.p["president"], referent=self.p["referent"])
        return dr

    def in_review(self, proposal: str = "disclose", **overrides) -> DisclosureRequest:
        dr = self.assigned(**overrides)
        services.submit_opinion(dr, actor=self.p["referent"], **opinion_kwargs(proposal))
        return dr

    def awaiting_signatures(self, **overrides) -> DisclosureRequest:
        dr = self.in_review(**overrides)
        services.approve(dr, actor=self.p["dg"])
        return dr

    def partially_signed(self, **overrides) -> DisclosureRequest:
        dr = self.awaiting_signatures(**overrides)
        services.sign_reply(dr, actor=self.p["dg"], otp=fresh_otp(self.p["dg"]))
        return dr

    def signed(self, **overrides) -> DisclosureRequest:
        dr = self.partially_signed(**overrides)
        services.sign_reply(dr, actor=self.p["president"], otp=fresh_otp(self.p["president"]))
        return dr

    def dispatched(self, **overrides) -> DisclosureRequest:
        dr = self.signed(**overrides)
        services.record_dispatch(
            dr,
            actor=self.p["secretariat"],
            dispatched_on=timezone.localdate(),
            channel="registered_post",
            registered_mail_number="RR123456789BE",
        )
        return dr

    def closed(self, **overrides) -> DisclosureRequest:
        dr = self.dispatched(**overrides)
        services.close(dr, actor=self.p["secretariat"])
        return dr

    def withdrawn(self, **overrides) -> DisclosureRequest:
        dr = self.assigned(**overrides)
        services.withdraw(dr, actor=self.p["secretariat"], reason="withdrawn_in_writing")
        return dr

    def closed_oral(self) -> DisclosureRequest:
        return self.received(channel="oral")

    def inadmissible(self) -> DisclosureRequest:
        return self.received(cited_provision="")

    def in_state(self, state: str) -> DisclosureRequest:
        builders = {
            "awaiting_assignment": self.received,
            "closed_oral": self.closed_oral,
            "awaiting_opinion": self.assigned,
            "awaiting_review": self.in_review,
            "awaiting_signatures": self.awaiting_signatures,
            "partially_signed": self.partially_signed,
            "signed": self.signed,
            "dispatched": self.dispatched,
            "closed": self.closed,
            "withdrawn": self.withdrawn,
        }
        return builders[state]()


@pytest.fixture
def flow(personas) -> Flow:
    return Flow(personas)


def reread(dr: DisclosureRequest) -> DisclosureRequest:
    return DisclosureRequest.objects.get(pk=dr.pk)
