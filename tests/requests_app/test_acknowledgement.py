"""The acknowledgement of receipt (issue 14): prepared at registration when the
administrator asks for one for the requester kind, or on demand by the
secretariat; signed like the reply (two distinct signers, never the
referent, a fresh second factor, PAdES); dispatched by the secretariat. It
never moves the request's state."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from legal_basis.models import LegalBasis
from letters import services as letters
from letters.rendering import letter_html
from requests_app import access, queries, services
from requests_app.models import DefaultDeadline, Reply, ReplyKind, State
from tests.conftest import (
    CANARY_FIRST,
    CANARY_NAME,
    CANARY_NISS,
    fresh_otp,
    make_user,
    opinion_kwargs,
    register,
    reread,
)

KIND = "investigating_judge"


@pytest.fixture
def acknowledged(db):
    """The administrator asks for an acknowledgement for investigating judges."""
    DefaultDeadline.objects.update_or_create(
        requester_kind=KIND, defaults={"working_days": 15, "acknowledge_receipt": True}
    )


def ack_of(dr) -> Reply:
    """The request's acknowledgement, read afresh; fails if there is none."""
    acknowledgement = reread(dr).acknowledgement()
    assert acknowledgement is not None
    return acknowledgement


def sign_both(dr, personas):
    services.sign_acknowledgement(dr, actor=personas["dg"], otp=fresh_otp(personas["dg"]))
    services.sign_acknowledgement(
        reread(dr), actor=personas["president"], otp=fresh_otp(personas["president"])
    )
    return reread(dr)


def dispatch(dr, personas, **overrides):
    values: dict[str, Any] = {
        "dispatched_on": timezone.localdate(),
        "channel": "registered_post",
        "registered_mail_number": "RR987654321BE",
    }
    values.update(overrides)
    return services.record_acknowledgement_dispatch(dr, actor=personas["secretariat"], **values)


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


# Preparation ---------------------------------------------------------------


def test_registration_prepares_the_acknowledgement_when_the_setting_is_on(flow, acknowledged):
    dr = flow.received()

    acknowledgement = ack_of(dr)
    assert acknowledgement is not None
    assert acknowledgement.kind == ReplyKind.ACKNOWLEDGEMENT
    assert acknowledgement.is_draft
    assert acknowledgement.decided_on == dr.received_on
    assert acknowledgement.document.read().startswith(b"%PDF")
    assert f"enregistrée sous la référence {dr.reference}" in acknowledgement.body
    # The examination goes on: the acknowledgement is not the answer.
    assert reread(dr).state == State.AWAITING_ASSIGNMENT
    assert reread(dr).current_reply() is None
    (prepared,) = events("prepare_acknowledgement")
    assert prepared.details["reply_id"] == acknowledgement.pk
    assert prepared.details["at_registration"] is True


def test_registration_prepares_nothing_when_the_setting_is_off(flow):
    DefaultDeadline.objects.update_or_create(
        requester_kind=KIND, defaults={"working_days": 15, "acknowledge_receipt": False}
    )

    dr = flow.received()

    assert reread(dr).acknowledgement() is None
    assert not events("prepare_acknowledgement")


def test_another_requester_kind_gets_no_acknowledgement(flow, acknowledged):
    dr = flow.received(requester_kind="police")

    assert reread(dr).acknowledgement() is None


def test_oral_or_inadmissible_requests_get_no_acknowledgement(flow, personas, acknowledged):
    oral = flow.closed_oral()
    inadmissible = flow.inadmissible()

    assert reread(oral).acknowledgement() is None
    assert reread(inadmissible).acknowledgement() is None
    # Nor on demand: the inadmissibility letter is the answer to those.
    for dr in (oral, inadmissible):
        with pytest.raises(services.ActionRefused) as refused:
            services.prepare_acknowledgement(reread(dr), actor=personas["secretariat"])
        assert refused.value.cause == "illegal_transition"
        assert reread(dr).acknowledgement() is None


def test_a_letter_failure_does_not_stop_the_registration(flow, acknowledged, monkeypatch):
    def unavailable(reply):
        raise letters.LetterUnavailable("Pas de lettre.", cause="letterhead_incomplete")

    monkeypatch.setattr(letters, "create_reply_document", unavailable)

    dr = flow.received()

    assert reread(dr).state == State.AWAITING_ASSIGNMENT
    assert reread(dr).acknowledgement() is None
    assert len(events("register_request")) == 1


