"""The person's own request (GDPR right of access), issue 16.

A request from the person concerned about themself is an access request, not
a request to lift the secret: its identity verification is recorded at
intake; it is due one calendar month after receipt (end of month clamped),
extendable once by two further months, with a reason, before the deadline
passes; the DG prepares the reply, which lists the categories of data held,
the purposes and the recipients, leaves out third parties and what the law
keeps secret from the person (recorded for the DG), and takes both
signatures and the dispatch as every reply.
"""

from __future__ import annotations

import html
import io
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from audit.models import AuditEvent
from legal_basis.models import Feature
from letters import rendering
from letters.models import ReplyDocument
from requests_app import deadlines, services
from requests_app.inputs import PersonData
from requests_app.models import (
    ConcernedPerson,
    DisclosureRequest,
    ReplyKind,
    RequestKind,
    State,
)
from tests.conftest import (
    CANARY_FIRST,
    CANARY_NAME,
    CANARY_NISS,
    answer_all,
    basis,
    fresh_otp,
    intake,
    pdf_upload,
    reread,
)

pytestmark = pytest.mark.django_db

BIRTH = date(1985, 1, 1)
# The catalogue's card with the ADMINISTRATIVE_ONLY feature: a request resting
# on it is kept secret from the person.
SECRET_BASIS = "cic-46bis1"


def access_intake(**overrides):
    values = {
        "kind": RequestKind.SUBJECT_ACCESS.value,
        "identity_verification": "id_card_at_desk",
        "channel": "hand_delivery",
        "requester_kind": "person_concerned",
        "requester_name": f"{CANARY_FIRST} {CANARY_NAME}",
        "requester_organisation": "",
        "requester_address": "Rue de la Personne 3, 5000 Namur",
        "requester_reference": "",
        "cited_provision": "",
        "documents": [],
        "information_requested": "Quelles données détenez-vous sur moi ?",
        "persons": [
            PersonData(CANARY_NAME, CANARY_FIRST, birth_date=BIRTH, national_number=CANARY_NISS)
        ],
    }
    values.update(overrides)
    return intake(**values)


def register_access(secretariat, **overrides) -> DisclosureRequest:
    return services.register_request(
        access_intake(**overrides),
        actor=secretariat,
        scan=pdf_upload(),
        scan_content_type="application/pdf",
    )


def last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def events_after(seq: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


# ---------------------------------------------------------------------------
# Deadline arithmetic: calendar months, end of month clamped


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),  # a leap year
        (date(2026, 1, 15), date(2026, 2, 15)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 12, 31), date(2027, 1, 31)),
        (date(2026, 2, 28), date(2026, 3, 28)),
    ],
)
def test_an_access_request_is_due_one_calendar_month_after_receipt(received, due):
    assert deadlines.access_due_date(received) == due


@pytest.mark.parametrize(
    ("received", "extended"),
    [
        # Three months from receipt in all: the clamped first month does not
        # shorten the two further months.
        (date(2026, 1, 31), date(2026, 4, 30)),
        (date(2026, 11, 30), date(2027, 2, 28)),
        (date(2026, 10, 15), date(2027, 1, 15)),
    ],
)
def test_the_extension_adds_two_further_months(received, extended):
    assert deadlines.extended_access_due_date(received) == extended


# ---------------------------------------------------------------------------
# Intake


