"""Issue 6: search and sorting in the register, role home pages, the printable
summary, the intake check panel and double-submission protection."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import parse_qsl, unquote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from requests_app import services
from requests_app.inputs import ChecklistData, PersonData
from requests_app.models import DisclosureRequest, State
from tests.conftest import CANARY_NAME, CANARY_NISS, fresh_otp, opinion_kwargs, reread
from tests.requests_app.test_views import intake_post

pytestmark = pytest.mark.django_db

REGISTER = reverse("requests_app:register")


def last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def events_since(seq: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=seq))


def search(client, criteria: str = ""):
    """Post the register's form with `criteria` (written as a query string,
    sort included), then follow the redirect to the results."""
    response = client.post(REGISTER, dict(parse_qsl(criteria.removeprefix("?"))))
    if response.status_code != 302:
        return response
    assert response["Location"].startswith(REGISTER + "?")
    return client.get(response["Location"])


def listed(client, criteria: str = "") -> list[str]:
    response = search(client, criteria)
    assert response.status_code == 200, response.content[:500]
    return [dr.reference for dr in response.context["page"].object_list]


def person(last_name: str, national_number: str = "") -> PersonData:
    return PersonData(
        last_name=last_name,
        first_names="Marie",
        birth_date=date(1990, 5, 17),
        national_number=national_number,
    )


@pytest.fixture
def three(flow, personas):
    """Three requests that differ in every searchable way."""
    police = flow.received(
        requester_kind="police",
        requester_name="Inspecteur Alpha",
        requester_organisation="Zone de police Nord",
        received_on=date(2026, 10, 5),
        requester_deadline=date(2026, 10, 20),
        persons=[person("Dubois")],
    )
    judge = flow.in_review(
        requester_name="Juge Beta",
        received_on=date(2026, 10, 15),
        requester_deadline=date(2027, 3, 1),
    )
    landlord = flow.received(
        requester_kind="landlord",
        requester_name="Gamma SPRL",
        requester_organisation="",
        received_on=date(2026, 11, 2),
        requester_deadline=date(2027, 1, 10),
        persons=[person("Lambert", "90051700156")],
    )
    return police, judge, landlord


def test_search_by_metadata(client, personas, three):
    police, judge, landlord = three
    client.force_login(personas["secretariat"])

    assert listed(client, f"?q={police.reference}") == [police.reference]
    assert listed(client, "?q=beta") == [judge.reference]
    assert listed(client, "?q=zone de police") == [police.reference]
    assert listed(client, "?requester_kind=landlord") == [landlord.reference]
    assert listed(client, "?state=awaiting_review") == [judge.reference]
    assert sorted(listed(client, "?received_from=2026-10-10")) == sorted(
        [judge.reference, landlord.reference]
    )
    assert listed(client, "?received_from=2026-10-10&received_to=2026-10-31") == [judge.reference]
    assert listed(client, "?due_to=2026-12-31") == [police.reference]
    assert listed(client, "?due_from=2027-01-01&due_to=2027-01-31") == [landlord.reference]
    assert listed(client, "?overdue=on") == [police.reference]
    assert listed(client, "?q=nothing-like-this") == []


def test_content_criteria_for_content_roles_only(client, personas, three):
    police, judge, landlord = three
    client.force_login(personas["president"])
    assert listed(client, "?person=dubois") == [police.reference]
    assert listed(client, "?person=90.05.17-001.56") == [landlord.reference]
    assert listed(client, "?legal_basis=ji-search-seizure") == [judge.reference]
    assert listed(client, f"?person={CANARY_NAME}") == [judge.reference]

    # The secretariat sees metadata only: no such fields, and the criterion
    # cannot narrow the list (it would tell who a request is about).
    client.force_login(personas["secretariat"])
    response = search(client, "?person=dubois&legal_basis=ji-search-seizure")
    assert "search=" not in response.request["QUERY_STRING"]  # nothing was kept
    assert "person" not in response.context["form"].fields
    assert "legal_basis" not in response.context["form"].fields
    assert len(response.context["page"].object_list) == 3
    assert 'name="person"' not in response.content.decode()


def test_a_referent_searches_persons_among_their_own_requests_only(client, flow, personas):
    mine = flow.assigned(persons=[person("Dubois")])
    flow.received(persons=[person("Dubois")])
    client.force_login(personas["referent"])

    assert listed(client, "?person=dubois") == [mine.reference]


def test_a_person_search_is_recorded_without_its_terms(client, personas, three):
    client.force_login(personas["dg"])
    last = last_seq()

    listed(client, f"?person={CANARY_NISS}")
    listed(client, "?q=beta")  # metadata only: not a content search

    new = events_since(last)
    assert [e.action for e in new] == ["search_content"]
    assert new[0].details == {"results": 1}
    assert new[0].actor_id == personas["dg"].pk
    assert CANARY_NISS not in str(new[0].details)


def key_of(response) -> str:
    """The stored search's key in the address of a results page."""
    return str(dict(parse_qsl(response.request["QUERY_STRING"]))["search"])


