"""The retention schedule (issue 16): past retention, a request keeps its
reference, dates, codes and outcome, and nothing that names a person — in
any table of the database, in any file of the private storage — unless a
legal hold keeps it whole. The run is on the audit trail, which still
verifies; a dry run changes nothing; a second run has nothing left to do.
"""

from __future__ import annotations

import io
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, models
from django.utils import timezone
from pypdf import PdfWriter

from audit.models import AuditEvent
from dpo import retention
from dpo.models import LegalHold, RetentionRule
from letters.models import DocumentValidation, ReplyDocument
from requests_app import services
from requests_app.errors import ActionRefused, NotAllowed
from requests_app.inputs import PersonData
from requests_app.models import (
    OPEN_STATES,
    ChecklistAnswer,
    ConcernedPerson,
    DisclosureRequest,
    Opinion,
    OpinionItem,
    RegistrationCorrection,
    Reply,
    ReplyItem,
    Review,
    SignatureDecline,
    State,
)
from requests_app.queries import ANSWERED_STATES, Outcome, with_outcome
from tests.conftest import Flow, fresh_otp, intake, make_user

pytestmark = pytest.mark.django_db

GONE = "CANARYGONE"
GONE_WITHDRAWN = "CANARYWDRAWN"
KEPT = "CANARYKEPT"
RECENT = "CANARYRECENT"
# Valid national numbers (check digits 97 - n % 97), one per request.
NISS = {GONE: "85010100115", KEPT: "85010100214", GONE_WITHDRAWN: "85010100313"}


# ---------------------------------------------------------------------------
# Test data: requests carrying their own canary everywhere a person can hide


