"""Second thoughts at intake and at the end of the procedure (issue 14).

An intake that will not lead to the examination (an oral request, a written
one inadmissible as it stands) is confirmed before anything is recorded;
going back keeps every field and the chosen scan, which waits in a
session-bound holding area between two submissions. Closing and withdrawing
ask for confirmation; a withdrawal records a reason code.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import io
import logging
import os
import stat
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from audit.models import AuditEvent
from common import storage
from requests_app.models import DisclosureRequest, ReplyKind, State, WithdrawalReason
from tests.conftest import CANARY_NAME, CANARY_NISS, PDF_BYTES, reread
from tests.requests_app.test_views import intake_post, login

URL = "/demandes/nouvelle/"
INADMISSIBLE_SUMMARY = "une lettre d'irrecevabilité sera préparée pour signature"
ORAL_SUMMARY = "rien ne peut être communiqué sur une demande orale"


def root() -> Path:
    return Path(settings.PRIVATE_STORAGE_ROOT)


def held_files() -> list[Path]:
    directory = root() / storage.HELD_DIRECTORY
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.exists() else []


def kept_files() -> list[Path]:
    """Files of requests and letters: everything stored but the holding area."""
    if not root().exists():
        return []
    held = root() / storage.HELD_DIRECTORY
    return [p for p in root().rglob("*") if p.is_file() and held not in p.parents]


def snapshot() -> tuple[int, int, int]:
    return (
        DisclosureRequest.objects.count(),
        AuditEvent.objects.exclude(action__startswith="login").count(),
        len(kept_files()),
    )


class _Inputs(HTMLParser):
    """The inputs of the page's POST forms, in order: (form index, name, value)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms = -1
        self.inputs: list[tuple[int, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and (found.get("method") or "").lower() == "post":
            self.forms += 1
        elif tag == "input" and found.get("type") == "hidden" and found.get("name"):
            self.inputs.append((self.forms, found["name"] or "", found.get("value") or ""))


def hidden_fields(html: str) -> dict[str, list[str]]:
    """The hidden fields of the page's last POST form (the logout form comes first)."""
    parser = _Inputs()
    parser.feed(html)
    fields: dict[str, list[str]] = {}
    for form, name, value in parser.inputs:
        if form == parser.forms:
            fields.setdefault(name, []).append(value)
    return fields


def text(response) -> str:
    """The page's HTML with its character references resolved."""
    return html_lib.unescape(response.content.decode())


# An oral request records neither a birth date nor a national number.
ORAL = {"channel": "oral", "persons-0-birth_date": None, "persons-0-national_number": None}


def confirmation_of(client: Client, **overrides) -> tuple[object, dict[str, list[str]]]:
    response = client.post(URL, intake_post(**overrides))
    assert response.status_code == 200, response.content.decode()[:2000]
    assert response.templates[0].name == "requests_app/intake_confirm.html"
    return response, hidden_fields(response.content.decode())


# ---------------------------------------------------------------------------
# Intake: nothing recorded before the confirmation


def test_an_inadmissible_request_is_summarised_and_nothing_is_recorded(client, secretariat):
    login(client, secretariat)
    before = snapshot()

    response, fields = confirmation_of(client, cited_provision="")

    html = text(response)
    assert INADMISSIBLE_SUMMARY in html
    assert "La demande ne cite aucune disposition légale" in html
    assert "Rien n'est encore enregistré." in html
    assert snapshot() == before
    # The chosen scan waits, under a name of the server's, readable by the app only.
    [held] = held_files()
    assert held.read_bytes() == PDF_BYTES
    assert "lettre" not in str(held.relative_to(root()))
    assert stat.S_IMODE(held.stat().st_mode) == 0o600
    assert fields["held_scan"][0] not in held.name
    assert fields["outcome"] == ["inadmissible:no_legal_provision"]


def test_an_oral_request_is_summarised_and_nothing_is_recorded(client, secretariat):
    login(client, secretariat)
    before = snapshot()

    response, _fields = confirmation_of(client, **ORAL, scan=None)

    html = text(response)
    assert ORAL_SUMMARY in html
    assert "Invitez le demandeur à écrire au Président" in html
    assert snapshot() == before
    assert held_files() == []


def test_a_request_to_examine_is_recorded_without_confirmation(client, secretariat):
    login(client, secretariat)

    response = client.post(URL, intake_post())

    assert response.status_code == 302
    assert DisclosureRequest.objects.get().state == State.AWAITING_ASSIGNMENT
    assert held_files() == []


def test_confirming_records_the_inadmissible_request_with_the_held_scan(client, secretariat):
    login(client, secretariat)
    _response, fields = confirmation_of(client, cited_provision="")

    response = client.post(URL, {**fields, "confirm": "1"})

    dr = DisclosureRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == dr.get_absolute_url()
    assert dr.state == State.AWAITING_SIGNATURES
    assert dr.inadmissibility_reasons == ["no_legal_provision"]
    assert dr.reply.kind == ReplyKind.INADMISSIBILITY
    assert dr.scan_sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    assert dr.persons.get().last_name == CANARY_NAME
    # The held file became the request's scan: the holding area is empty again.
    assert held_files() == []
    assert client.session.get("held_files") == {}


def test_confirming_records_the_oral_request_closed(client, secretariat):
    login(client, secretariat)
    _response, fields = confirmation_of(client, **ORAL, scan=None)

    response = client.post(URL, {**fields, "confirm": "1"})

    assert response.status_code == 302
    dr = DisclosureRequest.objects.get()
    assert dr.state == State.CLOSED_ORAL
    assert not dr.scan


def test_an_oral_request_with_a_file_chosen_is_recorded_without_it(client, secretariat):
    login(client, secretariat)
    _response, fields = confirmation_of(client, **ORAL)
    assert len(held_files()) == 1  # kept in case the secretariat goes back

    client.post(URL, {**fields, "confirm": "1"})

    dr = DisclosureRequest.objects.get()
    assert dr.state == State.CLOSED_ORAL
    assert not dr.scan
    assert held_files() == []


def test_a_confirmation_counts_only_for_the_outcome_it_showed(client, secretariat):
    login(client, secretariat)
    _response, fields = confirmation_of(client, cited_provision="")
    # The person is no longer identified either: another outcome than the one shown.
    fields["persons-0-birth_date"] = [""]
    fields["persons-0-national_number"] = [""]

    response = client.post(URL, {**fields, "confirm": "1"})

    assert response.status_code == 200
    assert "La personne concernée n'est pas identifiée avec précision" in text(response)
    assert not DisclosureRequest.objects.exists()


def test_confirming_twice_records_once(client, secretariat):
    login(client, secretariat)
    _response, fields = confirmation_of(client, cited_provision="")
    posted = {**fields, "confirm": "1"}

    first = client.post(URL, posted)
    second = client.post(URL, posted)

    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"]
    assert DisclosureRequest.objects.count() == 1


def test_going_back_keeps_every_field_and_the_file(client, secretariat):
    login(client, secretariat)
    _response, fields = confirmation_of(
        client,
        cited_provision="",
        requester_letter_date="2026-10-28",
        requester_function="investigating_judge",
    )

    back = client.post(URL, {**fields, "back": "1"})

    html = text(back)
    assert back.status_code == 200
    assert back.templates[0].name == "requests_app/create.html"
    form = back.context["form"]
    assert form["requester_name"].value() == "Juge CANARYJUGE"
    assert form["requester_letter_date"].value() == "2026-10-28"
    assert form["documents"].value() == ["judge_order"]
    assert form["requester_function"].value() == "investigating_judge"
    assert form["cited_provision"].value() == ""
    assert back.context["persons"].forms[0]["national_number"].value() == "85.01.01-001.15"
    assert 'value="Juge CANARYJUGE"' in html
    assert f"Fichier retenu : PDF, {len(PDF_BYTES)}\xa0octets" in html
    assert "choisissez un autre fichier pour le remplacer" in html
    assert not DisclosureRequest.objects.exists()
    assert len(held_files()) == 1

    # The provision added, the form is sent again without choosing the file again.
    again = hidden_fields(back.content.decode())
    posted = {k: v for k, v in intake_post(cited_provision="Art. 87 CIC").items() if k != "scan"}
    response = client.post(URL, {**posted, "held_scan": again["held_scan"]})

    assert response.status_code == 302
    dr = DisclosureRequest.objects.get()
    assert dr.state == State.AWAITING_ASSIGNMENT
    assert dr.scan_sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    assert held_files() == []


# ---------------------------------------------------------------------------
# The chosen file after a server-side validation error


def without_scan(**overrides) -> dict[str, object]:
    return {k: v for k, v in intake_post(**overrides).items() if k != "scan"}


def test_a_validation_error_keeps_the_file(client, secretariat):
    login(client, secretariat)
    before = snapshot()

    refused = client.post(URL, intake_post(**{"persons-0-national_number": "85010100116"}))

    html = text(refused)
    assert refused.status_code == 400
    assert "registre national est invalide" in html
    assert "Fichier retenu : PDF" in html
    assert snapshot() == before
    assert len(held_files()) == 1

    key = hidden_fields(refused.content.decode())["held_scan"]
    response = client.post(URL, {**without_scan(), "held_scan": key})

    assert response.status_code == 302
    assert DisclosureRequest.objects.get().scan_sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    assert held_files() == []


def test_a_file_chosen_anew_replaces_the_held_one(client, secretariat):
    login(client, secretariat)
    refused = client.post(URL, intake_post(requester_name=""))
    key = hidden_fields(refused.content.decode())["held_scan"]
    [first] = held_files()
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "white").save(buffer, "PNG")

    response = client.post(
        URL,
        {
            **intake_post(scan=SimpleUploadedFile("autre.png", buffer.getvalue(), "image/png")),
            "held_scan": key,
        },
    )

    assert response.status_code == 302
    assert DisclosureRequest.objects.get().scan_content_type == "image/png"
    assert not first.exists()
    assert held_files() == []


def test_a_scan_the_checks_refuse_is_not_held(client, secretariat):
    login(client, secretariat)
    with_script = PDF_BYTES.replace(b"/Type/Catalog", b"/Type/Catalog/OpenAction<</JS(x)>>")

    response = client.post(
        URL,
        intake_post(
            requester_name="",
            scan=SimpleUploadedFile("lettre.pdf", with_script, "application/pdf"),
        ),
    )

    assert response.status_code == 400
    assert "Fichier retenu" not in text(response)
    assert held_files() == []


def test_the_check_without_script_keeps_the_file_and_the_script_check_holds_nothing(
    client, secretariat
):
    login(client, secretariat)

    partial = client.post(URL, intake_post(preview="1"), headers={"X-Huisclos-Check": "1"})
    assert partial.status_code == 200
    assert held_files() == []

    page = client.post(URL, intake_post(preview="1", cited_provision=""))

    html = text(page)
    assert page.status_code == 200
    assert "Fichier retenu : PDF" in html
    assert INADMISSIBLE_SUMMARY in html
    assert not DisclosureRequest.objects.exists()
    assert len(held_files()) == 1


def test_a_held_file_is_not_reachable_from_another_session(client, secretariat):
    login(client, secretariat)
    refused = client.post(URL, intake_post(requester_name=""))
    key = hidden_fields(refused.content.decode())["held_scan"]
    other = login(Client(), secretariat)

    response = other.post(URL, {**without_scan(), "held_scan": key})

    assert response.status_code == 400
    assert "Joignez le scan de la lettre" in text(response)
    assert not DisclosureRequest.objects.exists()
    # Still there for the session that chose it.
    assert len(held_files()) == 1
    assert client.post(URL, {**without_scan(), "held_scan": key}).status_code == 302


def test_a_held_file_is_purged_after_its_time(client, secretariat):
    login(client, secretariat)
    refused = client.post(URL, intake_post(requester_name=""))
    key = hidden_fields(refused.content.decode())["held_scan"]
    [held] = held_files()
    old = time.time() - storage.HELD_SECONDS - 60
    os.utime(held, (old, old))

    call_command("purge_held_files", stdout=io.StringIO())

    assert not held.exists()
    response = client.post(URL, {**without_scan(), "held_scan": key})
    assert response.status_code == 400
    assert "Joignez le scan de la lettre" in text(response)


def test_a_held_file_past_its_time_is_not_used_even_if_still_on_disk(client, secretariat):
    login(client, secretariat)
    refused = client.post(URL, intake_post(requester_name=""))
    key = hidden_fields(refused.content.decode())["held_scan"][0]
    session = client.session
    session["held_files"][key]["at"] = time.time() - storage.HELD_SECONDS - 60
    session.save()

    response = client.post(URL, {**without_scan(), "held_scan": key})

    assert response.status_code == 400
    assert held_files() == []


def test_opening_the_intake_page_purges_the_expired_held_files(client, secretariat):
    login(client, secretariat)
    directory = root() / storage.HELD_DIRECTORY
    directory.mkdir(parents=True)
    left = directory / "0123456789abcdef"
    left.write_bytes(PDF_BYTES)
    old = time.time() - storage.HELD_SECONDS - 1
    os.utime(left, (old, old))
    fresh = directory / "fedcba9876543210"
    fresh.write_bytes(PDF_BYTES)

    client.get(URL)

    assert not left.exists()
    assert fresh.exists()


def test_a_session_holds_a_few_files_at_most(client, secretariat):
    login(client, secretariat)

    for _ in range(storage.HELD_KEPT + 2):
        client.post(URL, intake_post(requester_name=""))

    assert len(held_files()) == storage.HELD_KEPT
    assert len(client.session["held_files"]) == storage.HELD_KEPT


def test_intake_logs_no_personal_data(client, secretariat, caplog):
    caplog.set_level(logging.DEBUG)
    login(client, secretariat)
    _response, fields = confirmation_of(client, cited_provision="")
    client.post(URL, {**fields, "back": "1"})
    client.post(URL, {**fields, "confirm": "1"})

    for canary in (CANARY_NAME, CANARY_NISS, "CANARYJUGE", "lettre.pdf"):
        assert canary not in caplog.text


# ---------------------------------------------------------------------------
# Closing and withdrawing: a confirmation page, a reason code


def test_withdrawal_page_says_what_will_happen_and_changes_nothing(client, flow, personas):
    dr = flow.assigned()
    login(client, personas["secretariat"])
    before = snapshot()

    page = client.get(reverse("requests_app:withdraw", args=[dr.pk]))

    html = text(page)
    assert page.status_code == 200
    assert "aucune réponse ne sera signée ni envoyée" in html
    assert html.count('name="reason"') == len(WithdrawalReason) - 1
    assert WithdrawalReason.NOT_RECORDED.value not in html
    assert reread(dr).state == State.AWAITING_OPINION
    assert snapshot() == before


@pytest.mark.parametrize("reason", [None, "", "not_recorded", "changed_my_mind"])
def test_a_withdrawal_without_a_valid_reason_is_refused_and_changes_nothing(
    client, flow, personas, reason
):
    dr = flow.assigned()
    login(client, personas["secretariat"])
    before = snapshot()

    response = client.post(
        reverse("requests_app:withdraw", args=[dr.pk]),
        {} if reason is None else {"reason": reason},
    )

    assert response.status_code == 400
    assert "Choisissez le motif du retrait." in text(response)
    assert reread(dr).state == State.AWAITING_OPINION
    assert reread(dr).withdrawal_reason == ""
    assert snapshot() == before


def test_a_withdrawal_with_its_reason_is_recorded_and_shown(client, flow, personas):
    dr = flow.assigned()
    login(client, personas["president"])

    response = client.post(
        reverse("requests_app:withdraw", args=[dr.pk]), {"reason": "information_obtained"}
    )

    assert response.status_code == 302
    dr = reread(dr)
    assert dr.state == State.WITHDRAWN
    assert dr.withdrawal_reason == "information_obtained"
    event = AuditEvent.objects.get(action="withdraw")
    assert event.details["reason_code"] == "information_obtained"
    login(client, personas["secretariat"])
    page = text(client.get(dr.get_absolute_url()))
    assert "Motif du retrait" in page
    assert "Le demandeur a obtenu l'information par une autre voie" in page


@pytest.mark.parametrize("payload", [{}, {"reason": ""}, {"reason": "whim"}])
def test_the_api_refuses_a_withdrawal_without_a_valid_reason(flow, personas, payload):
    dr = flow.assigned()
    api = APIClient()
    api.force_authenticate(personas["secretariat"])
    before = snapshot()

    response = api.post(reverse("api:request-withdraw", args=[dr.pk]), payload, format="json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()
    assert reread(dr).state == State.AWAITING_OPINION
    assert snapshot() == before


def test_the_api_records_a_withdrawal_with_its_reason(flow, personas):
    dr = flow.assigned()
    api = APIClient()
    api.force_authenticate(personas["secretariat"])

    response = api.post(
        reverse("api:request-withdraw", args=[dr.pk]), {"reason": "duplicate"}, format="json"
    )

    assert response.status_code == 200
    assert reread(dr).withdrawal_reason == "duplicate"


def test_closing_asks_for_confirmation_then_closes(client, flow, personas):
    dr = flow.dispatched()
    login(client, personas["secretariat"])
    before = snapshot()
    url = reverse("requests_app:close", args=[dr.pk])

    page = client.get(url)

    html = text(page)
    assert page.status_code == 200
    assert "ne peut plus être modifié" in html
    assert "La réponse a été expédiée le" in html
    assert reread(dr).state == State.DISPATCHED
    assert snapshot() == before

    response = client.post(url)

    assert response.status_code == 302
    assert reread(dr).state == State.CLOSED


def test_the_request_page_links_to_the_confirmation_pages(client, flow, personas):
    assigned = flow.assigned()
    dispatched = flow.dispatched()
    login(client, personas["secretariat"])

    withdraw_page = client.get(assigned.get_absolute_url()).content.decode()
    close_page = client.get(dispatched.get_absolute_url()).content.decode()

    withdraw_url = reverse("requests_app:withdraw", args=[assigned.pk])
    close_url = reverse("requests_app:close", args=[dispatched.pk])
    assert f'<a class="button secondary" href="{withdraw_url}">' in withdraw_page
    assert f'<a class="button" href="{close_url}">' in close_page
    assert f'action="{close_url}"' not in close_page


def test_a_withdrawal_page_for_a_step_not_yours_is_refused(client, flow, personas):
    dr = flow.assigned()
    login(client, personas["referent"])

    page = client.get(reverse("requests_app:withdraw", args=[dr.pk]))

    assert page.status_code == 403
    assert reread(dr).state == State.AWAITING_OPINION