def test_the_secretariat_prepares_one_on_demand(flow, personas):
    dr = flow.assigned()
    assert "prepare_acknowledgement" in access.available_actions(
        reread(dr), personas["secretariat"]
    )

    acknowledgement = services.prepare_acknowledgement(dr, actor=personas["secretariat"])

    assert reread(dr).acknowledgement() == acknowledgement
    assert acknowledgement.document.sha256
    assert reread(dr).state == State.AWAITING_OPINION
    (prepared,) = events("prepare_acknowledgement")
    assert prepared.details["at_registration"] is False
    assert "prepare_acknowledgement" not in access.available_actions(
        reread(dr), personas["secretariat"]
    )


def test_only_one_acknowledgement_per_request(flow, personas, acknowledged):
    dr = flow.received()

    with pytest.raises(services.ActionRefused) as refused:
        services.prepare_acknowledgement(reread(dr), actor=personas["secretariat"])

    assert refused.value.cause == "illegal_transition"
    assert reread(dr).replies.count() == 1


def test_only_the_secretariat_prepares_it(flow, personas):
    dr = flow.received()

    for key in ("president", "dg", "referent", "auditor"):
        with pytest.raises(services.NotAllowed):
            services.prepare_acknowledgement(reread(dr), actor=personas[key])

    assert reread(dr).acknowledgement() is None
    refused = AuditEvent.objects.filter(
        action="refused", details__attempted="prepare_acknowledgement"
    )
    assert refused.count() == 4


# Signatures ----------------------------------------------------------------


def test_two_distinct_signers_sign_and_the_pdf_validates(flow, personas, acknowledged):
    dr = flow.received()

    dr = sign_both(dr, personas)

    acknowledgement = ack_of(dr)
    assert sorted(acknowledgement.signatures.values_list("capacity", flat=True)) == [
        "director_general",
        "president",
    ]
    assert not acknowledgement.is_draft
    check = letters.verify_reply_document(acknowledgement)
    assert check.ok, check.problems()
    assert len(check.report.signatures) == 2
    assert acknowledgement.document.read().count(b"/ByteRange") == 2


def test_signing_does_not_move_the_request(flow, personas, acknowledged):
    dr = flow.assigned()
    before = AuditEvent.objects.filter(object_id=str(dr.pk)).exclude(to_state="").count()

    dr = sign_both(dr, personas)

    assert dr.state == State.AWAITING_OPINION
    assert dr.referent == personas["referent"]
    assert AuditEvent.objects.filter(object_id=str(dr.pk)).exclude(to_state="").count() == before


def test_nobody_signs_twice(flow, personas, acknowledged):
    dr = flow.received()
    services.sign_acknowledgement(dr, actor=personas["dg"], otp=fresh_otp(personas["dg"]))

    with pytest.raises(services.NotAllowed):
        services.sign_acknowledgement(
            reread(dr), actor=personas["dg"], otp=fresh_otp(personas["dg"])
        )

    assert ack_of(dr).signatures.count() == 1


def test_the_referent_never_signs_even_as_acting_dg(flow, personas, acting_dg, acknowledged):
    dr = flow.received()
    services.assign_referent(dr, actor=personas["president"], referent=acting_dg)
    assert "sign_acknowledgement" not in access.available_actions(reread(dr), acting_dg)

    with pytest.raises(services.NotAllowed):
        services.sign_acknowledgement(reread(dr), actor=acting_dg, otp=fresh_otp(acting_dg))

    assert ack_of(dr).signatures.count() == 0
    # The DG, who is not the referent here, may.
    assert "sign_acknowledgement" in access.available_actions(reread(dr), personas["dg"])


def test_the_secretariat_and_the_referent_cannot_sign(flow, personas, acknowledged):
    dr = flow.assigned()

    for key in ("secretariat", "referent"):
        with pytest.raises(services.NotAllowed):
            services.sign_acknowledgement(
                reread(dr), actor=personas[key], otp=fresh_otp(personas[key])
            )

    assert ack_of(dr).signatures.count() == 0


