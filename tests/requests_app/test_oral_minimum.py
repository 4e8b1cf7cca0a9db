"""Oral calls: the minimum (issue 16).

An oral request keeps who called, when, from which organisation and a short
summary, and is closed at once. The concerned person's birth date and
national number are never stored for it: the intake form refuses them, the
API refuses them with a 400 JSON error naming the fields, and the intake
service refuses them too; a refusal stores nothing (no request, no person,
no audit event).
"""

from __future__ import annotations

import html
import json
from datetime import date

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from requests_app import services
from requests_app.inputs import PersonData
from requests_app.models import ConcernedPerson, DisclosureRequest, ReferenceCounter, State
from tests.conftest import CANARY_FIRST, CANARY_NAME, CANARY_NISS, intake
from tests.requests_app.test_api import api_for
from tests.requests_app.test_views import intake_post


def stored():
    """Everything an intake could leave behind."""
    return (
        DisclosureRequest.objects.count(),
        ConcernedPerson.objects.count(),
        AuditEvent.objects.exclude(action__startswith="login").count(),
        list(ReferenceCounter.objects.values_list("year", "last_number")),
    )


ORAL_FORM = {
    "channel": "oral",
    "scan": None,
    "requester_name": "Agent Thomas",
    "requester_organisation": "Zone de police Namur Capitale",
    "information_requested": "Adresse actuelle de la personne",
    "persons-0-birth_date": None,
    "persons-0-national_number": None,
}


# ---------------------------------------------------------------------------
# The web form


@pytest.mark.parametrize(
    ("given", "refused"),
    [
        ({"persons-0-birth_date": "1985-01-01"}, ["birth_date"]),
        ({"persons-0-national_number": "85.01.01-001.15"}, ["national_number"]),
        (
            {"persons-0-birth_date": "1985-01-01", "persons-0-national_number": "85010100115"},
            ["birth_date", "national_number"],
        ),
    ],
)
@pytest.mark.parametrize("step", ["record", "check", "confirm"])
def test_the_form_refuses_identifiers_for_an_oral_request_and_stores_nothing(
    client, secretariat, given, refused, step
):
    client.force_login(secretariat)
    before = stored()
    post = intake_post(**{**ORAL_FORM, **given})
    if step == "check":
        post["preview"] = "1"
    elif step == "confirm":
        post.update({"confirm": "1", "outcome": "oral"})

    response = client.post(reverse("requests_app:create"), post)

    assert response.status_code == 400
    person = response.context["persons"].forms[0]
    assert sorted(person.errors) == refused
    for name in refused:
        assert person.errors[name] == [
            "Non enregistré pour une demande orale : laissez ce champ vide."
        ]
    assert stored() == before


def test_the_form_records_an_oral_request_with_the_minimum_and_closes_it(client, secretariat):
    client.force_login(secretariat)
    post = intake_post(**ORAL_FORM)

    response = client.post(
        reverse("requests_app:create"), {**post, "confirm": "1", "outcome": "oral"}
    )

    assert response.status_code == 302
    dr = DisclosureRequest.objects.get()
    assert dr.state == State.CLOSED_ORAL
    # Who called, when, from which organisation, and a short summary.
    assert dr.requester_name == "Agent Thomas"
    assert dr.received_on == date(2026, 11, 2)
    assert dr.requester_organisation == "Zone de police Namur Capitale"
    assert dr.information_requested == "Adresse actuelle de la personne"
    person = dr.persons.get()
    assert (person.birth_date, person.national_number) == (None, "")


def test_the_form_says_the_identifiers_are_not_recorded_for_an_oral_request(client, secretariat):
    client.force_login(secretariat)

    page = html.unescape(client.get(reverse("requests_app:create")).content.decode())

    # Under the birth date and the national number of each person.
    assert page.count("À laisser vide pour une demande orale : cette donnée n'est pas") >= 2
    assert "jamais la date de naissance ni le numéro de registre national" in page


# ---------------------------------------------------------------------------
# The API


ORAL_JSON = {
    "received_on": "2026-11-02",
    "channel": "oral",
    "requester_kind": "police",
    "requester_name": "Agent Thomas",
    "requester_organisation": "Zone de police Namur Capitale",
    "information_requested": "Adresse actuelle",
}


@pytest.mark.parametrize(
    ("person", "fields"),
    [
        ({"last_name": "X", "birth_date": "1985-01-01"}, ["persons[0].birth_date"]),
        ({"last_name": "X", "national_number": CANARY_NISS}, ["persons[0].national_number"]),
        (
            {"last_name": "X", "birth_date": "1985-01-01", "national_number": "not a number"},
            ["persons[0].birth_date", "persons[0].national_number"],
        ),
    ],
)
@pytest.mark.parametrize("body", ["json", "multipart"])
def test_the_api_refuses_identifiers_for_an_oral_request_naming_them(
    secretariat, person, fields, body
):
    api = api_for(secretariat)
    before = stored()
    payload = {**ORAL_JSON, "persons": [{"last_name": "Y"}, person]}
    fields = [f.replace("[0]", "[1]") for f in fields]
    if body == "json":
        response = api.post(reverse("api:request-list"), payload, format="json")
    else:
        response = api.post(
            reverse("api:request-list"),
            {**payload, "persons": json.dumps(payload["persons"])},
            format="multipart",
        )

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert sorted(response.json()) == fields
    for name in fields:
        assert response.json()[name] == [
            "Non enregistré pour une demande orale : supprimez ce champ."
        ]
    assert stored() == before


def test_the_api_records_an_oral_request_with_the_minimum(secretariat):
    response = api_for(secretariat).post(
        reverse("api:request-list"),
        {**ORAL_JSON, "persons": [{"last_name": "X", "birth_date": None, "national_number": ""}]},
        format="json",
    )

    assert response.status_code == 201, response.content
    dr = DisclosureRequest.objects.get()
    assert dr.state == State.CLOSED_ORAL
    assert dr.persons.get().birth_date is None


# ---------------------------------------------------------------------------
# The service: the last guard, whoever calls it


@pytest.mark.parametrize(
    "person",
    [
        PersonData(CANARY_NAME, CANARY_FIRST, birth_date=date(1985, 1, 1)),
        PersonData(CANARY_NAME, CANARY_FIRST, national_number=CANARY_NISS),
    ],
)
def test_the_service_refuses_identifiers_for_an_oral_request(secretariat, person):
    before = stored()

    with pytest.raises(services.ActionRefused) as refused:
        services.register_request(
            intake(channel="oral", persons=[person]), actor=secretariat, scan=None
        )

    assert refused.value.cause == "oral_identifiers"
    assert refused.value.http_status == 400
    assert "date de naissance" in refused.value.message
    # Bad input: not even a refusal event.
    assert stored() == before


def test_a_written_request_still_records_the_identifiers(flow):
    dr = flow.received()

    person = dr.persons.get()
    assert person.birth_date == date(1985, 1, 1)
    assert person.national_number == CANARY_NISS


def test_an_oral_request_of_the_flow_is_closed_at_once_without_identifiers(flow):
    dr = flow.closed_oral()

    assert dr.state == State.CLOSED_ORAL
    person = dr.persons.get()
    assert (person.last_name, person.birth_date, person.national_number) == (
        CANARY_NAME,
        None,
        "",
    )