def test_search_terms_never_reach_an_address(client, personas, three):
    _police, judge, _landlord = three
    client.force_login(personas["president"])

    response = client.post(REGISTER, {"person": CANARY_NAME, "sort": "due_on"})

    assert response.status_code == 302
    assert CANARY_NAME.lower() not in unquote(response["Location"]).lower()
    page = client.get(response["Location"])
    assert [dr.reference for dr in page.context["page"].object_list] == [judge.reference]
    html = page.content.decode()
    addresses = re.findall(r'(?:href|action|src)="([^"]*)"', html)
    assert any("search=" in address for address in addresses)  # the sort links
    assert not [a for a in addresses if CANARY_NAME.lower() in unquote(a).lower()]
    # The form shows the terms back, in the page itself.
    assert f'value="{CANARY_NAME}"' in html
    assert client.session["register_searches"][key_of(page)] == {"person": CANARY_NAME}


def test_criteria_in_the_address_are_refused(client, personas, three):
    client.force_login(personas["president"])
    before = last_seq()

    response = client.get(REGISTER + f"?person={CANARY_NAME}&state=awaiting_review")

    assert response.status_code == 400
    assert "ne sont pas acceptés dans l'adresse de la page" in response.content.decode()
    assert len(response.context["page"].object_list) == 3  # not narrowed
    assert events_since(before) == []


def test_a_search_key_works_only_in_its_own_session(client, personas, three):
    client.force_login(personas["president"])
    key = key_of(search(client, "?person=dubois"))
    other = Client()
    other.force_login(personas["dg"])
    before = last_seq()

    response = other.get(REGISTER + f"?search={key}")

    assert response.status_code == 400
    assert "Cette recherche n'est plus disponible" in response.content.decode()
    assert len(response.context["page"].object_list) == 3
    assert events_since(before) == []

    client.logout()
    client.force_login(personas["president"])
    assert client.get(REGISTER + f"?search={key}").status_code == 400


def test_only_the_latest_searches_are_kept(client, personas, three):
    client.force_login(personas["secretariat"])
    keys = [key_of(search(client, f"?q=SP-{i}")) for i in range(21)]

    assert client.get(REGISTER + f"?search={keys[0]}").status_code == 400
    assert client.get(REGISTER + f"?search={keys[1]}").status_code == 200
    assert list(client.session["register_searches"]) == keys[1:]