def test_a_signature_needs_a_fresh_second_factor(flow, personas, acknowledged):
    dr = flow.received()

    with pytest.raises(services.ActionRefused) as refused:
        services.sign_acknowledgement(dr, actor=personas["dg"], otp="000000")

    assert refused.value.cause == "reauthentication_failed"
    assert ack_of(dr).signatures.count() == 0
    with pytest.raises(services.ActionRefused) as refused:
        services.sign_acknowledgement(dr, actor=personas["dg"])
    assert refused.value.cause == "reauthentication_failed"
    assert ack_of(dr).signatures.count() == 0


def test_the_reply_and_the_acknowledgement_are_signed_apart(flow, personas, acknowledged):
    dr = flow.awaiting_signatures()
    services.sign_reply(dr, actor=personas["dg"], otp=fresh_otp(personas["dg"]))

    services.sign_acknowledgement(reread(dr), actor=personas["dg"], otp=fresh_otp(personas["dg"]))

    dr = reread(dr)
    assert dr.state == State.PARTIALLY_SIGNED
    assert dr.reply.signatures.count() == 1
    assert ack_of(dr).signatures.count() == 1


def test_an_acknowledgement_of_a_withdrawn_request_is_not_to_sign(flow, personas, acknowledged):
    dr = flow.received()
    services.withdraw(dr, actor=personas["secretariat"], reason="withdrawn_in_writing")
    dr = reread(dr)

    assert "sign_acknowledgement" not in access.available_actions(dr, personas["dg"])
    with pytest.raises(services.ActionRefused) as refused:
        services.sign_acknowledgement(dr, actor=personas["dg"], otp=fresh_otp(personas["dg"]))
    assert refused.value.cause == "illegal_transition"
    tasks = {(q.key, d.pk) for q, rows in queries.work_queues(personas["dg"]) for d in rows}
    assert ("sign_acknowledgement", dr.pk) not in tasks


# Dispatch ------------------------------------------------------------------


def test_dispatch_only_after_both_signatures(flow, personas, acknowledged):
    dr = flow.received()
    services.sign_acknowledgement(dr, actor=personas["dg"], otp=fresh_otp(personas["dg"]))

    with pytest.raises(services.ActionRefused) as refused:
        dispatch(reread(dr), personas)
    assert refused.value.cause == "illegal_transition"
    assert ack_of(dr).dispatched_on is None

    services.sign_acknowledgement(
        reread(dr), actor=personas["president"], otp=fresh_otp(personas["president"])
    )
    acknowledgement = dispatch(reread(dr), personas)

    assert acknowledgement.dispatched_on == timezone.localdate()
    assert acknowledgement.dispatch_channel == "registered_post"
    assert acknowledgement.registered_mail_number == "RR987654321BE"
    assert reread(dr).state == State.AWAITING_ASSIGNMENT
    assert reread(dr).dispatched_on is None  # the answer's dispatch is the request's
    with pytest.raises(services.ActionRefused):
        dispatch(reread(dr), personas)


def test_only_the_secretariat_records_the_dispatch(flow, personas, acknowledged):
    dr = sign_both(flow.received(), personas)

    with pytest.raises(services.NotAllowed):
        services.record_acknowledgement_dispatch(
            dr, actor=personas["dg"], dispatched_on=timezone.localdate(), channel="post"
        )

    assert ack_of(dr).dispatched_on is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dispatched_on": timezone.localdate() + timedelta(days=2)}, "futur"),
        ({"registered_mail_number": " "}, "recommandé"),
        ({"channel": "pigeon"}, "mode d'expédition"),
        ({"dispatched_on": date(2026, 1, 1)}, "avant d'avoir été signé"),
    ],
)
def test_bad_dispatch_input_changes_nothing(flow, personas, acknowledged, overrides, message):
    dr = sign_both(flow.received(), personas)
    trail = AuditEvent.objects.count()

    with pytest.raises(services.ActionRefused) as refused:
        dispatch(dr, personas, **overrides)

    assert refused.value.http_status == 400
    assert message in refused.value.message
    assert ack_of(dr).dispatched_on is None
    assert AuditEvent.objects.count() == trail


