"""The JSON API offers every action of the UI through the same services."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.models import AuditEvent
from legal_basis.models import LegalBasis
from requests_app.models import DisclosureRequest, State
from tests.conftest import (
    CANARY_NAME,
    PDF_BYTES,
    basis,
    checklist_json,
    fresh_otp,
    reread,
)


def api_for(user) -> APIClient:
    client = APIClient()
    _token, key = ApiToken.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def intake_payload(**overrides):
    data = {
        "received_on": "2026-11-02",
        "channel": "post",
        "requester_kind": "investigating_judge",
        "requester_name": "Juge",
        "cited_provision": "Art. 87 CIC",
        "information_requested": "Adresse",
        "documents": ["judge_order"],
        "persons": json.dumps(
            [{"last_name": CANARY_NAME, "first_names": "Jean", "birth_date": "1985-01-01"}]
        ),
        "scan": SimpleUploadedFile("l.pdf", PDF_BYTES, content_type="application/pdf"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_whole_procedure_through_the_api(personas):
    created = api_for(personas["secretariat"]).post(
        reverse("api:request-list"), intake_payload(), format="multipart"
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]

    def post(role, route, payload=None):
        response = api_for(personas[role]).post(
            reverse(route, args=[pk]), payload or {}, format="json"
        )
        assert response.status_code == 200, response.content
        return response.json()

    post("president", "api:request-assign", {"referent": personas["referent"].pk})
    post(
        "referent",
        "api:request-opinion",
        {
            "legal_bases": ["ji-search-seizure"],
            "proposal": "disclose",
            "reasoning": "Ordonnance.",
            "items": [
                {
                    "description": "Adresse",
                    "data_category": "address",
                    "necessity": "x",
                    "basis": "ji-search-seizure",
                }
            ],
            "checklist": checklist_json([basis("ji-search-seizure")]),
        },
    )
    post("dg", "api:request-approve", {})
    post("dg", "api:request-sign", {"otp": fresh_otp(personas["dg"])})
    body = post("president", "api:request-sign", {"otp": fresh_otp(personas["president"])})
    assert body["state"] == "signed"
    assert [i["description"] for i in body["reply"]["items"]] == ["Adresse"]
    assert [i["basis"] for i in body["reply"]["items"]] == ["ji-search-seizure"]
    post(
        "secretariat",
        "api:request-dispatch",
        {
            "dispatched_on": "2026-11-03",
            "channel": "registered_post",
            "registered_mail_number": "RR1",
        },
    )
    body = post("secretariat", "api:request-close")
    assert body["state"] == "closed"


def test_api_refusal_paths(flow, personas):
    dr = flow.in_review()
    dg = api_for(personas["dg"])

    sent_back = dg.post(
        reverse("api:request-return", args=[dr.pk]), {"remarks": "Précisez."}, format="json"
    )
    assert sent_back.json()["state"] == "awaiting_opinion"


def test_api_refuse_disclosure(flow, personas):
    dr = flow.in_review()

    response = api_for(personas["dg"]).post(
        reverse("api:request-refuse", args=[dr.pk]), {"remarks": "Non."}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["reply"]["kind"] == "refusal"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"received_on": "not a date"}, "received_on"),
        ({"channel": "pigeon"}, "channel"),
        ({"requester_name": None}, "requester_name"),
        ({"persons": "not json"}, "persons"),
        ({"persons": json.dumps([{"last_name": "X", "national_number": "123"}])}, "persons"),
        ({"scan": SimpleUploadedFile("l.pdf", b"MZ\x90\x00exe", "application/pdf")}, "scan"),
        ({"scan": None}, "scan"),
    ],
)
def test_bad_intake_gets_a_400_and_changes_nothing(personas, overrides, field):
    before = (DisclosureRequest.objects.count(), AuditEvent.objects.count())

    response = api_for(personas["secretariat"]).post(
        reverse("api:request-list"), intake_payload(**overrides), format="multipart"
    )

    assert response.status_code == 400
    assert field in response.json()
    assert (DisclosureRequest.objects.count(), AuditEvent.objects.count()) == before


def test_transition_out_of_order_is_a_403_with_a_reason(flow, personas):
    dr = flow.assigned()

    response = api_for(personas["dg"]).post(
        reverse("api:request-sign", args=[dr.pk]),
        {"otp": fresh_otp(personas["dg"])},
        format="json",
    )

    assert response.status_code == 403
    assert "n'est pas (ou plus) la vôtre" in response.json()["detail"]
    assert reread(dr).state == State.AWAITING_OPINION


def test_opinion_with_unknown_basis_is_a_400(flow, personas):
    dr = flow.assigned()

    response = api_for(personas["referent"]).post(
        reverse("api:request-opinion", args=[dr.pk]),
        {"legal_bases": ["nope"], "proposal": "refuse", "reasoning": "x"},
        format="json",
    )

    assert response.status_code == 400
    assert reread(dr).state == State.AWAITING_OPINION


def test_incomplete_opinion_is_a_400_with_a_french_message(flow, personas):
    dr = flow.assigned()

    response = api_for(personas["referent"]).post(
        reverse("api:request-opinion", args=[dr.pk]),
        {"legal_bases": ["ji-search-seizure"], "proposal": "disclose", "reasoning": "x"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["detail"].startswith("L'avis est incomplet")
    assert "informations proposées" in response.json()["detail"]
    assert not reread(dr).opinions.exists()


def test_detail_is_an_audited_read_and_hides_content_from_the_secretariat(flow, personas):
    dr = flow.in_review()

    secretariat = api_for(personas["secretariat"]).get(reverse("api:request-detail", args=[dr.pk]))
    president = api_for(personas["president"]).get(reverse("api:request-detail", args=[dr.pk]))

    assert "persons" not in secretariat.json()
    assert "opinions" not in secretariat.json()
    assert CANARY_NAME not in secretariat.content.decode()
    assert president.json()["persons"][0]["last_name"] == CANARY_NAME
    assert AuditEvent.objects.filter(action="read_request", object_id=str(dr.pk)).count() == 2


def test_schema_is_generated(personas):
    response = api_for(personas["dg"]).get(reverse("api-schema"))

    assert response.status_code == 200
    assert b"/api/requests/{id}/sign/" in response.content


# ---------------------------------------------------------------------------
# Items name their basis; the intake's new fields; the DG's legal analysis


def opinion_payload(items, bases=("ji-search-seizure",)):
    return {
        "legal_bases": list(bases),
        "proposal": "disclose",
        "reasoning": "Ordonnance.",
        "items": items,
        "checklist": [c for code in bases for c in checklist_json([basis(code)])],
    }


def item(basis_code="ji-search-seizure", **overrides):
    return {
        "description": "Adresse",
        "data_category": "address",
        "necessity": "x",
        "basis": basis_code,
        **overrides,
    }


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([item("no-such-basis")], "no-such-basis"),
        ([item(), item("consent")], "consent"),
        ([{k: v for k, v in item().items() if k != "basis"}], "obligatoire"),
        ([item(basis_code="")], "vide"),
    ],
    ids=["unknown code", "basis not chosen", "basis missing", "basis blank"],
)
def test_opinion_item_basis_errors_are_a_400_and_change_nothing(flow, personas, items, message):
    dr = flow.assigned()
    before = AuditEvent.objects.count()

    response = api_for(personas["referent"]).post(
        reverse("api:request-opinion", args=[dr.pk]), opinion_payload(items), format="json"
    )

    assert response.status_code == 400
    assert "items" in response.json()
    assert message in json.dumps(response.json(), ensure_ascii=False)
    assert not reread(dr).opinions.exists()
    assert AuditEvent.objects.count() == before


def test_opinion_items_rest_on_their_basis(flow, personas):
    dr = flow.assigned()

    response = api_for(personas["referent"]).post(
        reverse("api:request-opinion", args=[dr.pk]),
        opinion_payload([item(), item(description="Aide", data_category="aid")]),
        format="json",
    )

    assert response.status_code == 200, response.content
    items = response.json()["opinions"][0]["items"]
    assert [(i["description"], i["basis"]) for i in items] == [
        ("Adresse", "ji-search-seizure"),
        ("Aide", "ji-search-seizure"),
    ]


def test_intake_takes_the_letter_date_office_address_form_and_documents(personas):
    response = api_for(personas["secretariat"]).post(
        reverse("api:request-list"),
        intake_payload(
            requester_letter_date="2026-10-30",
            requester_function="investigating_judge",
            requester_civility="sir",
            documents=["judge_order", "consent"],
        ),
        format="multipart",
    )

    assert response.status_code == 201, response.content
    dr = DisclosureRequest.objects.get()
    assert str(dr.requester_letter_date) == "2026-10-30"
    assert (dr.requester_function, dr.requester_civility) == ("investigating_judge", "sir")
    assert dr.documents == ["consent", "judge_order"]
    body = api_for(personas["president"]).get(reverse("api:request-detail", args=[dr.pk])).json()
    assert body["documents"] == ["consent", "judge_order"]
    assert body["requester_letter_date"] == "2026-10-30"


def test_intake_in_json_takes_a_list_of_documents(personas):
    response = api_for(personas["secretariat"]).post(
        reverse("api:request-list"),
        {
            "received_on": "2026-11-02",
            "channel": "oral",
            "requester_kind": "police",
            "requester_name": "Agent",
            "information_requested": "Adresse",
            "documents": ["consent"],
            "persons": [{"last_name": "X"}],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert DisclosureRequest.objects.get().documents == ["consent"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"requester_letter_date": "2026-11-03"}, "requester_letter_date"),
        ({"requester_letter_date": "yesterday"}, "requester_letter_date"),
        ({"requester_function": "king"}, "requester_function"),
        ({"requester_civility": "highness"}, "requester_civility"),
        ({"documents": ["forged"]}, "documents"),
    ],
)
def test_bad_new_intake_fields_are_a_400_and_change_nothing(personas, overrides, field):
    before = (DisclosureRequest.objects.count(), AuditEvent.objects.count())

    response = api_for(personas["secretariat"]).post(
        reverse("api:request-list"), intake_payload(**overrides), format="multipart"
    )

    assert response.status_code == 400
    assert field in response.json()
    assert (DisclosureRequest.objects.count(), AuditEvent.objects.count()) == before


def test_approving_a_contested_basis_takes_the_dg_legal_analysis(flow, personas):
    contested = LegalBasis.objects.create(
        code="test-contested",
        title_fr="Base contestée de test",
        citation="Disposition de test",
        letter_citation="Disposition de test",
        reply_paragraph_accepted="Le centre communique les informations ci-dessous.",
        role="request_basis",
        effect="contested",
    )
    dr = flow.assigned()
    api_for(personas["referent"]).post(
        reverse("api:request-opinion", args=[dr.pk]),
        opinion_payload([item("test-contested")], bases=("test-contested",)),
        format="json",
    )
    assert reread(dr).state == State.AWAITING_REVIEW
    dg = api_for(personas["dg"])
    url = reverse("api:request-approve", args=[dr.pk])

    without = dg.post(url, {}, format="json")
    wrong_basis = dg.post(
        url,
        {"legal_analysis": "Analyse.", "amended_items": [item("ji-search-seizure")]},
        format="json",
    )
    with_analysis = dg.post(url, {"legal_analysis": "Analyse CANARYANALYSE."}, format="json")

    assert without.status_code == 400
    assert without.json()["code"] == "legal_analysis_missing"
    assert wrong_basis.status_code == 400
    assert "amended_items" in wrong_basis.json()
    assert with_analysis.status_code == 200, with_analysis.content
    assert reread(dr).reviews.get().legal_analysis == "Analyse CANARYANALYSE."
    assert contested.reply_items.count() == 1