def canary_pdf(tag: str) -> bytes:
    """A scanned letter (a PDF the intake accepts) with `tag` in its bytes."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": f"{tag} scan", "/Author": f"{tag}SCAN"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def canary_intake(tag: str, **overrides):
    values = {
        "requester_name": f"Juge {tag}JUGE",
        "requester_organisation": f"Cabinet {tag}ORG",
        "requester_address": f"Rue {tag}RUE 1, 5000 Namur",
        "requester_reference": f"{tag}REF",
        "cited_provision": "Art. 87 et 88 du Code d'instruction criminelle",
        "information_requested": f"{tag}INFO adresse et aide perçue",
        "persons": [
            PersonData(
                last_name=f"{tag}NOM",
                first_names=f"{tag}PRENOM",
                birth_date=date(1985, 1, 1),
                national_number=NISS.get(tag, ""),
                cpas_file_number=f"{tag}DOSSIER",
            )
        ],
    }
    values.update(overrides)
    return intake(**values)


def registered(flow: Flow, tag: str, **overrides) -> DisclosureRequest:
    data = canary_intake(tag, **overrides)
    scan = SimpleUploadedFile("lettre.pdf", canary_pdf(tag), content_type="application/pdf")
    return services.register_request(
        data, actor=flow.p["secretariat"], scan=scan, scan_content_type="application/pdf"
    )


def plant(dr: DisclosureRequest, tag: str) -> None:
    """The free texts of the request's records, each with the request's canary."""
    Opinion.objects.filter(request=dr).update(
        reasoning=f"{tag}MOTIF",
        override_reason=f"{tag}OVERRIDE",
        legal_analysis=f"{tag}ANALYSE",
    )
    ChecklistAnswer.objects.filter(opinion__request=dr).update(note=f"{tag}NOTE")
    OpinionItem.objects.filter(opinion__request=dr).update(
        description=f"{tag}ITEM", necessity=f"{tag}NECESSITE"
    )
    Review.objects.filter(request=dr).update(
        remarks=f"{tag}REMARQUE",
        override_reason=f"{tag}REVOVERRIDE",
        legal_analysis=f"{tag}REVANALYSE",
    )
    Reply.objects.filter(request=dr).update(body=f"{tag}CORPS", dg_paragraph=f"{tag}PARAGRAPHE")
    ReplyItem.objects.filter(reply__request=dr).update(description=f"{tag}REPLYITEM")
    RegistrationCorrection.objects.create(
        request=dr,
        corrected_by=dr.registered_by,
        reason=f"{tag}CORRECTION",
        fields=["persons"],
        previous_values={"persons": [{"last_name": f"{tag}ANCIEN"}]},
    )


def closed_with_everything(flow: Flow, tag: str) -> DisclosureRequest:
    """Closed after a declined signature, with every text of the procedure."""
    p = flow.p
    dr = registered(flow, tag)
    services.assign_referent(dr, actor=p["president"], referent=p["referent"])
    from tests.conftest import opinion_kwargs

    services.submit_opinion(dr, actor=p["referent"], **opinion_kwargs())
    services.approve(dr, actor=p["dg"])
    services.decline_to_sign(
        dr, actor=p["president"], remarks=f"{tag}REFUS de signer pour le moment"
    )
    services.approve(dr, actor=p["dg"])
    services.sign_reply(dr, actor=p["dg"], otp=fresh_otp(p["dg"]))
    services.sign_reply(dr, actor=p["president"], otp=fresh_otp(p["president"]))
    services.record_dispatch(
        dr,
        actor=p["secretariat"],
        dispatched_on=timezone.localdate(),
        channel="registered_post",
        registered_mail_number="RR123456789BE",
    )
    services.close(dr, actor=p["secretariat"])
    plant(dr, tag)
    return DisclosureRequest.objects.get(pk=dr.pk)


def withdrawn(flow: Flow, tag: str) -> DisclosureRequest:
    dr = registered(flow, tag)
    services.assign_referent(dr, actor=flow.p["president"], referent=flow.p["referent"])
    services.withdraw(dr, actor=flow.p["secretariat"], reason="withdrawn_in_writing")
    return DisclosureRequest.objects.get(pk=dr.pk)


def age(dr: DisclosureRequest, years: int, days: int = 1) -> None:
    """Move the request's dates `years` (and `days`) into the past."""
    shift = timedelta(days=365 * years + years // 4 + days)
    current = DisclosureRequest.objects.get(pk=dr.pk)
    DisclosureRequest.objects.filter(pk=dr.pk).update(
        received_on=current.received_on - shift,
        dispatched_on=current.dispatched_on - shift if current.dispatched_on else None,
        closed_at=current.closed_at - shift if current.closed_at else None,
    )


# ---------------------------------------------------------------------------
# The searches: every table, every file


def text_columns() -> list[tuple[str, str]]:
    """Every text, varchar, char and json column of every table of the database."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.table_name, c.column_name
            FROM information_schema.columns c
            JOIN information_schema.tables t
              ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
              AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')
            ORDER BY 1, 2
            """
        )
        return list(cursor.fetchall())


def database_hits(needle: str) -> list[str]:
    """table.column of every cell holding `needle` (case-insensitive)."""
    hits = []
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, column in text_columns():
            cursor.execute(
                f"SELECT count(*) FROM {qn(table)} WHERE {qn(column)}::text ILIKE %s",
                [f"%{needle}%"],
            )
            if cursor.fetchone()[0]:
                hits.append(f"{table}.{column}")
    return hits


def storage_files() -> dict[str, bytes]:
    root = Path(settings.PRIVATE_STORAGE_ROOT)
    found = {}
    for directory, _, files in os.walk(root):
        for filename in files:
            path = Path(directory) / filename
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def storage_hits(needle: str) -> list[str]:
    return [name for name, data in storage_files().items() if needle.encode() in data]