def test_an_access_request_is_registered_with_its_identity_verification(personas):
    secretariat = personas["secretariat"]
    before = last_seq()

    dr = register_access(secretariat, received_on=date(2026, 1, 31))

    dr = reread(dr)
    assert dr.kind == RequestKind.SUBJECT_ACCESS
    assert dr.state == State.AWAITING_ACCESS_REPLY
    assert dr.due_on == date(2026, 2, 28)
    assert dr.identity_verification == "id_card_at_desk"
    assert dr.identity_verified_by == secretariat
    assert dr.identity_verified_at is not None
    # No referent, no acknowledgement, no inadmissibility: its own path.
    assert dr.referent is None
    assert dr.inadmissibility_reasons == []
    assert not dr.replies.exists()
    registered, accepted = events_after(before)
    assert registered.action == "register_request"
    assert registered.details["request_kind"] == "subject_access"
    assert registered.details["identity_verification"] == "id_card_at_desk"
    assert accepted.action == "accept_access_request"
    assert accepted.to_state == State.AWAITING_ACCESS_REPLY
    assert accepted.details["due_on"] == "2026-02-28"
    trail = str([e.details for e in events_after(before)])
    assert CANARY_NAME not in trail
    assert CANARY_NISS not in trail


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"identity_verification": ""}, "comment l'identité de la personne a été vérifiée"),
        ({"identity_verification": "phone_call"}, "comment l'identité"),
        ({"requester_kind": "police"}, "le demandeur d'une demande d'accès est la personne"),
        ({"persons": []}, "une seule personne"),
        (
            {"persons": [PersonData(CANARY_NAME, CANARY_FIRST), PersonData("AUTRE", "Tiers")]},
            "une seule personne",
        ),
        ({"persons": [PersonData(CANARY_NAME, CANARY_FIRST)]}, "identifiez la personne"),
    ],
)
def test_an_access_request_without_what_it_needs_is_refused_and_changes_nothing(
    personas, overrides, problem
):
    before = (DisclosureRequest.objects.count(), ConcernedPerson.objects.count(), last_seq())

    with pytest.raises(services.ActionRefused) as refused:
        register_access(personas["secretariat"], **overrides)

    assert refused.value.http_status == 400
    assert problem in refused.value.message
    after = (DisclosureRequest.objects.count(), ConcernedPerson.objects.count(), last_seq())
    assert after == before


def test_an_oral_access_request_is_refused(personas):
    with pytest.raises(services.ActionRefused) as refused:
        services.register_request(
            access_intake(channel="oral", persons=[PersonData(CANARY_NAME, CANARY_FIRST)]),
            actor=personas["secretariat"],
            scan=None,
        )

    assert "par écrit ou au guichet" in refused.value.message
    assert not DisclosureRequest.objects.exists()


def test_the_identity_verification_belongs_to_an_access_request_only(personas):
    with pytest.raises(services.ActionRefused) as refused:
        services.register_request(
            intake(identity_verification="id_card_copy"),
            actor=personas["secretariat"],
            scan=pdf_upload(),
            scan_content_type="application/pdf",
        )

    assert refused.value.cause == "invalid_intake"
    assert not DisclosureRequest.objects.exists()


def test_the_database_refuses_an_access_request_without_identity_verification(personas):
    from django.db import IntegrityError, transaction

    dr = register_access(personas["secretariat"])

    with pytest.raises(IntegrityError), transaction.atomic():
        DisclosureRequest.objects.filter(pk=dr.pk).update(identity_verification="")


def test_the_form_registers_an_access_request(client, personas):
    from tests.requests_app.test_views import intake_post

    client.force_login(personas["secretariat"])
    post = intake_post(
        kind="subject_access",
        identity_verification="eid_signed_letter",
        requester_kind="person_concerned",
        requester_name="Jean CANARYNOM",
        channel="post",
        cited_provision="",
        documents=[],
    )

    response = client.post(reverse("requests_app:create"), post)

    assert response.status_code == 302, html.unescape(response.content.decode())[:3000]
    dr = DisclosureRequest.objects.get()
    assert (dr.kind, dr.state) == (RequestKind.SUBJECT_ACCESS, State.AWAITING_ACCESS_REPLY)
    assert dr.identity_verification == "eid_signed_letter"
    assert dr.due_on == deadlines.access_due_date(dr.received_on)


def test_the_form_asks_how_the_identity_was_verified(client, personas):
    from tests.requests_app.test_views import intake_post

    client.force_login(personas["secretariat"])
    post = intake_post(
        kind="subject_access", requester_kind="person_concerned", cited_provision=""
    )

    response = client.post(reverse("requests_app:create"), post)

    assert response.status_code == 400
    assert response.context["form"].errors["identity_verification"] == [
        "Indiquez comment l'identité de la personne a été vérifiée."
    ]
    assert not DisclosureRequest.objects.exists()


def test_the_api_registers_an_access_request(personas):
    from tests.requests_app.test_api import api_for

    response = api_for(personas["secretariat"]).post(
        reverse("api:request-list"),
        {
            "received_on": "2026-11-02",
            "channel": "post",
            "kind": "subject_access",
            "identity_verification": "id_card_copy",
            "requester_kind": "person_concerned",
            "requester_name": "Jean CANARYNOM",
            "information_requested": "Mes données",
            "persons": '[{"last_name": "CANARYNOM", "first_names": "Jean", '
            '"birth_date": "1985-01-01"}]',
            "scan": pdf_upload(),
        },
        format="multipart",
    )

    assert response.status_code == 201, response.content
    dr = DisclosureRequest.objects.get()
    assert dr.state == State.AWAITING_ACCESS_REPLY
    assert dr.due_on == date(2026, 12, 2)