def test_an_empty_search_is_the_whole_register(client, personas, three):
    client.force_login(personas["secretariat"])
    response = client.post(REGISTER, {"q": "  ", "sort": "due_on"})
    assert response["Location"] == REGISTER + "?sort=due_on"
    assert "register_searches" not in client.session


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?received_from=2026-11-10&received_to=2026-11-01", "précède le début de la période"),
        ("?received_from=not-a-date", "Saisissez une date valide"),
        ("?state=no-such-state", "Sélectionnez un choix valide"),
    ],
)
def test_bad_search_input_is_a_clear_error(client, personas, three, query, message):
    client.force_login(personas["president"])
    before = AuditEvent.objects.count()

    response = search(client, query)

    assert response.status_code == 400
    content = response.content.decode()
    assert message in content
    assert "La recherche n'a pas pu être faite" in content
    assert AuditEvent.objects.count() == before
    assert "register_searches" not in client.session


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("reference", lambda dr: (dr.year, dr.number)),
        ("received_on", lambda dr: (dr.received_on, dr.year, dr.number)),
        ("due_on", lambda dr: (dr.due_on, dr.year, dr.number)),
        ("state", lambda dr: (dr.state, dr.year, dr.number)),
        ("requester", lambda dr: (dr.requester_name, dr.year, dr.number)),
    ],
)
def test_sorting_both_ways(client, personas, three, sort, key):
    client.force_login(personas["president"])
    rows = sorted(DisclosureRequest.objects.all(), key=key)
    expected = [dr.reference for dr in rows]

    assert listed(client, f"?sort={sort}") == expected
    assert listed(client, f"?sort=-{sort}") == expected[::-1]


def test_unknown_sort_falls_back_to_newest_first(client, personas, three):
    client.force_login(personas["president"])
    police, judge, landlord = three
    assert listed(client, "?sort=password") == [
        landlord.reference,
        judge.reference,
        police.reference,
    ]


def test_sort_links_keep_the_filters_and_flip_direction(client, personas, three):
    client.force_login(personas["president"])
    response = search(client, "?state=awaiting_assignment&sort=due_on")
    key = response.request["QUERY_STRING"].split("search=")[1]
    html = response.content.decode()
    assert f'href="?sort=-due_on&amp;search={key}"' in html
    assert 'aria-sort="ascending"' in html
    flipped = client.get(REGISTER + f"?sort=-due_on&search={key}")
    ascending = [dr.reference for dr in response.context["page"].object_list]
    assert len(ascending) == DisclosureRequest.objects.filter(state="awaiting_assignment").count()
    assert [dr.reference for dr in flipped.context["page"].object_list] == ascending[::-1]


def test_pages_keep_filters_and_sort(client, flow, personas):
    for _ in range(51):
        flow.received()
    client.force_login(personas["secretariat"])
    response = search(client, "?requester_kind=investigating_judge&sort=due_on")
    key = response.request["QUERY_STRING"].split("search=")[1]
    html = response.content.decode()
    rows = response.context["page"].object_list
    assert len(rows) == 50
    # The next page starts after the last row shown (keyset pagination).
    assert f"?sort=due_on&amp;search={key}&amp;after={rows[-1].pk}" in html
    second = client.get(REGISTER + f"?sort=due_on&search={key}&after={rows[-1].pk}")
    assert len(second.context["page"].object_list) == 1
    assert "51 demandes" in html


@pytest.mark.parametrize("role", ["president", "secretariat"])
def test_searched_and_sorted_register_query_count_does_not_grow(client, flow, personas, role):
    client.force_login(personas[role])
    criteria = {"q": "Juge", "received_from": "2026-01-01", "sort": "-due_on"}
    if role == "president":
        criteria |= {"legal_basis": "ji-search-seizure", "person": CANARY_NAME}
    url = client.post(REGISTER, criteria)["Location"]
    flow.in_review()
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for _ in range(49):
        flow.in_review()
    with CaptureQueriesContext(connection) as fifty:
        response = client.get(url)

    assert len(response.context["page"].object_list) == 50
    assert len(fifty) == len(one)


# ---------------------------------------------------------------------------
# Home pages


def sections(client) -> dict[str, list[str]]:
    response = client.get(reverse("requests_app:home"))
    assert response.status_code == 200
    return {
        str(section.title): [dr.reference for dr in section.rows]
        for section in response.context["sections"]
    }


