"""Acting designations made and ended in the app (issue 14): who may, the
rules, the constraints the database keeps, the trail, and the pages."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import services
from accounts.models import ActingDesignation, Role, User
from audit.models import AuditEvent
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

REFERENCE = "CANARYDECISION CAS/2026/041"
President = ActingDesignation.ActingRole.PRESIDENT
DirectorGeneral = ActingDesignation.ActingRole.DIRECTOR_GENERAL


def today():
    return timezone.localdate()


def days(n: int):
    return today() + timedelta(days=n)


@pytest.fixture
def deputy(db) -> User:
    """A staff member with no signing role: someone who may be designated."""
    return make_user("deputy", Role.SECRETARIAT, first_name="Luc", last_name="Gérard")


def designate(actor, user, **overrides) -> ActingDesignation:
    values = {
        "role": President,
        "starts_on": today(),
        "ends_on": days(14),
        "council_decision_on": days(-3),
        "council_decision_reference": REFERENCE,
    }
    values.update(overrides)
    return services.designate_acting(actor, user, **values)


def fresh(user: User) -> User:
    # Roles are cached on the instance: read the user again.
    return User.objects.get(pk=user.pk)


def events(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("seq"))


# ---------------------------------------------------------------------------
# Designating


def test_dg_designates_a_staff_member_acting_president(dg, deputy):
    designation = designate(dg, deputy)

    designation.refresh_from_db()
    assert designation.designated_by == dg
    assert designation.council_decision_on == days(-3)
    assert designation.council_decision_reference == REFERENCE
    assert designation.revoked_from is None
    assert fresh(deputy).has_role(Role.PRESIDENT)
    assert fresh(deputy).is_acting(Role.PRESIDENT)
    assert not fresh(deputy).has_role(Role.PRESIDENT, days(15))


def test_president_designates_an_acting_dg_from_a_later_day(president, deputy):
    designation = designate(president, deputy, role=DirectorGeneral, starts_on=days(2))

    assert designation.status_on(today()) == "upcoming"
    assert not fresh(deputy).has_role(Role.DIRECTOR_GENERAL)
    assert fresh(deputy).has_role(Role.DIRECTOR_GENERAL, days(2))


def test_an_acting_deputy_may_designate_on_their_days(acting_dg, deputy):
    designation = designate(acting_dg, deputy)

    assert designation.designated_by == acting_dg


def test_designation_event_has_ids_role_and_dates_but_no_reference(dg, deputy):
    designation = designate(dg, deputy)

    (event,) = events(object_type="acting_designation")
    assert event.action == "designate_acting"
    assert event.actor_id == dg.pk
    assert event.object_id == str(designation.pk)
    assert event.details == {
        "designation_id": designation.pk,
        "user_id": deputy.pk,
        "role": "president",
        "starts_on": today().isoformat(),
        "ends_on": days(14).isoformat(),
        "council_decision_on": days(-3).isoformat(),
    }
    text = json.dumps(event.details, ensure_ascii=False)
    assert "CANARYDECISION" not in text
    assert "Gérard" not in text


@pytest.mark.parametrize("role", ["secretariat", "referent", "auditor", "outsider"])
def test_only_the_president_and_the_dg_designate(role, personas, deputy):
    actor = personas[role]

    with pytest.raises(services.DesignationRefused) as refused:
        designate(actor, deputy)

    assert refused.value.http_status == 403
    assert not ActingDesignation.objects.exists()
    (event,) = events(object_type="acting_designation")
    assert event.action == "refused"
    assert event.actor_id == actor.pk
    assert event.details == {"attempted": "designate_acting", "cause": "permission_denied"}


def test_an_acting_deputy_out_of_their_days_may_not_designate(dg, deputy):
    former = make_user("former", Role.REFERENT)
    ActingDesignation.objects.create(
        user=former, role=Role.DIRECTOR_GENERAL, starts_on=days(-10), ends_on=days(-1)
    )

    with pytest.raises(services.DesignationRefused) as refused:
        designate(fresh(former), deputy)

    assert refused.value.http_status == 403
    assert not ActingDesignation.objects.filter(user=deputy).exists()


def test_nobody_designates_themself(acting_dg):
    with pytest.raises(services.DesignationRefused) as refused:
        designate(acting_dg, acting_dg, role=President)

    assert refused.value.http_status == 403
    assert refused.value.cause == "self_designation"
    assert not ActingDesignation.objects.filter(role=President).exists()
    (event,) = events(object_type="acting_designation")
    assert event.details == {"attempted": "designate_acting", "cause": "self_designation"}


def test_the_database_refuses_a_self_designation(deputy):
    with pytest.raises(IntegrityError), transaction.atomic():
        ActingDesignation.objects.create(
            user=deputy,
            role=President,
            starts_on=today(),
            ends_on=days(3),
            council_decision_on=today(),
            council_decision_reference="CAS/1",
            designated_by=deputy,
        )

    assert not ActingDesignation.objects.exists()


def test_the_database_requires_the_council_decision_of_a_designation_made_in_the_app(dg, deputy):
    for decision_on, reference in [(None, "CAS/1"), (today(), "")]:
        with pytest.raises(IntegrityError), transaction.atomic():
            ActingDesignation.objects.create(
                user=deputy,
                role=President,
                starts_on=today(),
                ends_on=days(3),
                council_decision_on=decision_on,
                council_decision_reference=reference,
                designated_by=dg,
            )

    assert not ActingDesignation.objects.exists()


def test_the_database_keeps_an_end_complete_within_the_period_and_not_by_oneself(dg, deputy):
    designation = designate(dg, deputy)
    attempts = [
        # From before the start, after the last day, without its author.
        {"revoked_from": days(-1), "revoked_at": timezone.now(), "revoked_by": dg},
        {"revoked_from": days(15), "revoked_at": timezone.now(), "revoked_by": dg},
        {"revoked_from": days(1), "revoked_at": timezone.now(), "revoked_by": None},
        # The designated person ending their own designation.
        {"revoked_from": days(1), "revoked_at": timezone.now(), "revoked_by": deputy},
    ]

    for values in attempts:
        with pytest.raises(IntegrityError), transaction.atomic():
            ActingDesignation.objects.filter(pk=designation.pk).update(**values)

    designation.refresh_from_db()
    assert designation.revoked_from is None


@pytest.mark.parametrize(
    ("overrides", "cause"),
    [
        ({"role": "referent"}, "unknown_role"),
        ({"starts_on": days(-1)}, "starts_in_the_past"),
        ({"ends_on": days(-1)}, "period_reversed"),
        ({"council_decision_on": days(1)}, "decision_in_the_future"),
        ({"council_decision_reference": "   "}, "reference_missing"),
        ({"council_decision_reference": "x" * 101}, "reference_too_long"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(dg, deputy, overrides, cause):
    before = AuditEvent.objects.count()

    with pytest.raises(services.DesignationRefused) as refused:
        designate(dg, deputy, **overrides)

    assert refused.value.http_status == 400
    assert refused.value.cause == cause
    assert refused.value.message
    assert not ActingDesignation.objects.exists()
    assert AuditEvent.objects.count() == before


def test_a_designation_may_start_today_and_last_one_day(dg, deputy):
    designation = designate(dg, deputy, starts_on=today(), ends_on=today())

    assert designation.status_on(today()) == "current"
    assert not fresh(deputy).has_role(Role.PRESIDENT, days(1))


def test_the_designated_person_must_be_an_active_staff_member(dg, personas):
    inactive = make_user("gone", Role.REFERENT)
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    before = AuditEvent.objects.count()

    for user in (inactive, personas["outsider"]):
        with pytest.raises(services.DesignationRefused) as refused:
            designate(dg, user)
        assert refused.value.cause == "not_staff"
        assert refused.value.http_status == 400

    assert not ActingDesignation.objects.exists()
    assert AuditEvent.objects.count() == before


def test_the_president_and_the_dg_are_not_designated_acting(dg, president):
    for actor, user, role in [(dg, president, DirectorGeneral), (president, dg, President)]:
        with pytest.raises(services.DesignationRefused) as refused:
            designate(actor, user, role=role)
        assert refused.value.cause == "holds_signing_role"

    assert not ActingDesignation.objects.exists()


def test_overlapping_designations_of_a_person_in_a_role_are_refused(dg, deputy):
    designate(dg, deputy, starts_on=days(2), ends_on=days(10))
    before = AuditEvent.objects.count()

    for start, end in [(days(0), days(2)), (days(10), days(12)), (days(4), days(5))]:
        with pytest.raises(services.DesignationRefused) as refused:
            designate(dg, deputy, starts_on=start, ends_on=end)
        assert refused.value.cause == "overlap"

    assert ActingDesignation.objects.count() == 1
    assert AuditEvent.objects.count() == before


def test_adjacent_periods_are_not_overlaps(dg, deputy):
    designate(dg, deputy, starts_on=days(2), ends_on=days(10))

    designate(dg, deputy, starts_on=days(0), ends_on=days(1))
    designate(dg, deputy, starts_on=days(11), ends_on=days(20))
    designate(dg, deputy, role=DirectorGeneral, starts_on=days(21), ends_on=days(30))

    assert ActingDesignation.objects.filter(user=deputy).count() == 4


def test_nobody_acts_as_president_and_dg_on_the_same_day(dg, deputy):
    designate(dg, deputy, starts_on=days(2), ends_on=days(10))

    with pytest.raises(services.DesignationRefused) as refused:
        designate(dg, deputy, role=DirectorGeneral, starts_on=days(10), ends_on=days(12))

    assert refused.value.cause == "overlap_other_role"
    assert refused.value.http_status == 400
    assert ActingDesignation.objects.filter(user=deputy).count() == 1


def test_the_days_freed_by_an_early_end_can_be_designated_again(dg, president, deputy):
    first = designate(dg, deputy, starts_on=days(0), ends_on=days(10))
    services.end_acting_designation(president, first, effective_on=days(5))

    again = designate(dg, deputy, starts_on=days(5), ends_on=days(8))

    assert again.status_on(days(5)) == "current"
    with pytest.raises(services.DesignationRefused):
        designate(dg, deputy, starts_on=days(4), ends_on=days(4))


def test_a_cancelled_designation_frees_its_whole_period(dg, president, deputy):
    cancelled = designate(dg, deputy, starts_on=days(5), ends_on=days(9))
    services.end_acting_designation(president, cancelled)

    again = designate(dg, deputy, starts_on=days(0), ends_on=days(10))

    assert again.counts_on(days(7))


# ---------------------------------------------------------------------------
# Ending


def test_ending_a_designation_today_takes_the_role_at_once(dg, president, deputy):
    designation = designate(dg, deputy)

    ended = services.end_acting_designation(president, designation)

    assert ended.revoked_from == today()
    assert ended.revoked_by == president
    assert ended.revoked_at is not None
    assert ended.ends_on == days(14)  # the period as decided stays
    assert ended.no_longer_counts_from == today()
    assert not ended.is_cancelled  # it counted until now
    assert ended.status_on(today()) == "past"
    assert not fresh(deputy).has_role(Role.PRESIDENT)
    assert ActingDesignation.objects.filter(pk=designation.pk).exists()


def test_ending_event_has_ids_role_and_dates(dg, president, deputy):
    designation = designate(dg, deputy)

    services.end_acting_designation(president, designation, effective_on=days(3))

    event = events(object_type="acting_designation")[-1]
    assert event.action == "end_acting_designation"
    assert event.actor_id == president.pk
    assert event.details == {
        "designation_id": designation.pk,
        "user_id": deputy.pk,
        "role": "president",
        "starts_on": today().isoformat(),
        "ends_on": days(14).isoformat(),
        "ended_from": days(3).isoformat(),
        "cancelled": False,
    }
    assert fresh(deputy).has_role(Role.PRESIDENT, days(2))
    assert not fresh(deputy).has_role(Role.PRESIDENT, days(3))


def test_an_upcoming_designation_ended_today_is_cancelled(dg, deputy, president):
    designation = designate(dg, deputy, starts_on=days(5), ends_on=days(9))

    ended = services.end_acting_designation(president, designation)

    assert ended.revoked_from == days(5)
    assert ended.is_cancelled
    assert events(object_type="acting_designation")[-1].details["cancelled"] is True
    assert not fresh(deputy).has_role(Role.PRESIDENT, days(5))


def test_an_ended_designation_may_be_ended_earlier_not_later(dg, president, deputy):
    designation = designate(dg, deputy)
    services.end_acting_designation(president, designation, effective_on=days(6))

    with pytest.raises(services.DesignationRefused) as later:
        services.end_acting_designation(president, designation, effective_on=days(8))
    ended = services.end_acting_designation(dg, designation, effective_on=days(2))

    assert later.value.cause == "already_over"
    assert ended.revoked_from == days(2)
    assert ended.revoked_by == dg


@pytest.mark.parametrize(
    ("effective_on", "cause"), [(-1, "ends_in_the_past"), (15, "already_over")]
)
def test_an_end_in_the_past_or_after_the_last_day_is_refused(
    dg, president, deputy, effective_on, cause
):
    designation = designate(dg, deputy)
    before = AuditEvent.objects.count()

    with pytest.raises(services.DesignationRefused) as refused:
        services.end_acting_designation(president, designation, effective_on=days(effective_on))

    assert refused.value.cause == cause
    assert refused.value.http_status == 400
    designation.refresh_from_db()
    assert designation.revoked_from is None
    assert AuditEvent.objects.count() == before


def test_nobody_ends_their_own_designation(dg, deputy):
    deputy.groups.clear()
    designation = designate(dg, make_user("other_deputy", Role.REFERENT), role=DirectorGeneral)
    # The deputy is acting DG: they may manage designations, not their own.
    own = ActingDesignation.objects.create(
        user=deputy, role=DirectorGeneral, starts_on=days(-1), ends_on=days(3)
    )

    with pytest.raises(services.DesignationRefused) as refused:
        services.end_acting_designation(fresh(deputy), own)
    services.end_acting_designation(fresh(deputy), designation)

    assert refused.value.http_status == 403
    assert refused.value.cause == "own_designation"
    own.refresh_from_db()
    assert own.revoked_from is None


def test_only_the_president_and_the_dg_end_a_designation(dg, deputy, referent):
    designation = designate(dg, deputy)

    with pytest.raises(services.DesignationRefused) as refused:
        services.end_acting_designation(referent, designation)

    assert refused.value.http_status == 403
    designation.refresh_from_db()
    assert designation.revoked_from is None
    event = events(object_type="acting_designation")[-1]
    assert event.action == "refused"
    assert event.object_id == str(designation.pk)
    assert event.details == {"attempted": "end_acting_designation", "cause": "permission_denied"}


# ---------------------------------------------------------------------------
# Pages


def _form(**overrides):
    data = {
        "role": "president",
        "starts_on": today().isoformat(),
        "ends_on": days(14).isoformat(),
        "council_decision_on": days(-3).isoformat(),
        "council_decision_reference": REFERENCE,
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("role", ["secretariat", "referent", "auditor", "outsider"])
def test_the_pages_are_hidden_from_other_roles(role, personas, client, dg, deputy):
    designation = designate(dg, deputy)
    client.force_login(personas[role])

    answers = [
        client.get("/compte/faisant-fonction/"),
        client.get("/compte/faisant-fonction/designer/"),
        client.post("/compte/faisant-fonction/designer/", _form(user=deputy.pk)),
        client.get(f"/compte/faisant-fonction/{designation.pk}/fin/"),
        client.post(f"/compte/faisant-fonction/{designation.pk}/fin/", {"effective_on": ""}),
    ]

    assert [a.status_code for a in answers] == [404] * 5
    assert ActingDesignation.objects.count() == 1
    assert "Désignations faisant fonction" not in client.get("/").content.decode()


def test_the_dg_designates_through_the_page(client, dg, deputy):
    client.force_login(dg)

    form_page = client.get("/compte/faisant-fonction/designer/").content.decode()
    response = client.post("/compte/faisant-fonction/designer/", _form(user=deputy.pk))

    assert "Luc Gérard" in form_page
    assert f'value="{dg.pk}"' not in form_page  # nobody designates themself
    assert response.status_code == 302
    assert response["Location"] == "/compte/faisant-fonction/"
    designation = ActingDesignation.objects.get()
    assert (designation.user, designation.designated_by) == (deputy, dg)
    listing = client.get("/compte/faisant-fonction/").content.decode()
    assert "Luc Gérard" in listing
    assert REFERENCE in listing
    assert "désigné" in listing  # the success message, in French


def test_a_refused_designation_shows_why_in_french(client, dg, deputy):
    designate(dg, deputy)
    client.force_login(dg)

    response = client.post("/compte/faisant-fonction/designer/", _form(user=deputy.pk))

    assert response.status_code == 400
    assert "déjà désignée" in response.content.decode()
    assert ActingDesignation.objects.count() == 1


def test_an_incomplete_form_changes_nothing(client, dg, deputy):
    client.force_login(dg)

    response = client.post(
        "/compte/faisant-fonction/designer/",
        _form(user=deputy.pk, council_decision_reference=""),
    )

    assert response.status_code == 400
    assert not ActingDesignation.objects.exists()


def test_the_president_ends_a_designation_through_the_page(client, dg, president, deputy):
    designation = designate(dg, deputy)
    client.force_login(president)

    confirm = client.get(f"/compte/faisant-fonction/{designation.pk}/fin/")
    response = client.post(
        f"/compte/faisant-fonction/{designation.pk}/fin/", {"effective_on": today().isoformat()}
    )

    assert confirm.status_code == 200
    assert REFERENCE in confirm.content.decode()
    assert response.status_code == 302
    designation.refresh_from_db()
    assert designation.revoked_by == president
    assert not fresh(deputy).has_role(Role.PRESIDENT)


def test_ending_in_the_past_through_the_page_is_refused(client, dg, president, deputy):
    designation = designate(dg, deputy)
    client.force_login(president)

    response = client.post(
        f"/compte/faisant-fonction/{designation.pk}/fin/",
        {"effective_on": days(-1).isoformat()},
    )

    assert response.status_code == 400
    assert "dans le passé" in response.content.decode()
    designation.refresh_from_db()
    assert designation.revoked_from is None


def test_an_unknown_designation_is_404(client, dg):
    client.force_login(dg)

    assert client.get("/compte/faisant-fonction/999999/fin/").status_code == 404