# ---------------------------------------------------------------------------
# Extension: two months, once, with a reason, before the deadline passes


def open_access_request(personas, due_in_days: int = 10) -> DisclosureRequest:
    today = timezone.localdate()
    dr = register_access(personas["secretariat"], received_on=today - timedelta(days=3))
    # The due date relative to today, whatever today is.
    DisclosureRequest.objects.filter(pk=dr.pk).update(due_on=today + timedelta(days=due_in_days))
    return reread(dr)


@pytest.mark.parametrize("role", ["dg", "dpo"])
def test_the_dg_or_the_dpo_extends_the_deadline_once_with_a_reason(personas, role):
    dr = open_access_request(personas)
    before = last_seq()

    services.extend_access_deadline(
        dr, actor=personas[role], reason="CANARYMOTIF dossier volumineux à rassembler"
    )

    dr = reread(dr)
    assert dr.due_on == deadlines.extended_access_due_date(dr.received_on)
    assert dr.deadline_extended_by == personas[role]
    assert dr.deadline_extension_reason == "CANARYMOTIF dossier volumineux à rassembler"
    [event] = events_after(before)
    assert event.action == "extend_access_deadline"
    assert event.details["reason_given"] is True
    assert event.details["due_on"] == dr.due_on.isoformat()
    assert "CANARYMOTIF" not in str(event.details)


def test_the_deadline_can_be_extended_on_its_last_day(personas):
    dr = open_access_request(personas, due_in_days=0)

    services.extend_access_deadline(dr, actor=personas["dg"], reason="Motif")

    assert reread(dr).deadline_extended_at is not None


def snapshot(dr):
    dr = reread(dr)
    return (
        dr.due_on,
        dr.deadline_extended_at,
        dr.deadline_extension_reason,
        AuditEvent.objects.filter(action="extend_access_deadline").count(),
    )


def test_a_second_extension_is_refused_and_changes_nothing(personas):
    dr = open_access_request(personas)
    services.extend_access_deadline(dr, actor=personas["dg"], reason="Premier motif")
    before = snapshot(dr)

    with pytest.raises(services.ActionRefused) as refused:
        services.extend_access_deadline(reread(dr), actor=personas["dpo"], reason="Second")

    assert refused.value.cause == "already_extended"
    assert refused.value.message == (
        "Le délai a déjà été prolongé une fois : il ne peut plus l'être."
    )
    assert snapshot(dr) == before


def test_an_extension_after_the_deadline_is_refused_and_changes_nothing(personas):
    dr = open_access_request(personas, due_in_days=-1)
    before = snapshot(dr)
    seq = last_seq()

    with pytest.raises(services.ActionRefused) as refused:
        services.extend_access_deadline(dr, actor=personas["dg"], reason="Trop tard")

    assert refused.value.cause == "deadline_passed"
    assert "Le délai est dépassé" in refused.value.message
    assert snapshot(dr) == before
    # A refusal of the procedure is a security event: the attempt, no reason.
    [event] = events_after(seq)
    assert (event.action, event.details["cause"]) == ("refused", "deadline_passed")


def test_an_extension_without_a_reason_is_refused_and_changes_nothing(personas):
    dr = open_access_request(personas)
    before = snapshot(dr)

    with pytest.raises(services.ActionRefused) as refused:
        services.extend_access_deadline(dr, actor=personas["dg"], reason="   ")

    assert refused.value.cause == "invalid_extension"
    assert snapshot(dr) == before


@pytest.mark.parametrize("role", ["secretariat", "president", "referent", "auditor"])
def test_only_the_dg_or_the_dpo_may_extend(personas, role):
    dr = open_access_request(personas)
    before = snapshot(dr)

    with pytest.raises(services.NotAllowed):
        services.extend_access_deadline(dr, actor=personas[role], reason="Motif")

    assert snapshot(dr) == before


