"""Correcting the registration data, and annulling a registration error.

The secretariat corrects what it registered until a referent is assigned,
the DG afterwards; nobody while a letter drafted from the data awaits its
signatures or its dispatch. Each correction is one audit event naming the
fields, never their values; the previous values are kept in the request's
history, shown to the roles that see its content. The DG annuls a
registration error: final, no letter, a letter in progress superseded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import io
import json
from datetime import date, timedelta

import pytest
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from audit.models import AuditEvent
from common.storage import private_storage
from requests_app import access, services
from requests_app.inputs import CorrectionData, PersonData
from requests_app.models import RegistrationCorrection, Reply, State
from tests.conftest import CANARY_FIRST, CANARY_NAME, CANARY_NISS, fresh_otp, pdf_upload, reread

REASON = "Faute de frappe à la saisie"
NEW_NAME = "Juge NOUVEAUNOM"


def changes_for(dr, **overrides) -> CorrectionData:
    """The request's registration data, with `overrides`."""
    return dataclasses.replace(CorrectionData.of(reread(dr)), **overrides)


def trail() -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("seq"))


def last_event() -> AuditEvent:
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    return event


def event_json(event: AuditEvent) -> str:
    return json.dumps(
        {
            "action": event.action,
            "from_state": event.from_state,
            "to_state": event.to_state,
            "details": event.details,
        },
        ensure_ascii=False,
    )