def test_dg_home_lists_requests_carrying_an_override(client, flow, personas):
    plain = flow.in_review()
    overridden = flow.assigned()
    kwargs = opinion_kwargs()
    kwargs["checklist"] = [
        ChecklistData(a.legal_basis, a.position, "not_met", "Non rempli")
        for a in kwargs["checklist"]
    ]
    services.submit_opinion(
        overridden,
        actor=personas["referent"],
        override_reason="Urgence vitale documentée",
        **kwargs,
    )
    client.force_login(personas["dg"])

    home = sections(client)

    assert home["Avec dérogation"] == [overridden.reference]
    assert plain.reference in home["Contrôle de légalité"]


def test_an_override_in_a_superseded_opinion_no_longer_lists_the_request(client, flow, personas):
    overridden = flow.assigned()
    kwargs = opinion_kwargs()
    unmet = [
        ChecklistData(a.legal_basis, a.position, "not_met", "Non rempli")
        for a in kwargs["checklist"]
    ]
    services.submit_opinion(
        overridden,
        actor=personas["referent"],
        override_reason="Urgence vitale documentée",
        **{**kwargs, "checklist": unmet},
    )
    client.force_login(personas["dg"])
    assert sections(client)["Avec dérogation"] == [overridden.reference]

    services.return_for_revision(overridden, actor=personas["dg"], remarks="Revoir")
    services.submit_opinion(reread(overridden), actor=personas["referent"], **opinion_kwargs())

    assert overridden.reference not in sections(client).get("Avec dérogation", [])


def test_referent_home_lists_all_their_open_requests_by_deadline(client, flow, personas):
    later = flow.assigned(requester_deadline=date(2027, 2, 1))
    sooner = flow.in_review(requester_deadline=date(2027, 1, 4))
    flow.received(requester_deadline=date(2027, 1, 1))  # not theirs
    done = flow.closed()
    client.force_login(personas["referent"])

    mine = sections(client)["Mes demandes"]

    assert mine == [sooner.reference, later.reference]
    assert done.reference not in mine


def test_secretariat_home_offers_intake_and_register(client, personas):
    client.force_login(personas["secretariat"])
    html = client.get(reverse("requests_app:home")).content.decode()
    assert reverse("requests_app:create") in html
    assert "Ouvrir le registre de toutes les demandes" in html


# ---------------------------------------------------------------------------
# Printable summary