def test_a_request_to_lift_the_secret_has_no_extension(flow, personas):
    dr = flow.received()

    with pytest.raises(services.ActionRefused):
        services.extend_access_deadline(dr, actor=personas["dg"], reason="Motif")

    assert reread(dr).deadline_extended_at is None


def test_the_dg_extends_through_the_page(client, personas):
    dr = open_access_request(personas)
    client.force_login(personas["dg"])
    url = reverse("requests_app:extend_deadline", args=[dr.pk])

    page = client.get(url)
    empty = client.post(url, {"reason": ""})
    done = client.post(url, {"reason": "Demande complexe"})
    again = client.get(url)

    assert page.status_code == 200
    assert empty.status_code == 400
    assert done.status_code == 302
    assert reread(dr).deadline_extension_reason == "Demande complexe"
    assert again.status_code == 403


# ---------------------------------------------------------------------------
# The reply: categories, purposes, recipients; third parties and what the law
# keeps secret from the person left out; two signatures; dispatch


def disclosed_about_the_person(flow):
    """A disclosure to an investigating judge about the person and a third party."""
    return flow.dispatched(
        persons=[
            PersonData(CANARY_NAME, CANARY_FIRST, birth_date=BIRTH, national_number=CANARY_NISS),
            PersonData("TIERSNOM", "Tiersprénom", birth_date=date(1990, 2, 2)),
        ]
    )


def secret_request_about_the_person(flow, personas):
    """A prosecutor's request under the secret basis, with an opinion on it."""
    secret = basis(SECRET_BASIS)
    assert Feature.ADMINISTRATIVE_ONLY in secret.features
    dr = flow.assigned(
        requester_kind="public_prosecutor",
        requester_name="Procureur CANARYPROCUREUR",
        requester_organisation="Parquet CANARYPARQUET",
        cited_provision="Réquisition",
        documents=["prosecutor_decision"],
    )
    services.submit_opinion(
        dr,
        actor=personas["referent"],
        legal_bases=[secret],
        proposal="refuse",
        reasoning="Motivation",
        items=[],
        checklist=answer_all([secret]),
    )
    return dr


def test_the_whole_access_path_reaches_a_signed_dispatched_letter(flow, personas):
    disclosed = disclosed_about_the_person(flow)
    secret = secret_request_about_the_person(flow, personas)
    # Named only in the cited provision: kept secret too.
    cited = flow.received(
        requester_kind="public_prosecutor",
        requester_organisation="Parquet CANARYCITE",
        cited_provision="Art. 46bis/1 du Code d'instruction criminelle",
        documents=["prosecutor_decision"],
    )
    dr = register_access(personas["secretariat"])
    before = last_seq()

    reply = services.prepare_access_reply(reread(dr), actor=personas["dg"])

    dr = reread(dr)
    assert dr.state == State.AWAITING_SIGNATURES
    assert reply.kind == ReplyKind.ACCESS
    assert dr.access_withheld_request_ids == sorted([secret.pk, cited.pk])
    body = reply.body
    # The categories held, the purposes, the recipients.
    assert "Identification" in body
    assert "Adresse" in body
    assert "Aides octroyées et montants" in body
    assert "aux fins suivantes" in body
    assert (
        "Juge d'instruction, Tribunal de première instance — Adresse, Aides octroyées et "
        "montants" in body
    )
    # Nothing about third parties: no other person, no description, no
    # requester's name; nothing of what the law keeps secret from the person.
    for absent in (
        "TIERSNOM",
        "CANARYITEM",
        "CANARYJUGE",
        "CANARYPROCUREUR",
        "CANARYPARQUET",
        "CANARYCITE",
        "46bis",
        "secret à l'égard",
    ):
        assert absent not in body
    assert "ne figurent pas dans cette réponse" in body
    # The law comes from the catalogue.
    assert list(reply.legal_bases.values_list("code", flat=True)) == ["gdpr-art-15"]
    [event] = events_after(before)
    assert event.action == "prepare_access_reply"
    assert event.details["withheld"] == 2
    assert event.details["withheld_request_ids"] == sorted([secret.pk, cited.pk])
    assert event.details["recipients"] == 1  # one letter, two categories
    assert event.details["reply_id"] == reply.pk
    assert CANARY_NAME not in str(event.details)

    services.sign_reply(dr, actor=personas["dg"], otp=fresh_otp(personas["dg"]))
    services.sign_reply(
        reread(dr), actor=personas["president"], otp=fresh_otp(personas["president"])
    )
    assert reread(dr).state == State.SIGNED
    services.record_dispatch(
        reread(dr),
        actor=personas["secretariat"],
        dispatched_on=timezone.localdate(),
        channel="post",
    )
    services.close(reread(dr), actor=personas["secretariat"])

    dr = reread(dr)
    assert dr.state == State.CLOSED
    assert {s.capacity for s in dr.reply.signatures.all()} == {"director_general", "president"}
    assert disclosed.pk not in dr.access_withheld_request_ids