def database_fingerprint() -> dict[str, str]:
    """An md5 of every row of every table: equal fingerprints, same data."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        )
        tables = [row[0] for row in cursor.fetchall()]
        prints = {}
        for table in tables:
            cursor.execute(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f"FROM {qn(table)} t"
            )
            prints[table] = cursor.fetchone()[0]
    return prints


def verify_audit() -> str:
    out = io.StringIO()
    call_command("verify_audit", "--no-status", stdout=out, stderr=out)
    return out.getvalue()


def run(capture, **kwargs) -> retention.RetentionResult:
    with capture(execute=True):
        return retention.apply_retention(**kwargs)


@pytest.fixture
def world(flow, dg):
    """A closed request and a withdrawn one past retention, a held one past
    retention, a recent closed one and an open one."""
    gone = closed_with_everything(flow, GONE)
    # A hold placed and lifted earlier: its reasons are texts of the request.
    hold = retention.place_hold(gone, actor=dg, reason=f"{GONE}GEL plainte")
    retention.lift_hold(hold, actor=dg, reason=f"{GONE}LEVEE classement")
    age(gone, 10)
    gone_withdrawn = withdrawn(flow, GONE_WITHDRAWN)
    age(gone_withdrawn, 5)
    kept = closed_with_everything(flow, KEPT)
    age(kept, 12)
    retention.place_hold(kept, actor=dg, reason=f"{KEPT}GEL litige en cours")
    recent = closed_with_everything(flow, RECENT)
    age(recent, 9, days=-30)
    still_open = flow.assigned()
    return {
        "gone": gone,
        "gone_withdrawn": gone_withdrawn,
        "kept": kept,
        "recent": recent,
        "open": still_open,
    }


def letter_files(dr: DisclosureRequest) -> list[str]:
    return list(ReplyDocument.objects.filter(reply__request=dr).values_list("file", flat=True))


# ---------------------------------------------------------------------------
# The run


def test_the_run_removes_every_trace_of_the_persons_and_spares_the_held(
    world, django_capture_on_commit_callbacks
):
    gone, kept = world["gone"], world["kept"]
    gone_files = [gone.scan.name, *letter_files(gone)]
    kept_files = [kept.scan.name, *letter_files(kept)]
    assert len(gone_files) == 3  # the scan, the letter and the acknowledgement or decline
    for tag in (GONE, GONE_WITHDRAWN, KEPT, RECENT):
        assert database_hits(tag), tag
        assert storage_hits(tag), tag
    assert DocumentValidation.objects.filter(document__reply__request=gone).exists()
    before = AuditEvent.objects.count()

    result = run(django_capture_on_commit_callbacks)

    assert result.requests == 2
    assert result.persons == 2
    assert result.scans == 2
    assert result.letters == len(gone_files) - 1
    assert result.held == 1
    assert result.files_not_deleted == 0
    assert sorted(result.references) == sorted([gone.reference, world["gone_withdrawn"].reference])
    for tag in (GONE, GONE_WITHDRAWN):
        assert database_hits(tag) == [], tag
        assert storage_hits(tag) == [], tag
    root = Path(settings.PRIVATE_STORAGE_ROOT)
    assert not any((root / name).exists() for name in gone_files)
    # The held request and the recent one keep everything.
    assert all((root / name).exists() for name in kept_files)
    for tag in (KEPT, RECENT):
        hits = database_hits(tag)
        for table in ("requests_app_concernedperson", "requests_app_disclosurerequest"):
            assert any(hit.startswith(f"{table}.") for hit in hits), (tag, hits)
        assert "dpo_legalhold.reason" in database_hits(KEPT)
        assert storage_hits(tag), tag
    assert ConcernedPerson.objects.filter(request=world["open"]).exists()
    # What the statistics count stays.
    assert gone.pk not in [d.pk for d in retention.due_requests()]
    gone_after = DisclosureRequest.objects.get(pk=gone.pk)
    assert gone_after.reference == gone.reference
    assert gone_after.received_on == gone.received_on - timedelta(days=365 * 10 + 2 + 1)
    assert gone_after.closed_at is not None
    assert gone_after.dispatched_on is not None
    assert gone_after.requester_kind == gone.requester_kind
    assert gone_after.state == gone.state
    assert gone_after.scan.name == ""
    assert gone_after.personal_data_removed_at is not None
    assert gone_after.documents == gone.documents
    assert not ConcernedPerson.objects.filter(request=gone).exists()
    assert not ReplyDocument.objects.filter(reply__request=gone).exists()
    outcome = (
        with_outcome(DisclosureRequest.objects.filter(pk=gone.pk))
        .values_list(*("outcome",), flat=True)
        .get()
    )
    assert outcome == Outcome.DISCLOSED
    reply = gone_after.current_reply()
    assert reply is not None
    assert reply.legal_bases.exists()
    assert list(ReplyItem.objects.filter(reply=reply).values_list("data_category", flat=True))
    # Texts that must stay non-blank read as removed.
    assert set(
        SignatureDecline.objects.filter(reply__request=gone).values_list("remarks", flat=True)
    ) == {retention.REMOVED}
    correction = RegistrationCorrection.objects.get(request=gone)
    assert (correction.reason, correction.previous_values, correction.fields) == (
        retention.REMOVED,
        {},
        ["persons"],
    )
    # The run and each removal are on the trail, with codes and counts only.
    events = list(AuditEvent.objects.filter(seq__gt=before).order_by("seq"))
    assert [e.action for e in events] == ["retention_remove", "retention_remove", "retention_run"]
    assert events[-1].details["requests"] == 2
    assert events[-1].details["held"] == 1
    assert events[-1].details["rules"][Outcome.DISCLOSED] == 10
    removed = {e.object_id: e.details for e in events[:2]}
    assert removed[str(gone.pk)]["request_outcome"] == Outcome.DISCLOSED
    assert removed[str(gone.pk)]["persons"] == 1
    assert removed[str(gone.pk)]["scan"] is True
    # verify_audit raises CommandError when the chain is broken.
    verify_audit()


def test_batches_remove_the_same_and_the_trail_verifies(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(retention, "BATCH", 1)
    before = AuditEvent.objects.count()

    result = run(django_capture_on_commit_callbacks)

    assert (result.requests, result.held) == (2, 1)
    assert database_hits(GONE) == []
    assert database_hits(GONE_WITHDRAWN) == []
    assert storage_hits(GONE) == []
    actions = list(
        AuditEvent.objects.filter(seq__gt=before).order_by("seq").values_list("action", flat=True)
    )
    assert actions == ["retention_remove", "retention_remove", "retention_run"]
    verify_audit()


def test_the_audit_trail_never_held_the_canaries(world, django_capture_on_commit_callbacks):
    run(django_capture_on_commit_callbacks)
    for tag in (GONE, GONE_WITHDRAWN, KEPT, RECENT, "CANARY"):
        assert not [hit for hit in database_hits(tag) if hit.startswith("requests_app_audit")], tag


def test_the_trail_verifies_after_the_run(world, django_capture_on_commit_callbacks):
    run(django_capture_on_commit_callbacks)
    run(django_capture_on_commit_callbacks)

    # verify_audit raises CommandError when the chain is broken.
    verify_audit()


def test_a_dry_run_changes_nothing(world, django_capture_on_commit_callbacks):
    fingerprint = database_fingerprint()
    files = storage_files()
    events = AuditEvent.objects.count()

    result = run(django_capture_on_commit_callbacks, dry_run=True)

    assert result.dry_run
    assert sorted(result.references) == sorted(
        [world["gone"].reference, world["gone_withdrawn"].reference]
    )
    assert (result.requests, result.persons, result.scans, result.held) == (2, 2, 2, 1)
    assert database_fingerprint() == fingerprint
    assert storage_files() == files
    assert AuditEvent.objects.count() == events


def test_the_command_dry_run_lists_references_only(world, django_capture_on_commit_callbacks):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("apply_retention", "--dry-run", stdout=out)
    text = out.getvalue()

    assert f"due {world['gone'].reference}" in text
    assert world["kept"].reference not in text
    assert "CANARY" not in text
    assert DisclosureRequest.objects.get(pk=world["gone"].pk).personal_data_removed_at is None


def test_a_second_run_has_nothing_to_do_and_says_so(world, django_capture_on_commit_callbacks):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("apply_retention", stdout=out)
    assert f"removed {world['gone'].reference}" in out.getvalue()
    fingerprint = {
        table: value
        for table, value in database_fingerprint().items()
        if not table.startswith("requests_app_audit")
    }
    files = storage_files()

    second = run(django_capture_on_commit_callbacks)

    assert (second.requests, second.persons, second.scans, second.letters) == (0, 0, 0, 0)
    assert second.held == 1
    assert {
        table: value
        for table, value in database_fingerprint().items()
        if not table.startswith("requests_app_audit")
    } == fingerprint
    assert storage_files() == files
    last = AuditEvent.objects.latest("seq")
    assert last.action == "retention_run"
    assert last.details["requests"] == 0
    assert last.actor_id is None


def test_lifting_the_hold_lets_the_next_run_remove(world, dpo, django_capture_on_commit_callbacks):
    run(django_capture_on_commit_callbacks)
    hold = LegalHold.objects.active().get(request=world["kept"])

    retention.lift_hold(hold, actor=dpo, reason=f"{KEPT}LEVEE fin du litige")
    result = run(django_capture_on_commit_callbacks)

    assert result.references == [world["kept"].reference]
    assert database_hits(KEPT) == []
    assert storage_hits(KEPT) == []


def test_a_request_with_an_open_follow_up_is_kept(flow, django_capture_on_commit_callbacks):
    earlier = withdrawn(flow, GONE_WITHDRAWN)
    age(earlier, 6)
    data = canary_intake(RECENT)
    services.register_request(
        data,
        actor=flow.p["secretariat"],
        scan=SimpleUploadedFile("l.pdf", canary_pdf(RECENT), content_type="application/pdf"),
        scan_content_type="application/pdf",
        follows=earlier,
    )

    assert run(django_capture_on_commit_callbacks).requests == 0
    assert database_hits(GONE_WITHDRAWN)


def test_the_administrators_rule_sets_the_period(flow, django_capture_on_commit_callbacks):
    dr = withdrawn(flow, GONE_WITHDRAWN)
    age(dr, 3)
    assert run(django_capture_on_commit_callbacks).requests == 0

    RetentionRule.objects.update_or_create(outcome=Outcome.WITHDRAWN, defaults={"years": 2})
    result = run(django_capture_on_commit_callbacks)

    assert result.references == [dr.reference]
    rules = AuditEvent.objects.latest("seq").details["rules"]
    assert rules[Outcome.WITHDRAWN] == 2


def test_the_age_counts_from_the_end_of_the_request():
    assert retention.years_before(date(2028, 2, 29), 10) == date(2018, 2, 28)
    assert retention.due_on(date(2016, 2, 29), 10) == date(2026, 3, 1)
    assert retention.due_on(date(2016, 3, 10), 10) == date(2026, 3, 10)


def test_every_state_that_ends_a_request_has_a_rule():
    """A request in a state the run does not look at would be kept forever."""
    ending = {s for s in State} - {*OPEN_STATES, State.RECEIVED}
    covered = {*ANSWERED_STATES, *retention.STATE_OUTCOMES}
    assert ending - covered == set()
    assert set(retention.STATE_OUTCOMES.values()) | {Outcome.DISCLOSED} <= {
        row.outcome for row in retention.schedule()
    }


def test_every_record_pointing_at_a_request_is_decided():
    """A model added later that holds a request's data must be scrubbed,
    deleted, or said to hold none here: this test fails until it is."""
    holds_no_personal_data = {
        "requests_app.disclosurerequestuserobjectpermission",
        "requests_app.disclosurerequestgroupobjectpermission",
    }
    decided = {
        m._meta.label_lower for m in (*retention.SCRUBBED_MODELS, *retention.DELETED_MODELS)
    } | holds_no_personal_data
    roots = {DisclosureRequest, ConcernedPerson, Opinion, Review, Reply, ReplyDocument}
    undecided = [
        model._meta.label_lower
        for model in apps.get_models()
        if any(
            isinstance(f, models.ForeignKey | models.OneToOneField) and f.related_model in roots
            for f in model._meta.concrete_fields
        )
        and model._meta.label_lower not in decided
    ]
    assert undecided == []


# ---------------------------------------------------------------------------
# Legal holds


def test_a_hold_is_audited_without_its_reason(dpo, flow):
    dr = flow.closed()

    hold = retention.place_hold(dr, actor=dpo, reason="CANARYHOLDREASON plainte")
    placed = AuditEvent.objects.latest("seq")
    retention.lift_hold(hold, actor=dpo, reason="CANARYLIFTREASON classée")
    lifted = AuditEvent.objects.latest("seq")

    assert (placed.action, placed.object_id, placed.details) == (
        "place_legal_hold",
        str(dr.pk),
        {"hold_id": hold.pk},
    )
    assert (lifted.action, lifted.details) == ("lift_legal_hold", {"hold_id": hold.pk})
    assert not [h for h in database_hits("CANARYHOLDREASON") if "audit" in h]
    assert not [h for h in database_hits("CANARYLIFTREASON") if "audit" in h]


def test_a_hold_is_refused_twice_and_after_removal(dpo, flow, django_capture_on_commit_callbacks):
    dr = flow.closed()
    retention.place_hold(dr, actor=dpo, reason="litige")
    with pytest.raises(ActionRefused) as twice:
        retention.place_hold(dr, actor=dpo, reason="encore")
    assert twice.value.cause == "already_held"
    assert AuditEvent.objects.latest("seq").action == "refused"

    other = flow.closed()
    age(other, 11)
    run(django_capture_on_commit_callbacks)
    with pytest.raises(ActionRefused) as removed:
        retention.place_hold(other, actor=dpo, reason="trop tard")
    assert removed.value.cause == "already_removed"
    assert LegalHold.objects.filter(request=other).count() == 0


def test_only_the_dpo_and_the_dg_place_holds(flow, personas):
    dr = flow.closed()
    for name in ("secretariat", "president", "referent", "auditor", "outsider"):
        with pytest.raises(NotAllowed):
            retention.place_hold(dr, actor=personas[name], reason="x")
    assert not LegalHold.objects.exists()


# ---------------------------------------------------------------------------
# The pages

REPORT = "/conservation/"
HOLD = "/conservation/gel/"


@pytest.mark.parametrize("name", ["secretariat", "president", "referent", "auditor", "outsider"])
def test_others_get_403(client, personas, name, dpo, flow):
    dr = flow.closed()
    hold = retention.place_hold(dr, actor=dpo, reason="litige")
    client.force_login(personas[name])

    assert client.get(REPORT).status_code == 403
    assert client.get(HOLD).status_code == 403
    assert client.post(HOLD, {"reference": dr.reference, "reason": "x"}).status_code == 403
    lift = f"/conservation/gel/{hold.pk}/lever/"
    assert client.get(lift).status_code == 403
    assert client.post(lift, {"reason": "x"}).status_code == 403
    assert LegalHold.objects.active().get() == hold


@pytest.mark.parametrize("name", ["dpo", "dg"])
def test_the_report_shows_schedule_due_holds_and_runs(
    client, personas, name, world, django_capture_on_commit_callbacks
):
    run(django_capture_on_commit_callbacks)
    age(world["recent"], 1, days=60)
    client.force_login(personas[name])

    response = client.get(REPORT)

    assert response.status_code == 200
    page = response.content.decode()
    assert world["recent"].reference in page  # due now
    assert world["kept"].reference in page  # held
    assert f"{KEPT}GEL litige en cours" in page  # the hold's reason, for those who hold
    assert world["open"].reference not in page
    for leak in (f"{RECENT}NOM", f"{KEPT}NOM", f"{RECENT}INFO", "CANARYNOM"):
        assert leak not in page
    assert "Communiqué" in page  # the outcome of the request due
    runs = response.context["runs"]
    assert runs
    assert runs[0].requests == 2
    assert [row.years for row in response.context["schedule"]][:1]


def test_the_dpo_places_and_the_dg_lifts_a_hold_through_the_pages(client, dpo, dg, flow):
    dr = flow.closed()
    client.force_login(dpo)

    response = client.post(HOLD, {"reference": dr.reference.lower(), "reason": "Plainte CANARYP"})

    assert response.status_code == 302
    hold = LegalHold.objects.active().get(request=dr)
    assert hold.placed_by == dpo
    assert hold.reason == "Plainte CANARYP"
    assert "CANARYP" not in str(AuditEvent.objects.latest("seq").details)

    client.force_login(dg)
    lift = f"/conservation/gel/{hold.pk}/lever/"
    assert client.get(lift).status_code == 200
    response = client.post(lift, {"reason": "Classée sans suite"})

    assert response.status_code == 302
    hold.refresh_from_db()
    assert hold.lifted_by == dg
    assert hold.lift_reason == "Classée sans suite"
    again = client.post(lift, {"reason": "encore"})
    assert again.status_code == 409


def test_bad_input_changes_nothing(client, dpo, flow):
    dr = flow.closed()
    client.force_login(dpo)
    events = AuditEvent.objects.count()

    unknown = client.post(HOLD, {"reference": "SP-1999-0001", "reason": "x"})
    blank = client.post(HOLD, {"reference": dr.reference, "reason": "   "})

    assert unknown.status_code == 400
    assert "Aucune demande ne porte cette référence" in unknown.content.decode() or (
        "No request has this reference" in unknown.content.decode()
    )
    assert blank.status_code == 400
    assert not LegalHold.objects.exists()
    assert AuditEvent.objects.count() == events
    assert client.get("/conservation/gel/999999/lever/").status_code == 404


def test_a_request_removed_still_opens_for_those_who_see_it(
    client, dg, flow, django_capture_on_commit_callbacks
):
    dr = closed_with_everything(flow, GONE)
    age(dr, 11)
    run(django_capture_on_commit_callbacks)
    client.force_login(dg)

    response = client.get(dr.get_absolute_url())

    assert response.status_code == 200
    assert GONE not in response.content.decode()


# ---------------------------------------------------------------------------
# The administrator's schedule


def test_a_rule_changed_in_the_admin_enters_the_chain(client):
    root = make_user("rootadmin", is_staff=True, is_superuser=True)
    rule, _ = RetentionRule.objects.update_or_create(
        outcome=Outcome.REFUSED, defaults={"years": 10}
    )
    client.force_login(root)

    response = client.post(f"/admin/dpo/retentionrule/{rule.pk}/change/", {"years": "12"})

    assert response.status_code == 302, response.content[:800]
    rule.refresh_from_db()
    assert rule.years == 12
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.object_type, event.object_id) == (
        "admin_change",
        "retention_rule",
        str(rule.pk),
    )
    assert event.details == {"fields": ["years"]}
    assert {row.outcome: row.years for row in retention.schedule()}[Outcome.REFUSED] == 12
    refused = client.post(f"/admin/dpo/retentionrule/{rule.pk}/change/", {"years": "0"})
    assert refused.status_code == 200
    assert (
        client.post(f"/admin/dpo/retentionrule/{rule.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )


def test_the_auditor_reads_the_retention_events_in_words(
    client, auditor, dpo, world, django_capture_on_commit_callbacks
):
    run(django_capture_on_commit_callbacks)
    with pytest.raises(ActionRefused):
        retention.place_hold(world["kept"], actor=dpo, reason="encore")
    client.force_login(auditor)

    timeline = client.get("/audit/").content.decode()
    trail = client.get(f"/audit/demandes/{world['gone'].reference}/").content.decode()

    for label in (
        "Calendrier de conservation appliqué",
        "Gel juridique posé",
        "la demande est déjà gelée",
    ):
        assert label in timeline, label
    assert "Données personnelles supprimées (conservation)" in trail
    assert "Gel juridique levé" in trail
    for page in (timeline, trail):
        assert ">retention_run<" not in page  # a code shown as it is: no label
        assert "CANARY" not in page