def png_upload(name: str = "lettre.png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    out = io.BytesIO()
    Image.new("RGB", (300, 400), "white").save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def snapshot(dr) -> dict[str, object]:
    fresh = reread(dr)
    return {
        "state": fresh.state,
        "name": fresh.requester_name,
        "letter_date": fresh.requester_letter_date,
        "scan": fresh.scan.name,
        "sha": fresh.scan_sha256,
        "persons": list(fresh.persons.values_list("last_name", flat=True)),
        "corrections": RegistrationCorrection.objects.count(),
        "events": AuditEvent.objects.count(),
    }


# ---------------------------------------------------------------------------
# Who corrects, and when


def test_secretariat_corrects_the_requester_name_before_assignment(flow, personas):
    dr = flow.received()

    correction = services.correct_registration(
        dr,
        actor=personas["secretariat"],
        reason=REASON,
        changes=changes_for(dr, requester_name=NEW_NAME),
    )

    fresh = reread(dr)
    assert fresh.requester_name == NEW_NAME
    assert fresh.state == State.AWAITING_ASSIGNMENT
    assert correction.fields == ["requester_name"]
    assert correction.previous_values == {"requester_name": "Juge CANARYJUGE"}
    assert correction.reason == REASON
    assert correction.corrected_by == personas["secretariat"]


def test_the_audit_event_names_the_fields_never_their_values(flow, personas):
    dr = flow.received()
    person = PersonData("NOUVELLEPERSONNE", "Prénom", date(1990, 5, 4))

    correction = services.correct_registration(
        dr,
        actor=personas["secretariat"],
        reason=REASON,
        changes=changes_for(dr, requester_name=NEW_NAME, persons=[person]),
    )

    event = last_event()
    assert event.action == "correct_registration"
    assert event.actor_id == personas["secretariat"].pk
    assert event.object_id == str(dr.pk)
    assert event.details == {
        "reference": dr.reference,
        "fields": ["requester_name", "persons"],
        "correction_id": correction.pk,
    }
    dump = event_json(event)
    for value in [
        "CANARYJUGE",
        "NOUVEAUNOM",
        CANARY_NAME,
        CANARY_FIRST,
        CANARY_NISS,
        "NOUVELLEPERSONNE",
        "1985-01-01",
        "1990-05-04",
        "Faute de frappe",
    ]:
        assert value not in dump


def test_secretariat_may_not_correct_once_a_referent_is_assigned(flow, personas):
    dr = flow.assigned()
    before = snapshot(dr)

    with pytest.raises(services.NotAllowed, match="seul le Directeur général"):
        services.correct_registration(
            dr,
            actor=personas["secretariat"],
            reason=REASON,
            changes=changes_for(dr, requester_name=NEW_NAME),
        )

    after = snapshot(dr)
    assert after["name"] == before["name"]
    assert after["corrections"] == before["corrections"]
    assert last_event().action == "refused"
    assert last_event().details == {
        "attempted": "correct_registration",
        "cause": "permission_denied",
    }


@pytest.mark.parametrize("state", ["awaiting_assignment", "awaiting_opinion", "awaiting_review"])
def test_dg_corrects_before_and_after_assignment(flow, personas, state):
    dr = flow.in_state(state)

    services.correct_registration(
        dr,
        actor=personas["dg"],
        reason=REASON,
        changes=changes_for(dr, requester_reference="JI/2026/999"),
    )

    fresh = reread(dr)
    assert fresh.requester_reference == "JI/2026/999"
    assert fresh.state == state


@pytest.mark.parametrize("role", ["president", "referent", "auditor", "outsider"])
def test_other_roles_may_not_correct(flow, personas, role):
    dr = flow.assigned()

    with pytest.raises(services.NotAllowed):
        services.correct_registration(
            dr,
            actor=personas[role],
            reason=REASON,
            changes=changes_for(dr, requester_name=NEW_NAME),
        )

    assert reread(dr).requester_name == "Juge CANARYJUGE"
    assert not RegistrationCorrection.objects.exists()


@pytest.mark.parametrize("state", ["awaiting_signatures", "partially_signed", "signed"])
def test_no_correction_under_a_letter_on_its_way(flow, personas, state):
    dr = flow.in_state(state)

    with pytest.raises(services.ActionRefused) as refused:
        services.correct_registration(
            dr,
            actor=personas["dg"],
            reason=REASON,
            changes=changes_for(dr, requester_name=NEW_NAME),
        )

    assert refused.value.cause == "letter_drafted"
    assert reread(dr).requester_name == "Juge CANARYJUGE"
    assert "correct_registration" not in access.available_actions(reread(dr), personas["dg"])


@pytest.mark.parametrize("state", ["dispatched", "closed", "withdrawn"])
def test_no_correction_once_the_request_is_over(flow, personas, state):
    dr = flow.in_state(state)

    with pytest.raises(services.ActionRefused) as refused:
        services.correct_registration(
            dr,
            actor=personas["dg"],
            reason=REASON,
            changes=changes_for(dr, requester_name=NEW_NAME),
        )

    assert refused.value.cause == "illegal_transition"


def test_secretariat_may_not_correct_an_inadmissible_request_whose_letter_awaits(flow, personas):
    dr = flow.inadmissible()
    assert dr.state == State.AWAITING_SIGNATURES

    with pytest.raises(services.ActionRefused) as refused:
        services.correct_registration(
            dr,
            actor=personas["secretariat"],
            reason=REASON,
            changes=changes_for(dr, requester_name=NEW_NAME),
        )

    assert refused.value.cause == "letter_drafted"


def test_the_correction_button_follows_the_rule(flow, personas):
    waiting = flow.received()
    assigned = flow.assigned()

    assert "correct_registration" in access.available_actions(waiting, personas["secretariat"])
    assert "correct_registration" in access.available_actions(waiting, personas["dg"])
    assert "correct_registration" not in access.available_actions(
        assigned, personas["secretariat"]
    )
    assert "correct_registration" in access.available_actions(assigned, personas["dg"])
    for role in ("president", "referent"):
        assert "correct_registration" not in access.available_actions(assigned, personas[role])


# ---------------------------------------------------------------------------
# Bad input changes nothing


def test_nothing_changed_is_refused_and_changes_nothing(flow, personas):
    dr = flow.received()
    before = snapshot(dr)

    with pytest.raises(services.ActionRefused, match="Rien n'a été corrigé") as refused:
        services.correct_registration(
            dr, actor=personas["secretariat"], reason=REASON, changes=changes_for(dr)
        )

    assert refused.value.http_status == 400
    assert snapshot(dr) == before


def test_a_reason_is_required(flow, personas):
    dr = flow.received()
    before = snapshot(dr)

    with pytest.raises(services.ActionRefused) as refused:
        services.correct_registration(
            dr,
            actor=personas["secretariat"],
            reason="   ",
            changes=changes_for(dr, requester_name=NEW_NAME),
        )

    assert refused.value.http_status == 400
    assert snapshot(dr) == before


@pytest.mark.parametrize(
    "overrides",
    [
        {"requester_letter_date": date(2026, 11, 20)},  # after its receipt (2 Nov)
        {"requester_letter_date": date(2026, 10, 1), "requester_deadline": date(2026, 9, 1)},
        {"requester_function": "emperor"},
        {"documents": ["a_secret_map"]},
    ],
)
def test_invalid_data_change_nothing(flow, personas, overrides):
    dr = flow.received()
    before = snapshot(dr)

    with pytest.raises(services.ActionRefused) as refused:
        services.correct_registration(
            dr,
            actor=personas["secretariat"],
            reason=REASON,
            changes=changes_for(dr, requester_name=NEW_NAME, **overrides),
        )

    assert refused.value.http_status == 400
    assert snapshot(dr) == before


def test_a_file_that_is_not_a_scan_is_refused_and_the_stored_scan_stays(flow, personas):
    dr = flow.received()
    before = snapshot(dr)
    fake = pdf_upload(content=b"<html><script>alert(1)</script></html>")

    with pytest.raises(services.ActionRefused) as refused:
        services.correct_registration(
            dr,
            actor=personas["secretariat"],
            reason=REASON,
            changes=changes_for(dr, scan=fake, scan_content_type="application/pdf"),
        )

    assert refused.value.http_status == 400
    assert snapshot(dr) == before
    assert private_storage.exists(before["scan"])


# ---------------------------------------------------------------------------
# What a correction changes besides the fields


def test_the_due_date_follows_the_date_of_receipt(flow, personas):
    dr = flow.received()
    old_due = reread(dr).due_on
    assert old_due is not None

    correction = services.correct_registration(
        dr,
        actor=personas["secretariat"],
        reason=REASON,
        changes=changes_for(dr, received_on=date(2026, 11, 9)),
    )

    fresh = reread(dr)
    assert fresh.due_on is not None
    assert fresh.due_on > old_due
    assert correction.fields == ["received_on", "due_on"]
    assert correction.previous_values["due_on"] == old_due.isoformat()
    assert correction.previous_values["received_on"] == "2026-11-02"


def test_the_due_date_follows_the_requesters_deadline(flow, personas):
    dr = flow.received()
    deadline = date(2026, 12, 18)

    services.correct_registration(
        dr,
        actor=personas["secretariat"],
        reason=REASON,
        changes=changes_for(dr, requester_deadline=deadline),
    )

    assert reread(dr).due_on == deadline


def test_persons_are_replaced_and_the_previous_ones_kept(flow, personas):
    dr = flow.received()
    persons = [
        PersonData(CANARY_NAME, CANARY_FIRST, date(1985, 1, 2), CANARY_NISS),
        PersonData("Peeters", "Jan", date(1970, 3, 4)),
    ]

    correction = services.correct_registration(
        dr, actor=personas["secretariat"], reason=REASON, changes=changes_for(dr, persons=persons)
    )

    fresh = reread(dr)
    assert [(p.last_name, p.birth_date) for p in fresh.persons.all()] == [
        (CANARY_NAME, date(1985, 1, 2)),
        ("Peeters", date(1970, 3, 4)),
    ]
    assert correction.fields == ["persons"]
    assert correction.previous_values["persons"] == [
        {
            "last_name": CANARY_NAME,
            "first_names": CANARY_FIRST,
            "birth_date": "1985-01-01",
            "national_number": CANARY_NISS,
            "cpas_file_number": "",
        }
    ]


def test_the_scan_is_replaced_after_the_intake_checks(
    flow, personas, django_capture_on_commit_callbacks
):
    dr = flow.received()
    old = reread(dr)
    upload = png_upload()

    with django_capture_on_commit_callbacks(execute=True):
        correction = services.correct_registration(
            dr,
            actor=personas["secretariat"],
            reason=REASON,
            changes=changes_for(dr, scan=upload, scan_content_type="image/png"),
        )

    fresh = reread(dr)
    assert fresh.scan.name != old.scan.name
    assert fresh.scan_content_type == "image/png"
    stored = fresh.scan.read()
    assert stored.startswith(b"\x89PNG")
    assert fresh.scan_sha256 == hashlib.sha256(stored).hexdigest()
    assert correction.fields == ["scan"]
    assert correction.previous_values == {
        "scan": {"sha256": old.scan_sha256, "content_type": "application/pdf"}
    }
    # The replaced file is gone; its fingerprint stays in the correction and the trail.
    assert not private_storage.exists(old.scan.name)
    assert last_event().details["scan_sha256"] == fresh.scan_sha256
    assert last_event().details["previous_scan_sha256"] == old.scan_sha256


def test_the_same_scan_again_is_no_correction(flow, personas):
    dr = flow.received()

    with pytest.raises(services.ActionRefused) as refused:
        services.correct_registration(
            dr,
            actor=personas["secretariat"],
            reason=REASON,
            changes=changes_for(dr, scan=pdf_upload(), scan_content_type="application/pdf"),
        )

    assert refused.value.cause == "nothing_to_correct"


def test_a_correction_that_makes_the_request_inadmissible_moves_no_state(flow, personas):
    dr = flow.assigned()

    correction = services.correct_registration(
        dr, actor=personas["dg"], reason=REASON, changes=changes_for(dr, cited_provision="")
    )

    fresh = reread(dr)
    assert fresh.state == State.AWAITING_OPINION
    assert fresh.inadmissibility_reasons == []
    assert correction.fields == ["cited_provision"]
    assert services.decides_otherwise(fresh)
    codes = [f.code for f in services.intake_flags(fresh)]
    assert any("provision" in code for code in codes), codes


def test_an_inadmissible_request_keeps_its_state_and_gets_its_reasons_updated(flow, personas):
    # Inadmissible for want of a provision; the letter declined goes back to the DG.
    dr = flow.inadmissible()
    services.decline_to_sign(dr, actor=personas["dg"], remarks="Le nom du juge est mal écrit.")
    dr = reread(dr)
    assert dr.state == State.AWAITING_REVIEW
    assert dr.inadmissibility_reasons == ["no_legal_provision"]
    unidentified = [PersonData(CANARY_NAME)]

    correction = services.correct_registration(
        dr,
        actor=personas["dg"],
        reason=REASON,
        changes=changes_for(dr, requester_name=NEW_NAME, persons=unidentified),
    )

    fresh = reread(dr)
    assert fresh.state == State.AWAITING_REVIEW
    assert fresh.inadmissibility_reasons == ["person_not_identified", "no_legal_provision"]
    assert correction.previous_values["inadmissibility_reasons"] == ["no_legal_provision"]


def test_a_correction_that_makes_an_inadmissible_request_admissible_moves_no_state(flow, personas):
    dr = flow.inadmissible()
    services.decline_to_sign(dr, actor=personas["dg"], remarks="La disposition est citée.")
    dr = reread(dr)

    services.correct_registration(
        dr,
        actor=personas["dg"],
        reason=REASON,
        changes=changes_for(dr, cited_provision="Art. 87 et 88 du Code d'instruction criminelle"),
    )

    fresh = reread(dr)
    assert fresh.state == State.AWAITING_REVIEW
    assert fresh.inadmissibility_reasons == ["no_legal_provision"]
    assert services.decides_otherwise(fresh)


# ---------------------------------------------------------------------------
# The pages


def correction_post(dr, **overrides) -> dict[str, object]:
    """The correction form as the page posts it, prefilled with the request."""
    data = CorrectionData.of(reread(dr))
    post: dict[str, object] = {
        "received_on": data.received_on.isoformat(),
        "requester_kind": data.requester_kind,
        "requester_name": data.requester_name,
        "requester_function": data.requester_function,
        "requester_civility": data.requester_civility,
        "requester_organisation": data.requester_organisation,
        "requester_address": data.requester_address,
        "requester_reference": data.requester_reference,
        "requester_letter_date": "",
        "cited_provision": data.cited_provision,
        "information_requested": data.information_requested,
        "documents": data.documents,
        "requester_deadline": "",
        "reason": REASON,
        "persons-TOTAL_FORMS": str(len(data.persons) + 1),
        "persons-INITIAL_FORMS": str(len(data.persons)),
    }
    for i, p in enumerate(data.persons):
        post.update(
            {
                f"persons-{i}-last_name": p.last_name,
                f"persons-{i}-first_names": p.first_names,
                f"persons-{i}-birth_date": p.birth_date.isoformat() if p.birth_date else "",
                f"persons-{i}-national_number": p.national_number,
                f"persons-{i}-cpas_file_number": p.cpas_file_number,
            }
        )
    post.update(overrides)
    return post


def test_the_secretariat_corrects_through_the_page(flow, personas, client):
    dr = flow.received()
    client.force_login(personas["secretariat"])
    url = reverse("requests_app:correct", args=[dr.pk])

    page = client.get(url)
    response = client.post(url, correction_post(dr, requester_name=NEW_NAME))

    assert page.status_code == 200
    # Prefilled with what the secretariat typed at intake; never a link to the scan.
    assert CANARY_NAME in html.unescape(page.content.decode())
    assert reverse("requests_app:scan", args=[dr.pk]) not in page.content.decode()
    assert response.status_code == 302
    assert reread(dr).requester_name == NEW_NAME
    assert RegistrationCorrection.objects.get().fields == ["requester_name"]


def test_opening_the_prefilled_form_is_recorded(flow, personas, client):
    dr = flow.received()
    client.force_login(personas["secretariat"])

    client.get(reverse("requests_app:correct", args=[dr.pk]))

    event = last_event()
    assert event.action == "read_correction_form"
    assert event.actor_id == personas["secretariat"].pk


def test_a_refused_form_changes_nothing_and_says_why(flow, personas, client):
    dr = flow.received()
    client.force_login(personas["secretariat"])
    before = snapshot(dr)

    response = client.post(
        reverse("requests_app:correct", args=[dr.pk]),
        correction_post(dr, requester_name=NEW_NAME, requester_letter_date="2026-11-20"),
    )

    assert response.status_code == 400
    body = html.unescape(response.content.decode())
    assert "Rien n'a été corrigé" in body
    assert "La lettre du demandeur ne peut pas être datée après sa réception." in body
    after = snapshot(dr)
    assert after["name"] == before["name"]
    assert after["corrections"] == before["corrections"]
    # The form's only event is the read of the page, none for the refused post.
    assert after["events"] == before["events"]


def test_the_page_without_a_reason_is_refused(flow, personas, client):
    dr = flow.received()
    client.force_login(personas["secretariat"])

    response = client.post(
        reverse("requests_app:correct", args=[dr.pk]),
        correction_post(dr, requester_name=NEW_NAME, reason=""),
    )

    assert response.status_code == 400
    assert reread(dr).requester_name != NEW_NAME


def test_the_check_shows_the_changes_and_the_flags_without_saving(flow, personas, client):
    dr = flow.assigned()
    client.force_login(personas["dg"])
    before = snapshot(dr)

    response = client.post(
        reverse("requests_app:correct", args=[dr.pk]),
        correction_post(dr, cited_provision="", reason="", preview="1"),
        headers={"X-Huisclos-Check": "1"},
    )

    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    assert "Rien n'a encore été corrigé." in body
    assert "Disposition légale citée par le demandeur" in body
    assert "serait irrecevable en l'état" in body
    assert snapshot(dr)["corrections"] == before["corrections"]
    assert reread(dr).cited_provision


def test_a_new_scan_on_the_page_goes_through_the_intake_checks(flow, personas, client):
    dr = flow.received()
    client.force_login(personas["secretariat"])
    before = snapshot(dr)
    fake = pdf_upload("lettre.pdf", b"GIF89a not a letter")

    response = client.post(
        reverse("requests_app:correct", args=[dr.pk]), {**correction_post(dr), "scan": fake}
    )

    assert response.status_code == 400
    assert "ni un PDF" in html.unescape(response.content.decode())
    assert snapshot(dr)["sha"] == before["sha"]


@pytest.mark.parametrize(("role", "status"), [("president", 403), ("referent", 403)])
def test_the_correction_page_is_not_theirs(flow, personas, client, role, status):
    dr = flow.assigned()
    client.force_login(personas[role])

    response = client.get(reverse("requests_app:correct", args=[dr.pk]))

    assert response.status_code == status


def test_history_shows_previous_values_to_content_roles_only(flow, personas, client):
    dr = flow.received()
    services.correct_registration(
        dr,
        actor=personas["secretariat"],
        reason=REASON,
        changes=changes_for(dr, persons=[PersonData("Peeters", "Jan", date(1970, 3, 4))]),
    )
    services.assign_referent(dr, actor=personas["president"], referent=personas["referent"])
    url = reverse("requests_app:detail", args=[dr.pk])

    pages = {}
    for role in ("secretariat", "president", "dg", "referent"):
        client.force_login(personas[role])
        pages[role] = html.unescape(client.get(url).content.decode())

    for role in ("president", "dg", "referent"):
        assert "Valeurs avant la correction" in pages[role], role
        assert CANARY_NAME in pages[role], role
        assert REASON in pages[role]
    secretariat = pages["secretariat"]
    assert "Corrections de l'enregistrement" in secretariat
    assert "Personne(s) concernée(s)" in secretariat  # the field's name
    assert REASON in secretariat
    assert "Valeurs avant la correction" not in secretariat
    for value in (CANARY_NAME, CANARY_FIRST, CANARY_NISS, "Peeters"):
        assert value not in secretariat


# ---------------------------------------------------------------------------
# The API


def test_the_api_corrects_the_fields_given(flow, personas):
    dr = flow.received()
    api = APIClient()
    api.force_authenticate(personas["secretariat"])

    response = api.post(
        reverse("api:request-correct", args=[dr.pk]),
        {"requester_name": NEW_NAME, "reason": REASON},
        format="json",
    )

    assert response.status_code == 200, response.content
    fresh = reread(dr)
    assert fresh.requester_name == NEW_NAME
    assert fresh.cited_provision  # left out: kept
    assert fresh.persons.count() == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"requester_name": NEW_NAME},  # no reason
        {"requester_name": NEW_NAME, "reason": REASON, "received_on": "2099-01-01"},
        {"requester_name": NEW_NAME, "reason": REASON, "persons": "nobody"},
        {"requester_name": "Juge CANARYJUGE", "reason": REASON},  # nothing changes
    ],
)
def test_the_api_refuses_bad_input_with_a_json_400(flow, personas, payload):
    dr = flow.received()
    api = APIClient()
    api.force_authenticate(personas["secretariat"])
    before = snapshot(dr)

    response = api.post(reverse("api:request-correct", args=[dr.pk]), payload, format="json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert snapshot(dr) == before


def test_the_api_refuses_the_secretariat_after_assignment(flow, personas):
    dr = flow.assigned()
    api = APIClient()
    api.force_authenticate(personas["secretariat"])

    response = api.post(
        reverse("api:request-correct", args=[dr.pk]),
        {"requester_name": NEW_NAME, "reason": REASON},
        format="json",
    )

    assert response.status_code == 403
    assert reread(dr).requester_name != NEW_NAME


# ---------------------------------------------------------------------------
# Annulment

ANNUL_REASON = "Lettre enregistrée deux fois (doublon de CANARYDOUBLON)"


def test_the_dg_annuls_a_registration_error(flow, personas):
    dr = flow.assigned()
    replies = Reply.objects.count()

    services.annul(dr, actor=personas["dg"], reason=ANNUL_REASON)

    fresh = reread(dr)
    assert fresh.state == State.ANNULLED
    assert fresh.annulment_reason == ANNUL_REASON
    assert fresh.closed_at is not None
    assert Reply.objects.count() == replies  # no letter
    event = last_event()
    assert event.action == "annul"
    assert event.from_state == State.AWAITING_OPINION
    assert event.to_state == State.ANNULLED
    assert "CANARYDOUBLON" not in event_json(event)
    assert "doublon" not in event_json(event)


def test_annulment_needs_a_reason(flow, personas):
    dr = flow.assigned()
    events = AuditEvent.objects.count()

    with pytest.raises(services.ActionRefused) as refused:
        services.annul(dr, actor=personas["dg"], reason="  ")

    assert refused.value.http_status == 400
    assert reread(dr).state == State.AWAITING_OPINION
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("role", ["secretariat", "president", "referent", "auditor"])
def test_only_the_dg_annuls(flow, personas, role):
    dr = flow.assigned()

    with pytest.raises(services.NotAllowed):
        services.annul(dr, actor=personas[role], reason=ANNUL_REASON)

    assert reread(dr).state == State.AWAITING_OPINION
    assert "annul" not in access.available_actions(reread(dr), personas[role])


def test_annulment_supersedes_a_partly_signed_letter(flow, personas):
    dr = flow.partially_signed()
    letter = reread(dr).current_reply()
    assert letter is not None

    services.annul(dr, actor=personas["dg"], reason=ANNUL_REASON)

    fresh = reread(dr)
    letter.refresh_from_db()
    assert letter.superseded_at is not None
    assert fresh.current_reply() is None
    assert last_event().details["superseded_reply_ids"] == [letter.pk]
    # Nothing remains to sign.
    assert access.available_actions(fresh, personas["president"]) == set()
    with pytest.raises(services.ActionRefused):
        services.sign_reply(
            fresh, actor=personas["president"], otp=fresh_otp(personas["president"])
        )


def test_an_inadmissibility_letter_is_superseded_and_none_produced(flow, personas):
    dr = flow.inadmissible()
    replies = Reply.objects.count()

    services.annul(dr, actor=personas["dg"], reason=ANNUL_REASON)

    assert Reply.objects.count() == replies
    assert not Reply.objects.filter(request=dr, superseded_at__isnull=True).exists()


@pytest.mark.parametrize(
    ("step", "kwargs"),
    [
        ("withdraw", {"reason": "withdrawn_in_writing"}),
        ("close", {}),
        ("annul", {"reason": ANNUL_REASON}),
        ("correct_registration", None),
    ],
)
def test_an_annulled_request_is_final(flow, personas, step, kwargs):
    dr = flow.assigned()
    services.annul(dr, actor=personas["dg"], reason=ANNUL_REASON)
    dr = reread(dr)
    actor = personas["secretariat"] if step == "close" else personas["dg"]
    if kwargs is None:
        kwargs = {"reason": REASON, "changes": changes_for(dr, requester_name=NEW_NAME)}

    with pytest.raises(services.ActionRefused):
        getattr(services, step)(dr, actor=actor, **kwargs)

    assert reread(dr).state == State.ANNULLED
    for role in ("secretariat", "president", "dg"):
        assert access.available_actions(reread(dr), personas[role]) == set()


def test_the_annulment_page_says_what_follows_then_annuls(flow, personas, client):
    dr = flow.partially_signed()
    client.force_login(personas["dg"])
    url = reverse("requests_app:annul", args=[dr.pk])

    page = client.get(url)
    empty = client.post(url, {"reason": ""})
    done = client.post(url, {"reason": ANNUL_REASON})

    assert page.status_code == 200
    text = html.unescape(page.content.decode())
    assert "Aucune lettre n'est produite" in text
    assert "cette signature ne compte plus" in text
    assert empty.status_code == 400
    assert done.status_code == 302
    assert reread(dr).state == State.ANNULLED


def test_the_annulled_request_page_shows_the_state_and_the_reason(flow, personas, client):
    dr = flow.assigned()
    services.annul(dr, actor=personas["dg"], reason=ANNUL_REASON)
    client.force_login(personas["secretariat"])

    page = html.unescape(client.get(reverse("requests_app:detail", args=[dr.pk])).content.decode())

    assert "Annulée : erreur d'enregistrement" in page
    assert "state-annulled" in page
    assert ANNUL_REASON in page


def test_the_annulment_page_is_the_dgs(flow, personas, client):
    dr = flow.assigned()
    for role in ("secretariat", "president"):
        client.force_login(personas[role])

        response = client.get(reverse("requests_app:annul", args=[dr.pk]))

        assert response.status_code == 403


def test_the_register_filter_offers_the_annulled_state_in_french(personas, client):
    client.force_login(personas["dg"])

    page = html.unescape(client.get(reverse("requests_app:register")).content.decode())

    assert "Annulée : erreur d'enregistrement" in page


def test_each_correction_is_kept_in_order(flow, personas):
    """Two corrections make two history entries, in order."""
    dr = flow.received()
    services.correct_registration(
        dr,
        actor=personas["secretariat"],
        reason=REASON,
        changes=changes_for(dr, requester_name="A"),
    )
    services.correct_registration(
        dr,
        actor=personas["dg"],
        reason=REASON,
        changes=changes_for(dr, received_on=date(2026, 11, 2) - timedelta(days=1)),
    )

    history = list(reread(dr).corrections.order_by("corrected_at", "pk"))
    assert [c.fields for c in history] == [["requester_name"], ["received_on", "due_on"]]
    assert history[1].previous_values["received_on"] == "2026-11-02"