def test_the_letter_reads_the_same_whether_or_not_something_is_withheld(flow, personas):
    first = register_access(personas["secretariat"])
    without = services.prepare_access_reply(reread(first), actor=personas["dg"]).body
    secret_request_about_the_person(flow, personas)
    second = register_access(personas["secretariat"])

    with_withheld = services.prepare_access_reply(reread(second), actor=personas["dg"]).body

    assert reread(second).access_withheld_request_ids != []
    assert with_withheld.replace(second.reference, first.reference) == without


def test_only_the_dg_prepares_the_access_reply(personas):
    dr = register_access(personas["secretariat"])

    for role in ("president", "secretariat", "referent", "dpo"):
        with pytest.raises(services.NotAllowed):
            services.prepare_access_reply(reread(dr), actor=personas[role])

    assert reread(dr).state == State.AWAITING_ACCESS_REPLY
    assert not reread(dr).replies.exists()


def test_a_declined_access_reply_goes_back_to_the_dg(personas):
    dr = register_access(personas["secretariat"])
    services.prepare_access_reply(reread(dr), actor=personas["dg"])

    services.decline_to_sign(reread(dr), actor=personas["president"], remarks="À revoir")

    assert reread(dr).state == State.AWAITING_ACCESS_REPLY
    again = services.prepare_access_reply(reread(dr), actor=personas["dg"])
    assert reread(dr).reply == again


def test_the_dg_sees_what_is_withheld_and_prepares_the_reply_through_the_pages(
    client, flow, personas
):
    secret = secret_request_about_the_person(flow, personas)
    dr = register_access(personas["secretariat"])
    client.force_login(personas["dg"])

    detail = html.unescape(client.get(dr.get_absolute_url()).content.decode())
    page = html.unescape(
        client.get(reverse("requests_app:access_reply", args=[dr.pk])).content.decode()
    )
    done = client.post(reverse("requests_app:access_reply", args=[dr.pk]))
    after = html.unescape(client.get(dr.get_absolute_url()).content.decode())

    assert "Préparer la réponse à la demande d'accès" in detail
    assert "Carte d'identité présentée au guichet" in detail
    assert secret.reference in page
    assert done.status_code == 302
    assert reread(dr).state == State.AWAITING_SIGNATURES
    assert "La réponse a écarté 1 demande que la loi tient secrète" in after
    assert secret.reference in after
    # The President, who signs, is not shown what the DG keeps.
    client.force_login(personas["president"])
    president = html.unescape(client.get(dr.get_absolute_url()).content.decode())
    assert "La réponse a écarté" not in president


def test_the_access_reply_page_is_the_dgs_alone(client, personas):
    dr = register_access(personas["secretariat"])

    url = reverse("requests_app:access_reply", args=[dr.pk])
    # The President sees the request: not their step. The others do not see
    # its content (the secretariat, a referent not assigned): not found.
    for role, status in (("president", 403), ("secretariat", 404), ("referent", 404)):
        client.force_login(personas[role])
        assert client.post(url).status_code == status
        assert client.get(url).status_code == status
    assert reread(dr).state == State.AWAITING_ACCESS_REPLY


@pytest.mark.real_letters
def test_the_access_letter_as_the_person_reads_it(flow, personas):
    disclosed_about_the_person(flow)
    dr = register_access(personas["secretariat"])

    reply = services.prepare_access_reply(reread(dr), actor=personas["dg"])

    pdf = ReplyDocument.objects.get(reply=reply).read()
    text = pdf_text(pdf)
    assert "Accès à vos données à caractère personnel" in text
    assert "Article 15 du règlement (UE) 2016/679" in text  # the catalogue's letter citation
    assert "Juge d'instruction, Tribunal de première instance" in text
    assert "TIERSNOM" not in text
    with open("/tmp/h1_access_letter.pdf", "wb") as out:
        out.write(pdf)