# Pages ---------------------------------------------------------------------


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_bad_input_on_the_dispatch_page_is_a_400_and_changes_nothing(flow, personas, acknowledged):
    dr = sign_both(flow.received(), personas)
    url = reverse("requests_app:acknowledgement_dispatch", args=[dr.pk])
    secretariat = client_for(personas["secretariat"])
    trail = AuditEvent.objects.count()

    response = secretariat.post(
        url,
        {
            "dispatched_on": timezone.localdate().isoformat(),
            "channel": "registered_post",
            "registered_mail_number": "",
        },
    )

    assert response.status_code == 400
    assert "Indiquez le numéro du recommandé" in response.content.decode()
    assert ack_of(dr).dispatched_on is None
    assert AuditEvent.objects.count() == trail
    response = secretariat.post(
        url, {"dispatched_on": timezone.localdate().isoformat(), "channel": "post"}
    )
    assert response.status_code == 302
    assert ack_of(dr).dispatch_channel == "post"


def test_the_pages_offer_each_step_to_whom_it_belongs(flow, personas, acknowledged):
    dr = flow.received()
    detail = reverse("requests_app:detail", args=[dr.pk])
    sign_url = reverse("requests_app:acknowledgement_sign", args=[dr.pk])
    dispatch_url = reverse("requests_app:acknowledgement_dispatch", args=[dr.pk])

    page = client_for(personas["dg"]).get(detail).content.decode()
    assert sign_url in page
    assert "Accusé de réception" in page
    assert "en attente des signatures" in page
    # The sign page shows content: hidden from the secretariat (404).
    assert client_for(personas["secretariat"]).get(sign_url).status_code == 404
    assert client_for(personas["secretariat"]).get(dispatch_url).status_code == 403

    response = client_for(personas["dg"]).post(sign_url, {"otp": fresh_otp(personas["dg"])})
    assert response.status_code == 302
    response = client_for(personas["president"]).get(sign_url)
    assert response.status_code == 200
    assert "Signer l'accusé de réception" in response.content.decode()
    response = client_for(personas["president"]).post(
        sign_url, {"otp": fresh_otp(personas["president"])}
    )
    assert response.status_code == 302

    page = client_for(personas["secretariat"]).get(detail).content.decode()
    assert dispatch_url in page
    assert reverse("requests_app:acknowledgement_pdf", args=[dr.pk]) in page


def test_a_wrong_code_on_the_sign_page_signs_nothing(flow, personas, acknowledged):
    dr = flow.received()

    response = client_for(personas["dg"]).post(
        reverse("requests_app:acknowledgement_sign", args=[dr.pk]), {"otp": "000000"}
    )

    assert response.status_code == 400
    assert "Second facteur non confirmé" in response.content.decode()
    assert ack_of(dr).signatures.count() == 0


def test_the_pdf_follows_the_reply_s_rule(flow, personas, acknowledged):
    dr = flow.received()
    url = reverse("requests_app:acknowledgement_pdf", args=[dr.pk])

    assert client_for(personas["president"]).get(url).status_code == 200
    # The secretariat, which sends it, reads it once signed twice.
    assert client_for(personas["secretariat"]).get(url).status_code == 404
    assert client_for(personas["referent"]).get(url).status_code == 404  # not assigned
    assert client_for(personas["outsider"]).get(url).status_code == 404

    sign_both(dr, personas)

    response = client_for(personas["secretariat"]).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert AuditEvent.objects.filter(action="read_acknowledgement_pdf").count() == 2


def test_home_pages_list_the_acknowledgement_to_sign_then_to_dispatch(
    flow, personas, acknowledged
):
    dr = flow.received()

    def tasks(key):
        return {(q.key, d.pk) for q, rows in queries.work_queues(personas[key]) for d in rows}

    assert ("sign_acknowledgement", dr.pk) in tasks("president")
    assert ("sign_acknowledgement", dr.pk) in tasks("dg")
    assert ("sign_acknowledgement", dr.pk) not in tasks("secretariat")
    services.sign_acknowledgement(dr, actor=personas["dg"], otp=fresh_otp(personas["dg"]))
    assert ("sign_acknowledgement", dr.pk) not in tasks("dg")
    assert ("sign_acknowledgement", dr.pk) in tasks("president")
    services.sign_acknowledgement(
        reread(dr), actor=personas["president"], otp=fresh_otp(personas["president"])
    )
    assert ("dispatch_acknowledgement", dr.pk) in tasks("secretariat")
    dispatch(reread(dr), personas)
    assert ("dispatch_acknowledgement", dr.pk) not in tasks("secretariat")
    response = client_for(personas["secretariat"]).get(reverse("requests_app:home"))
    assert "Accusés de réception à expédier" not in response.content.decode()


