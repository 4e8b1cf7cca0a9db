"""A register holding a request in every state, built through the services.

Used by the page-by-page checks (tests/browser/test_every_page.py): every
state label, every reason, every kind of letter and every audit action the
procedure produces appears somewhere in it, so a page that shows one of them
raw is caught. Use cases that other parts of the app add later (annulment,
declined signatures, acknowledgements, corrections) are seeded as soon as the
service exists; `Seeded.missing` says which ones were not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import User
from requests_app import services
from requests_app.inputs import PersonData
from requests_app.models import DisclosureRequest
from tests.conftest import Flow, fresh_otp, opinion_kwargs


def person(last_name: str, first_names: str, birth: date) -> PersonData:
    return PersonData(last_name=last_name, first_names=first_names, birth_date=birth)


JUDGE: dict[str, Any] = {
    "requester_name": "Juge Claire Dupont",
    "requester_organisation": "Tribunal de première instance de Namur",
    "requester_address": "Place du Palais de Justice 5, 5000 Namur",
    "requester_reference": "JI/2026/481",
    "information_requested": "Adresse actuelle et aide sociale perçue depuis 2024.",
}


@dataclass
class Seeded:
    """The seeded requests by label, and the use cases that could not be seeded."""

    requests: dict[str, DisclosureRequest] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def references(self) -> dict[str, str]:
        return {label: dr.reference for label, dr in self.requests.items()}


def _service(name: str) -> Callable[..., Any] | None:
    return getattr(services, name, None)


def every_state(flow: Flow) -> Seeded:
    """One request (or more) per state of the procedure, with the detours:
    a returned opinion (so a superseded one), a refusal, an inadmissible
    request, an oral one, an overdue one, a withdrawal, an annulment."""
    p = flow.p
    seeded = Seeded()
    found = seeded.requests
    today = timezone.localdate()
    recent = today - timedelta(days=2)
    old = today - timedelta(days=60)

    # A second referent with a name, listed on the assignment page.
    other = p.get("other_referent")
    if isinstance(other, User) and not other.get_full_name():
        other.first_name, other.last_name = "Hugo", "Renson"
        other.save(update_fields=["first_name", "last_name"])

    found["oral"] = flow.received(
        channel="oral",
        requester_kind="police",
        requester_name="Agent Thomas",
        received_on=recent,
    )
    found["to_assign"] = flow.received(
        **JUDGE, received_on=recent, persons=[person("Peeters", "Jan", date(1985, 1, 1))]
    )
    found["overdue"] = flow.received(
        requester_kind="police",
        requester_name="Zone de police Namur Capitale",
        requester_reference="PV NA.55.L1.004512/2026",
        cited_provision="Art. 46bis du Code d'instruction criminelle",
        information_requested="Composition de ménage.",
        received_on=old,
        persons=[person("Lambert", "Marie Louise", date(1972, 6, 14))],
    )
    found["opinion"] = flow.assigned(
        **JUDGE, received_on=recent, persons=[person("Dubois", "Luc", date(1990, 3, 9))]
    )
    found["review"] = flow.in_review(
        **JUDGE, received_on=recent, persons=[person("Janssens", "Eva", date(2001, 11, 30))]
    )

    # Returned with remarks, then written again: one superseded opinion.
    returned = flow.in_review(
        **JUDGE, received_on=recent, persons=[person("Mertens", "Lotte", date(1988, 4, 12))]
    )
    services.return_for_revision(
        returned, actor=p["dg"], remarks="Précisez la nécessité de chaque information."
    )
    found["returned"] = returned
    resubmitted = flow.in_review(
        **JUDGE, received_on=recent, persons=[person("Jacobs", "Bram", date(1975, 8, 21))]
    )
    services.return_for_revision(
        resubmitted, actor=p["dg"], remarks="Ajoutez la base légale du juge."
    )
    services.submit_opinion(resubmitted, actor=p["referent"], **opinion_kwargs())
    found["review_again"] = resubmitted

    found["to_sign"] = flow.awaiting_signatures(
        **JUDGE, received_on=recent, persons=[person("Maes", "Tom", date(1968, 2, 2))]
    )
    refusal = flow.in_review(
        "refuse",
        **JUDGE,
        received_on=recent,
        persons=[person("Willems", "Ines", date(1992, 10, 3))],
    )
    services.approve(refusal, actor=p["dg"])
    found["refusal"] = refusal
    found["inadmissible"] = flow.received(
        requester_kind="landlord",
        requester_name="Immo Meuse SPRL",
        cited_provision="",
        information_requested="Revenus du locataire.",
        received_on=recent,
        persons=[person("Claes", "Nina", date(1995, 7, 7))],
    )
    found["partially_signed"] = flow.partially_signed(
        **JUDGE, received_on=recent, persons=[person("Smets", "Lien", date(1980, 12, 1))]
    )
    found["signed"] = flow.signed(
        **JUDGE, received_on=recent, persons=[person("Wouters", "Sam", date(1979, 9, 19))]
    )
    found["dispatched"] = flow.dispatched(
        **JUDGE, received_on=recent, persons=[person("Goossens", "Ann", date(1983, 5, 5))]
    )
    found["closed"] = flow.closed(
        **JUDGE, received_on=recent, persons=[person("Hermans", "Koen", date(1970, 1, 15))]
    )
    found["withdrawn"] = flow.withdrawn(
        **JUDGE, received_on=recent, persons=[person("Aerts", "Els", date(1987, 6, 30))]
    )

    # A person's own access request (GDPR art. 15): the DG's reply to prepare.
    found["access"] = flow.received(
        kind="subject_access",
        identity_verification="id_card_at_desk",
        channel="hand_delivery",
        requester_kind="person_concerned",
        requester_name="Sara Peeters",
        requester_organisation="",
        requester_reference="",
        cited_provision="",
        documents=[],
        information_requested="Quelles données le CPAS détient-il sur moi ?",
        received_on=recent,
        persons=[person("Peeters", "Sara", date(1991, 4, 4))],
    )

    annul = _service("annul")
    if annul is None:
        seeded.missing.append("annulled")
    else:
        annulled = flow.received(
            **JUDGE, received_on=recent, persons=[person("Dumont", "Léa", date(1999, 2, 8))]
        )
        annul(annulled, actor=p["dg"], reason="Lettre enregistrée deux fois.")
        found["annulled"] = annulled

    decline = _service("decline_to_sign")
    if decline is None:
        seeded.missing.append("declined signature")
    else:
        declined = flow.partially_signed(
            **JUDGE, received_on=recent, persons=[person("Lemaire", "Noé", date(1984, 9, 9))]
        )
        decline(
            declined, actor=p["president"], remarks="Le paragraphe sur la conservation manque."
        )
        found["declined"] = declined
        _inadmissibility_detours(flow, seeded, recent)

    _optional_steps(flow, seeded, recent)
    _designation(flow, seeded, today)
    return seeded


def _designation(flow: Flow, seeded: Seeded, today: date) -> None:
    """The second referent, acting Président for ten days from tomorrow."""
    from accounts import services as accounts

    designate = getattr(accounts, "designate_acting", None)
    other = flow.p.get("other_referent")
    if designate is None or other is None:
        seeded.missing.append("acting designation")
        return
    designate(
        flow.p["dg"],
        other,
        "president",
        today + timedelta(days=1),
        today + timedelta(days=10),
        today - timedelta(days=7),
        "Délibération du conseil n° 2026/118",
    )


def _inadmissibility_detours(flow: Flow, seeded: Seeded, recent: date) -> None:
    """An inadmissibility found wrong: the request goes to examination.

    (An inadmissibility letter declined at signature, then confirmed, is not
    seeded: declining it breaks the constraint that an examined request has a
    referent; reported to the lead.)"""
    p = flow.p
    landlord: dict[str, Any] = {
        "requester_kind": "landlord",
        "requester_name": "Immo Sambre SRL",
        "cited_provision": "",
        "information_requested": "Revenus du locataire.",
        "received_on": recent,
    }
    reopen = _service("reopen_examination")
    if reopen is None:
        seeded.missing.append("examination reopened")
    else:
        reopened = flow.received(**landlord, persons=[person("Poncelet", "Ana", date(1991, 5, 5))])
        reopen(reopened, actor=p["dg"])
        seeded.requests["reopened"] = reopened


def _optional_steps(flow: Flow, seeded: Seeded, recent: date) -> None:
    """Corrections, the DG's paragraph, an acknowledgement of receipt."""
    p = flow.p
    correct = _service("correct_registration")
    if correct is None:
        seeded.missing.append("correction")
    else:
        from requests_app.inputs import CorrectionData

        corrected = seeded.requests["to_assign"]
        changes = CorrectionData.of(_fresh(corrected))
        changes.requester_name = "Juge Claire Dupont-Marchal"
        correct(
            _fresh(corrected),
            actor=p["secretariat"],
            reason="Nom mal orthographié.",
            changes=changes,
        )
    paragraph = _service("set_letter_paragraph")
    if paragraph is None:
        seeded.missing.append("DG's paragraph")
    else:
        paragraph(
            _fresh(seeded.requests["to_sign"]),
            actor=p["dg"],
            paragraph="Nous vous invitons à vous adresser au magistrat compétent.",
        )
    if _service("sign_acknowledgement") is None:
        seeded.missing.append("acknowledgement of receipt")
        return
    from requests_app.models import DefaultDeadline

    DefaultDeadline.objects.update_or_create(
        requester_kind="investigating_judge",
        defaults={"working_days": 15, "acknowledge_receipt": True},
    )
    to_sign = flow.received(
        **JUDGE, received_on=recent, persons=[person("Renard", "Zoé", date(2000, 1, 20))]
    )
    seeded.requests["acknowledgement_to_sign"] = to_sign
    sent = flow.received(
        **JUDGE, received_on=recent, persons=[person("Collin", "Théo", date(1996, 6, 16))]
    )
    services.sign_acknowledgement(_fresh(sent), actor=p["dg"], otp=fresh_otp(p["dg"]))
    services.sign_acknowledgement(
        _fresh(sent), actor=p["president"], otp=fresh_otp(p["president"])
    )
    services.record_acknowledgement_dispatch(
        _fresh(sent),
        actor=p["secretariat"],
        dispatched_on=timezone.localdate(),
        channel="registered_post",
        registered_mail_number="RR987654321BE",
    )
    seeded.requests["acknowledgement_sent"] = sent
    DefaultDeadline.objects.filter(requester_kind="investigating_judge").update(
        acknowledge_receipt=False
    )


def _fresh(dr: DisclosureRequest) -> DisclosureRequest:
    return DisclosureRequest.objects.get(pk=dr.pk)
