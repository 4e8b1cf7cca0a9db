"""The API refuses exactly the dates the web forms refuse, with the same message.

Both go through requests_app/validation.py; each row of the tables below is
sent to the web page and to the API, and both must refuse it on the same
field with the same French message, and change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, override
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.models import AuditEvent
from requests_app.models import DisclosureRequest, State
from tests.conftest import PDF_BYTES, reread

pytestmark = pytest.mark.django_db

FUTURE_RECEIPT = "The date of receipt cannot be in the future."
FUTURE_BIRTH = "The date of birth cannot be in the future."
FUTURE_DISPATCH = "The dispatch date cannot be in the future."
OUT_OF_RANGE = "Enter a date between 1900 and 2099."
LETTER_AFTER_RECEIPT = "The requester's letter cannot be dated after its receipt."
DEADLINE_BEFORE_LETTER = "The requester's deadline cannot be before the date of their letter."


def today() -> date:
    return timezone.localdate()


def french(msgid: str) -> str:
    with override("fr-be"):
        return gettext(msgid)


def api_for(user) -> APIClient:
    client = APIClient()
    _token, key = ApiToken.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def scan() -> SimpleUploadedFile:
    return SimpleUploadedFile("lettre.pdf", PDF_BYTES, content_type="application/pdf")


def web_intake(dates: dict[str, str], birth_date: str) -> dict[str, Any]:
    return {
        "channel": "post",
        "requester_kind": "investigating_judge",
        "requester_name": "Juge",
        "cited_provision": "Art. 87 CIC",
        "information_requested": "Adresse",
        "documents": ["judge_order"],
        "persons-TOTAL_FORMS": "1",
        "persons-INITIAL_FORMS": "0",
        "persons-MIN_NUM_FORMS": "0",
        "persons-MAX_NUM_FORMS": "10",
        "persons-0-last_name": "Dupont",
        "persons-0-first_names": "Jean",
        "persons-0-birth_date": birth_date,
        "persons-0-national_number": "",
        "persons-0-cpas_file_number": "",
        "requester_letter_date": "",
        "requester_deadline": "",
        **dates,
        "scan": scan(),
    }


def api_intake(dates: dict[str, str], birth_date: str) -> dict[str, Any]:
    person: dict[str, Any] = {"last_name": "Dupont", "first_names": "Jean"}
    if birth_date:
        person["birth_date"] = birth_date
    return {
        "channel": "post",
        "requester_kind": "investigating_judge",
        "requester_name": "Juge",
        "cited_provision": "Art. 87 CIC",
        "information_requested": "Adresse",
        "documents": ["judge_order"],
        "persons": json.dumps([person]),
        **{k: v for k, v in dates.items() if v},
        "scan": scan(),
    }


def iso(day: date) -> str:
    return day.isoformat()


# (dates of the intake, birth date of the person, field refused, message);
# field None: accepted by both.
INTAKE_CASES: list[tuple[str, Callable[[], tuple[dict[str, str], str]], str | None, str]] = [
    ("received tomorrow", lambda: ({"received_on": iso(today() + timedelta(1))}, ""),
     "received_on", FUTURE_RECEIPT),
    ("received in 1899", lambda: ({"received_on": "1899-12-31"}, ""),
     "received_on", OUT_OF_RANGE),
    ("received in 2999", lambda: ({"received_on": "2999-01-01"}, ""),
     "received_on", FUTURE_RECEIPT),
    ("letter after receipt",
     lambda: ({"received_on": iso(today() - timedelta(5)),
               "requester_letter_date": iso(today() - timedelta(4))}, ""),
     "requester_letter_date", LETTER_AFTER_RECEIPT),
    ("letter in 1850",
     lambda: ({"received_on": iso(today()), "requester_letter_date": "1850-01-01"}, ""),
     "requester_letter_date", OUT_OF_RANGE),
    ("deadline before the letter",
     lambda: ({"received_on": iso(today()),
               "requester_letter_date": iso(today() - timedelta(3)),
               "requester_deadline": iso(today() - timedelta(4))}, ""),
     "requester_deadline", DEADLINE_BEFORE_LETTER),
    ("deadline in 2100",
     lambda: ({"received_on": iso(today()), "requester_deadline": "2100-01-01"}, ""),
     "requester_deadline", OUT_OF_RANGE),
    ("person born tomorrow",
     lambda: ({"received_on": iso(today())}, iso(today() + timedelta(1))),
     "birth_date", FUTURE_BIRTH),
    ("all dates sound",
     lambda: ({"received_on": iso(today()),
               "requester_letter_date": iso(today() - timedelta(2)),
               "requester_deadline": iso(today() + timedelta(30))}, "1985-01-01"),
     None, ""),
    ("received today, deadline already past",
     lambda: ({"received_on": iso(today()),
               "requester_deadline": iso(today() - timedelta(1))}, ""),
     None, ""),
]  # fmt: skip


def web_messages(response, field: str) -> list[str]:
    if field == "birth_date":
        formset = response.context["persons"]
        return [str(m) for form in formset for m in form.errors.get("birth_date", [])]
    return [str(m) for m in response.context["form"].errors.get(field, [])]


def api_messages(body: dict[str, Any], field: str) -> list[str]:
    if field == "birth_date":
        persons = body["persons"]  # {"0": {"birth_date": [...]}}
        return [str(m) for person in persons.values() for m in person.get("birth_date", [])]
    value = body.get(field, [])
    return [str(m) for m in (value if isinstance(value, list) else [value])]


def counts() -> tuple[int, int]:
    return DisclosureRequest.objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize(
    ("case", "field", "message"),
    [(make, field, message) for _, make, field, message in INTAKE_CASES],
    ids=[name for name, *_ in INTAKE_CASES],
)
def test_intake_dates_same_rule_on_the_page_and_in_the_api(client, personas, case, field, message):
    dates, birth = case()
    secretariat = personas["secretariat"]
    client.force_login(secretariat)

    before = counts()
    page = client.post(reverse("requests_app:create"), web_intake(dates, birth))
    if field is None and page.status_code == 200:
        # Inadmissible (no birth date): the outcome is confirmed first.
        confirmed = {
            **web_intake(dates, birth),
            "confirm": "1",
            "outcome": page.context["outcome"],
        }
        page = client.post(reverse("requests_app:create"), confirmed)
    if field is None:
        assert page.status_code == 302, page.context["form"].errors if page.context else page
    else:
        assert page.status_code in (200, 400)
        assert counts() == before
        assert web_messages(page, field) == [french(message)]

    before = counts()
    api = api_for(secretariat).post(
        reverse("api:request-list"), api_intake(dates, birth), format="multipart"
    )
    if field is None:
        assert api.status_code == 201, api.content
        return
    assert api.status_code == 400, api.content
    assert api["Content-Type"].startswith("application/json")
    assert api_messages(api.json(), field) == [french(message)]
    assert counts() == before


DISPATCH_CASES = [
    ("dispatched tomorrow", lambda: iso(today() + timedelta(1)), FUTURE_DISPATCH),
    ("dispatched in 1899", lambda: "1899-12-31", OUT_OF_RANGE),
    ("dispatched today", lambda: iso(today()), None),
]


@pytest.mark.parametrize(
    ("day", "message"),
    [(make, message) for _, make, message in DISPATCH_CASES],
    ids=[name for name, *_ in DISPATCH_CASES],
)
def test_dispatch_date_same_rule_on_the_page_and_in_the_api(client, flow, personas, day, message):
    secretariat = personas["secretariat"]
    web_request, api_request = flow.signed(), flow.signed()
    payload = {"dispatched_on": day(), "channel": "registered_post", "registered_mail_number": "1"}

    client.force_login(secretariat)
    page = client.post(reverse("requests_app:dispatch", args=[web_request.pk]), payload)
    api = api_for(secretariat).post(
        reverse("api:request-dispatch", args=[api_request.pk]), payload, format="json"
    )
    if message is None:
        assert page.status_code == 302
        assert api.status_code == 200, api.content
        assert reread(web_request).state == reread(api_request).state == State.DISPATCHED
        return
    assert page.status_code == 400
    assert [str(m) for m in page.context["form"].errors["dispatched_on"]] == [french(message)]
    assert api.status_code == 400, api.content
    assert api.json()["dispatched_on"] == [french(message)]
    assert reread(web_request).state == reread(api_request).state == State.SIGNED