def test_the_home_page_query_count_does_not_grow_with_acknowledgements(
    flow, personas, acknowledged
):
    home = reverse("requests_app:home")
    # One acknowledgement in each queue already: the count is compared
    # between one row and several, not between an empty queue and a full one.
    flow.received()
    sign_both(flow.received(), personas)

    def queries_on_home(key):
        client = client_for(personas[key])
        client.get(home)  # warm the session and caches
        with CaptureQueriesContext(connection) as captured:
            response = client.get(home)
        return len(captured.captured_queries), response

    one = {key: queries_on_home(key)[0] for key in ("president", "secretariat")}
    for _ in range(3):
        dr = flow.received()
    sign_both(dr, personas)

    shown = {}
    for key in ("president", "secretariat"):
        count, response = queries_on_home(key)
        assert count == one[key], key
        shown[key] = [str(s.title) for s in response.context["sections"] if s.rows]
    assert "Accusés de réception à signer" in shown["president"]
    assert "Accusés de réception à expédier" in shown["secretariat"]


# The trail -----------------------------------------------------------------


def test_audit_details_carry_ids_and_codes_only(flow, personas, acknowledged):
    dr = sign_both(flow.received(), personas)
    dispatch(dr, personas)

    recorded = (
        events("prepare_acknowledgement")
        + events("sign_letter")
        + events("record_acknowledgement_dispatch")
    )
    assert len(recorded) == 4
    signed = events("sign_letter")
    assert all(e.details["acknowledgement"] is True for e in signed)
    assert [e.details["final"] for e in signed] == [False, True]
    assert {e.details["field"] for e in signed} == set(letters.FIELD_FOR_CAPACITY.values())
    assert all(len(e.details["pdf_sha256"]) == 64 for e in signed)
    assert [e.details["pdf_revision"] for e in signed] == [2, 3]
    text = json.dumps([e.details for e in recorded], ensure_ascii=False)
    for secret in (CANARY_NAME, CANARY_FIRST, CANARY_NISS, "CANARYJUGE", "RR987654321BE"):
        assert secret not in text
    assert "Nous accusons réception" not in text


# The law it cites ----------------------------------------------------------

SWITCH = date(2026, 6, 1)


@pytest.fixture
def secrecy_rule_changed(db):
    """The shipped secrecy cards set aside; a rule that changed on 1 June 2026."""
    for shipped in LegalBasis.objects.current():
        if "secrecy_rule" in shipped.features:
            shipped.features = [f for f in shipped.features if f != "secrecy_rule"]
            shipped.save(update_fields=["features"])
    common = {
        "code": "test-ack-secret",
        "title_fr": "Fiche secret",
        "citation": "Référence interne",
        "role": "context",
        "effect": "context",
        "features": ["secrecy_rule"],
    }
    LegalBasis.objects.create(
        **common,
        version=1,
        in_force_until=SWITCH - timedelta(days=1),
        letter_citation="Règle ACKAVANT",
    )
    LegalBasis.objects.create(
        **common, version=2, in_force_from=SWITCH, letter_citation="Règle ACKAPRES"
    )


def test_the_cited_rule_is_the_one_in_force_on_the_day_of_receipt(
    personas, acknowledged, secrecy_rule_changed
):
    assert timezone.localdate() >= SWITCH
    dr = register(personas["secretariat"], received_on=SWITCH - timedelta(days=3))

    acknowledgement = ack_of(dr)

    assert "Règle ACKAVANT" in acknowledgement.body
    assert "ACKAPRES" not in acknowledgement.body
    html = letter_html(acknowledgement)
    assert "Règle ACKAVANT" in html
    assert "ACKAPRES" not in html


def test_a_request_received_after_the_change_cites_the_new_rule(
    personas, acknowledged, secrecy_rule_changed
):
    dr = register(personas["secretariat"], received_on=SWITCH + timedelta(days=3))

    acknowledgement = ack_of(dr)

    assert "Règle ACKAPRES" in acknowledgement.body
    assert "ACKAVANT" not in acknowledgement.body


def test_the_reply_flow_is_untouched_by_the_acknowledgement(flow, personas, acknowledged):
    dr = flow.assigned()
    services.submit_opinion(dr, actor=personas["referent"], **opinion_kwargs())
    services.approve(reread(dr), actor=personas["dg"])

    dr = reread(dr)
    assert dr.state == State.AWAITING_SIGNATURES
    assert dr.reply.kind == ReplyKind.DISCLOSURE
    assert ack_of(dr).kind == ReplyKind.ACKNOWLEDGEMENT
    assert dr.replies.count() == 2