def test_summary_shows_the_whole_file_and_is_recorded(client, flow, personas):
    dr = flow.signed()
    client.force_login(personas["president"])
    last = last_seq()

    response = client.get(reverse("requests_app:summary", args=[dr.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    for text in [
        dr.reference,
        "Confidentiel",
        CANARY_NAME,
        "Motivation CANARYMOTIF",
        "CANARYITEM adresse actuelle",
        "Imprimé par",
        'media="print"',
    ]:
        assert text in html, text
    new = events_since(last)
    assert [(e.action, e.object_id) for e in new] == [("read_summary", str(dr.pk))]


@pytest.mark.parametrize("role", ["secretariat", "auditor", "other_referent"])
def test_summary_is_hidden_from_roles_without_content(client, flow, personas, role):
    dr = flow.in_review()
    client.force_login(personas[role])
    response = client.get(reverse("requests_app:summary", args=[dr.pk]))
    assert response.status_code == 404
    assert CANARY_NAME not in response.content.decode()


def test_request_page_links_the_summary_for_content_roles_only(client, flow, personas):
    dr = flow.in_review()
    url = reverse("requests_app:summary", args=[dr.pk])
    client.force_login(personas["dg"])
    assert url in client.get(dr.get_absolute_url()).content.decode()
    client.force_login(personas["secretariat"])
    assert url not in client.get(dr.get_absolute_url()).content.decode()


# ---------------------------------------------------------------------------
# Intake check panel


def test_intake_check_panel_shows_flags_and_saves_nothing(client, personas):
    client.force_login(personas["secretariat"])
    before = (DisclosureRequest.objects.count(), AuditEvent.objects.count())

    response = client.post(
        reverse("requests_app:create"),
        intake_post(preview="1", cited_provision=""),
        headers={"X-Huisclos-Check": "1"},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # the panel alone
    assert "Vérification avant enregistrement" in html
    assert "Scan accepté : fichier PDF" in html
    assert "Points d'attention" in html
    assert (DisclosureRequest.objects.count(), AuditEvent.objects.count()) == before


def test_intake_check_panel_lists_errors(client, personas):
    client.force_login(personas["secretariat"])
    before = (DisclosureRequest.objects.count(), AuditEvent.objects.count())

    response = client.post(
        reverse("requests_app:create"),
        intake_post(preview="1", requester_name="", received_on="2999-01-01"),
        headers={"X-Huisclos-Check": "1"},
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "La vérification n'a pas pu être faite" in html
    assert "Nom du demandeur" in html
    assert "futur" in html
    assert (DisclosureRequest.objects.count(), AuditEvent.objects.count()) == before


# ---------------------------------------------------------------------------
# Double submission


def test_the_same_intake_form_posted_twice_records_one_request(client, personas):
    client.force_login(personas["secretariat"])
    url = reverse("requests_app:create")

    first = client.post(url, intake_post(submission_token="tok-intake-1"))
    second = client.post(url, intake_post(submission_token="tok-intake-1"), follow=True)

    assert first.status_code == 302
    assert DisclosureRequest.objects.count() == 1
    assert second.redirect_chain[0][0] == first["Location"]
    assert "a déjà été enregistrée" in second.content.decode()
    # A new form (new token) is a new request.
    client.post(url, intake_post(submission_token="tok-intake-2"))
    assert DisclosureRequest.objects.count() == 2


def test_a_transition_form_posted_twice_runs_once(client, flow, personas):
    dr = flow.received()
    client.force_login(personas["president"])
    url = reverse("requests_app:assign", args=[dr.pk])
    data = {"referent": personas["referent"].pk, "submission_token": "tok-assign"}
    last = last_seq()

    assert client.post(url, data).status_code == 302
    again = client.post(url, data)

    assert again.status_code == 302
    assert again["Location"] == dr.get_absolute_url()
    actions = [e.action for e in events_since(last)]
    assert actions == ["assign_referent"]
    assert reread(dr).state == State.AWAITING_OPINION


def test_a_one_click_step_posted_twice_runs_once(client, flow, personas):
    dr = flow.dispatched()
    client.force_login(personas["secretariat"])
    url = reverse("requests_app:close", args=[dr.pk])
    last = last_seq()

    client.post(url, {"submission_token": "tok-close"})
    client.post(url, {"submission_token": "tok-close"})

    actions = [e.action for e in events_since(last)]
    assert actions == ["close"]


def test_a_token_that_failed_does_not_block_the_retry(client, flow, personas):
    dr = flow.awaiting_signatures()
    client.force_login(personas["dg"])
    url = reverse("requests_app:sign", args=[dr.pk])

    wrong = client.post(url, {"otp": "wrong", "submission_token": "tok-sign"})
    right = client.post(url, {"otp": fresh_otp(personas["dg"]), "submission_token": "tok-sign"})

    assert wrong.status_code == 400
    assert right.status_code == 302
    assert reread(dr).state == State.PARTIALLY_SIGNED


def test_forms_carry_a_fresh_token(client, flow, personas):
    dr = flow.received()
    client.force_login(personas["president"])
    first = client.get(reverse("requests_app:assign", args=[dr.pk])).content.decode()
    second = client.get(reverse("requests_app:assign", args=[dr.pk])).content.decode()

    def token(html: str) -> str:
        return html.split('name="submission_token" value="')[1].split('"')[0]

    assert len(token(first)) >= 16
    assert token(first) != token(second)


def test_overdue_highlight_uses_today(client, flow, personas):
    late = flow.received(requester_deadline=timezone.localdate() - timedelta(days=1))
    client.force_login(personas["president"])
    html = client.get(REGISTER).content.decode()
    assert 'class="overdue"' in html
    assert late.reference in sections(client)["En retard"]