def test_the_api_takes_the_access_path(personas):
    from tests.requests_app.test_api import api_for

    dr = open_access_request(personas)
    dg = api_for(personas["dg"])

    extended = dg.post(
        reverse("api:request-extend-deadline", args=[dr.pk]), {"reason": ""}, format="json"
    )
    assert extended.status_code == 400
    assert extended.json()["code"] == "invalid_extension"
    extended = dg.post(
        reverse("api:request-extend-deadline", args=[dr.pk]), {"reason": "Motif"}, format="json"
    )
    assert extended.status_code == 200, extended.content
    assert (
        extended.json()["due_on"] == deadlines.extended_access_due_date(dr.received_on).isoformat()
    )
    assert extended.json()["kind"] == "subject_access"
    refused = api_for(personas["president"]).post(
        reverse("api:request-access-reply", args=[dr.pk]), {}, format="json"
    )
    assert refused.status_code == 403
    prepared = dg.post(reverse("api:request-access-reply", args=[dr.pk]), {}, format="json")
    assert prepared.status_code == 200, prepared.content
    assert prepared.json()["state"] == State.AWAITING_SIGNATURES
    assert prepared.json()["reply"]["kind"] == ReplyKind.ACCESS
    assert prepared.json()["withheld_request_ids"] == []


def test_an_access_letter_that_cannot_be_drawn_refuses_the_step_and_changes_nothing(
    personas, monkeypatch
):
    dr = register_access(personas["secretariat"])
    known = tuple(kind for kind in rendering.LETTER_KINDS if kind != ReplyKind.ACCESS)
    monkeypatch.setattr(rendering, "LETTER_KINDS", known)
    before = last_seq()

    with pytest.raises(services.ActionRefused) as refused:
        services.prepare_access_reply(reread(dr), actor=personas["dg"])

    assert (refused.value.cause, refused.value.http_status) == ("letter_rendering_failed", 503)
    assert reread(dr).state == State.AWAITING_ACCESS_REPLY
    assert not reread(dr).replies.exists()
    assert [e.action for e in events_after(before)] == ["refused"]


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        # The DG's steps: a signed-in user who sees the request but whose step it
        # is not gets 403; one who does not see it (or not its content) gets 404.
        (
            "requests_app:access_reply",
            {"president": 403, "secretariat": 404, "referent": 404, "auditor": 404, "dpo": 404},
        ),
        (
            "requests_app:extend_deadline",
            {"president": 403, "secretariat": 403, "referent": 404, "auditor": 404, "dpo": 404},
        ),
    ],
)
def test_the_access_pages_refuse_everyone_but_the_dg(client, personas, route, expected):
    dr = open_access_request(personas)
    url = reverse(route, args=[dr.pk])

    for role, status in expected.items():
        client.force_login(personas[role])
        assert (role, client.get(url).status_code) == (role, status)
        assert (role, client.post(url, {"reason": "x"}).status_code) == (role, status)

    client.force_login(personas["dg"])
    assert client.get(url).status_code == 200
    dr = reread(dr)
    assert (dr.state, dr.deadline_extended_at) == (State.AWAITING_ACCESS_REPLY, None)


def test_the_access_reply_is_signed_through_the_usual_pages(client, personas):
    dr = register_access(personas["secretariat"])
    services.prepare_access_reply(reread(dr), actor=personas["dg"])

    client.force_login(personas["president"])
    sign_page = client.get(reverse("requests_app:sign", args=[dr.pk]))
    client.force_login(personas["dg"])
    summary = client.get(reverse("requests_app:summary", args=[dr.pk]))
    client.force_login(personas["secretariat"])
    register_page = html.unescape(client.get(dr.get_absolute_url()).content.decode())

    assert sign_page.status_code == 200
    assert "Réponse à une demande d'accès" in html.unescape(sign_page.content.decode())
    assert summary.status_code == 200
    assert register_page.count("Demande d'accès de la personne concernée") == 1
    # The secretariat sees the register (the requester is the person, named
    # there as every requester), not the content nor the unsigned letter.
    assert "Catégories de données à caractère personnel vous concernant" not in register_page
    assert "Quelles données détenez-vous sur moi ?" not in register_page