# Route × role × method ------------------------------------------------------

ROLES = ["secretariat", "president", "dg", "referent", "other_referent", "auditor", "outsider"]
CONTENT = {"president", "dg", "referent"}
CANARIES = [CANARY_NAME, CANARY_FIRST, CANARY_NISS, "CANARYINFO", "CANARYRUE"]
# name -> (what the request holds, methods, roles that may use it); the
# referent is the assigned one, other_referent is not.
ROUTES = {
    "requests_app:acknowledgement_prepare": ("nothing", ["POST"], {"secretariat"}),
    "requests_app:acknowledgement_sign": ("prepared", ["GET", "POST"], {"president", "dg"}),
    "requests_app:acknowledgement_pdf": ("prepared", ["GET"], CONTENT),
    "requests_app:acknowledgement_page": ("prepared", ["GET"], CONTENT),
    "requests_app:acknowledgement_dispatch": ("signed", ["GET", "POST"], {"secretariat"}),
}


def _state_of(dr):
    dr = reread(dr)
    acknowledgement = dr.acknowledgement()
    if acknowledgement is None:
        return dr.state, None
    return dr.state, (acknowledgement.signatures.count(), acknowledgement.dispatched_on)


@pytest.mark.parametrize(
    ("name", "method"), [(n, m) for n, (_, methods, _) in ROUTES.items() for m in methods]
)
def test_route_role_method_matrix(name, method, flow, personas, subtests):
    holds, _, allowed = ROUTES[name]
    if holds != "nothing":
        DefaultDeadline.objects.update_or_create(
            requester_kind=KIND, defaults={"working_days": 15, "acknowledge_receipt": True}
        )
    dr = flow.assigned()
    if holds == "signed":
        dr = sign_both(dr, personas)
    args = [dr.pk, 1] if name == "requests_app:acknowledgement_page" else [dr.pk]
    url = reverse(name, args=args)
    before = _state_of(dr)
    for role in [*ROLES, "anonymous"]:
        with subtests.test(role=role), transaction.atomic():
            client = Client()
            if role != "anonymous":
                client.force_login(personas[role])
            trail = AuditEvent.objects.count()
            if method == "GET":
                response = client.get(url)
            else:
                otp = fresh_otp(personas[role]) if role != "anonymous" else ""
                response = client.post(url, {"otp": otp})

            if role == "anonymous":
                assert response.status_code == 302
                assert response["Location"].startswith(reverse("login"))
            elif role in allowed:
                assert response.status_code in (200, 302, 400)
                # The letter's reads and the steps taken are in the trail (a
                # form page shown is not; the dispatch form posted empty is
                # bad input: nothing at all).
                read = name.endswith(("_pdf", "_page"))
                step = name.endswith(("_prepare", "_sign")) and method == "POST"
                if read or step:
                    assert AuditEvent.objects.count() > trail
            else:
                assert response.status_code in (403, 404), (role, response.status_code)
                body = b"".join(getattr(response, "streaming_content", [response.content]))
                assert not any(c.encode() in body for c in CANARIES)
                assert _state_of(dr) == before
            transaction.set_rollback(True)


# The administrator's setting -------------------------------------------------


def test_the_administrator_sets_it_per_requester_kind_in_the_admin(db):
    root = make_user("rootadmin", is_staff=True, is_superuser=True)
    deadline, _ = DefaultDeadline.objects.update_or_create(
        requester_kind="police", defaults={"working_days": 5, "acknowledge_receipt": False}
    )
    client = client_for(root)
    url = reverse("admin:requests_app_defaultdeadline_change", args=[deadline.pk])

    form = client.get(url).content.decode()
    response = client.post(
        url, {"requester_kind": "police", "working_days": "5", "acknowledge_receipt": "on"}
    )

    assert "Envoyer un accusé de réception" in form
    assert response.status_code == 302
    deadline.refresh_from_db()
    assert deadline.acknowledge_receipt
    change = AuditEvent.objects.filter(object_type="default_deadline").latest("seq")
    assert change.details["fields"] == ["acknowledge_receipt"]
    listing = client.get(reverse("admin:requests_app_defaultdeadline_changelist"))
    assert "Accusé de réception" in listing.content.decode()
