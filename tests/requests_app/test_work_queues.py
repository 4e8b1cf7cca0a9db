"""One definition of "what waits for whom": the home pages, the reminder e-mails
and the API's "my tasks" list the same steps for every person, and they match
the procedure (the DG, like the Président, assigns referents)."""

from __future__ import annotations

import io
import re

from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from requests_app import services
from requests_app.queries import WORK_QUEUES
from tests.conftest import fresh_otp, opinion_kwargs, register
from tests.requests_app.test_api import api_for
from tests.requests_app.test_workflow import STATES

Task = tuple[str, str]  # (queue key, reference)


def seed(flow, personas, acting_dg) -> dict[str, str]:
    """One request in every state, plus the cases where who acts depends on more
    than the state: an opinion assigned to a referent who is acting DG, a
    reply the DG already signed, an inadmissible request (no referent)."""
    seeded = {state: flow.in_state(state).reference for state in STATES}
    own = register(personas["secretariat"])
    services.assign_referent(own, actor=personas["president"], referent=acting_dg)
    seeded["opinion_of_acting_dg"] = own.reference
    seeded["inadmissible"] = flow.inadmissible().reference
    return seeded


# Written from the procedure (circular, section 3), not from the code: who has
# the next step on each seeded request.
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "secretariat": {("dispatch", "signed"), ("close", "dispatched")},
    "president": {
        ("assign", "awaiting_assignment"),
        ("sign", "awaiting_signatures"),
        ("sign", "partially_signed"),  # the DG signed first
        ("sign", "inadmissible"),
    },
    "dg": {
        ("assign", "awaiting_assignment"),
        ("review", "awaiting_review"),
        ("sign", "awaiting_signatures"),
        ("sign", "inadmissible"),
    },
    "acting_dg": {
        ("assign", "awaiting_assignment"),
        ("review", "awaiting_review"),
        ("sign", "awaiting_signatures"),
        ("sign", "inadmissible"),
        ("opinion", "opinion_of_acting_dg"),
    },
    "referent": {("opinion", "awaiting_opinion")},
    "other_referent": set(),
    "auditor": set(),
    "dpo": set(),
    "outsider": set(),
}


def home_tasks(user) -> set[Task]:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("requests_app:home"))
    if response.status_code == 403:  # no role: the "no role" page
        return set()
    assert response.status_code == 200
    queue_for_title = {str(q.title): q.key for q in WORK_QUEUES}
    return {
        (queue_for_title[str(section.title)], dr.reference)
        for section in response.context["sections"]
        if str(section.title) in queue_for_title
        for dr in section.rows
    }


LINE = re.compile(
    r"^- (?P<reference>\S+) : (?P<task>[^,\n]+?)(?:, échéance .*)?(?: – EN RETARD)?$"
)


def mail_tasks(user) -> set[Task]:
    queue_for_task = {str(q.task): q.key for q in WORK_QUEUES}
    found: set[Task] = set()
    for message in mail.outbox:
        if message.to != [user.email]:
            continue
        for line in message.body.splitlines():
            if match := LINE.match(line):
                found.add((queue_for_task[match["task"]], match["reference"]))
    return found


def api_tasks(user) -> set[Task] | None:
    response = api_for(user).get("/api/tasks/")
    if response.status_code == 404:  # no role: the API does not exist for them
        return None
    assert response.status_code == 200
    return {(task["queue"], task["reference"]) for task in response.json()}


def test_home_reminders_and_api_agree_for_every_person_and_state(flow, personas, acting_dg):
    people = {**personas, "acting_dg": acting_dg}
    for i, user in enumerate(people.values()):
        user.email = f"person{i}@cpas.example"
        user.save()
    seeded = seed(flow, personas, acting_dg)
    call_command("send_reminders", stdout=io.StringIO())

    for key, user in people.items():
        expected = {(queue, seeded[name]) for queue, name in EXPECTED[key]}
        home = home_tasks(user)
        mails = mail_tasks(user)
        api = api_tasks(user)

        assert home == expected, key
        assert mails == expected, key
        assert api == (None if key in {"auditor", "dpo", "outsider"} else expected), key


def tasks_of(user) -> set[Task]:
    tasks = api_tasks(user)
    assert tasks is not None
    return tasks


def test_the_dg_is_offered_the_assignment_and_can_carry_it_out(flow, personas):
    dr = flow.received()
    client = Client()
    client.force_login(personas["dg"])

    assert ("assign", dr.reference) in home_tasks(personas["dg"])
    response = client.post(
        reverse("requests_app:assign", args=[dr.pk]), {"referent": personas["referent"].pk}
    )

    assert response.status_code == 302
    dr.refresh_from_db()
    assert dr.referent == personas["referent"]


def test_a_step_leaves_the_queue_once_taken(flow, personas):
    dr = flow.awaiting_signatures()
    assert ("sign", dr.reference) in tasks_of(personas["dg"])

    services.sign_reply(dr, actor=personas["dg"], otp=fresh_otp(personas["dg"]))

    assert ("sign", dr.reference) not in tasks_of(personas["dg"])
    assert ("sign", dr.reference) in tasks_of(personas["president"])


def test_writing_the_opinion_stays_the_referents_step_until_submitted(flow, personas):
    dr = flow.assigned()
    assert tasks_of(personas["referent"]) == {("opinion", dr.reference)}

    services.submit_opinion(dr, actor=personas["referent"], **opinion_kwargs())

    assert tasks_of(personas["referent"]) == set()
    assert ("review", dr.reference) in tasks_of(personas["dg"])
