"""Demo data for `make demo`: the legal-basis catalogue, one persona per role,
an acting DG, and requests in several states, all created through the
services so the audit trail is real."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services as accounts
from accounts.models import ActingDesignation, Role, User
from legal_basis import releases
from legal_basis.models import LegalBasis
from requests_app import services
from requests_app.inputs import ChecklistData, IntakeData, ItemData, PersonData
from requests_app.models import DisclosureRequest

DEMO_PASSWORD = "huisclos-demo-2026"

PERSONAS = [
    ("secretariat", "Sophie", "Lambert", [Role.SECRETARIAT]),
    ("president", "Marc", "Dubois", [Role.PRESIDENT]),
    ("dg", "Claire", "Renard", [Role.DIRECTOR_GENERAL]),
    ("referent", "Julien", "Martin", [Role.REFERENT]),
    ("referent2", "Nadia", "Benali", [Role.REFERENT]),
    ("acting_dg", "Pierre", "Lefèvre", [Role.REFERENT]),
    ("auditor", "Anne", "Collin", [Role.AUDITOR]),
    ("dpo", "Thomas", "Gillet", [Role.DPO]),
]

SCAN = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n"
    b"0000000052 00000 n \n0000000101 00000 n \n"
    b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n164\n%%EOF\n"
)


def _authenticator(user: User) -> TOTPDevice:
    """The demo persona's TOTP device (kept across runs: the tester enrolled it)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="demo", confirmed=True)
    return device


def _step_up(user: User) -> str:
    """A code of the persona's authenticator, as the app would show it.

    django-otp accepts each time step once and one step ahead: a persona who
    signs twice uses the next step's code the second time.
    """
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    clock = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    clock.time = max(clock.time, (device.last_t + 1) * device.step + device.t0)
    return f"{clock.token():0{device.digits}d}"


def _scan() -> SimpleUploadedFile:
    return SimpleUploadedFile("lettre.pdf", SCAN, content_type="application/pdf")


class Command(BaseCommand):
    help = "Load the legal-basis catalogue, demo personas and demo requests."

    def handle(self, *args: Any, **options: Any) -> None:
        # Known passwords and second factors: never in a production database.
        if not getattr(settings, "HUISCLOS_DEMO_ALLOWED", False):
            raise CommandError(
                "load_demo creates accounts with a known password: it runs only with "
                "DJANGO_DEBUG=true, never in production."
            )
        releases.load_shipped()
        users = {}
        for username, first, last, roles in PERSONAS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
                for role in roles:
                    user.groups.add(Group.objects.get(name=role))
            _authenticator(user)
            users[username] = user
        today = timezone.localdate()
        ActingDesignation.objects.get_or_create(
            user=users["acting_dg"],
            role=Role.DIRECTOR_GENERAL,
            defaults={
                "starts_on": today - timedelta(days=7),
                "ends_on": today + timedelta(days=60),
                "council_decision_on": today - timedelta(days=10),
                "council_decision_reference": "CAS/2026/118",
                "designated_by": users["president"],
            },
        )
        # Offline test certificates for the demo signatories (Président, DG,
        # acting DG), so demo replies carry real PAdES signatures.
        call_command(
            "make_demo_certificates", out=str(settings.BASE_DIR / "var" / "demo-pki"), verbosity=0
        )
        if not DisclosureRequest.objects.exists():
            self._requests(users, today)
        self.stdout.write(self.style.SUCCESS("Demo ready on http://127.0.0.1:8000"))
        self.stdout.write(f"Every demo login has the password: {DEMO_PASSWORD}")
        self.stdout.write(
            "Second factor: add each login's TOTP key (base32) to an authenticator app "
            "(manual entry, 6 digits, 30 s)."
        )
        for username, first, last, roles in PERSONAS:
            label = ", ".join(str(Role(r).label) for r in roles)
            if username == "acting_dg":
                label += " ; Directeur général f.f. (désignation en cours)"
            secret = accounts.totp_secret(_authenticator(users[username]))
            self.stdout.write(f"  {username:<12} TOTP {secret}  {first} {last}: {label}")

    def _requests(self, users: dict[str, User], today: date) -> None:
        sec, pres, dg = users["secretariat"], users["president"], users["dg"]
        ref = users["referent"]

        def person(last: str, first: str, born: date) -> PersonData:
            return PersonData(last_name=last, first_names=first, birth_date=born)

        in_force = LegalBasis.objects.in_force_on(today)
        ji = in_force.get(code="ji-search-seizure")
        police = in_force.get(code="police-request")
        ji_citation = ji.letter_citation

        def intake(**kw: Any) -> IntakeData:
            values: dict[str, Any] = {
                "received_on": today - timedelta(days=10),
                "channel": "post",
                "requester_kind": "investigating_judge",
                "requester_name": "A. Peeters",
                "requester_function": "investigating_judge",
                "requester_civility": "madam",
                "documents": ["judge_order"],
                "requester_organisation": "Tribunal de première instance de Namur",
                "requester_address": "Place du Palais de Justice 5, 5000 Namur",
                "requester_reference": "JI.NA.12/26",
                # What the requesters cite is theirs; the demo quotes the
                # catalogue rather than write a statute number of its own.
                "cited_provision": ji_citation,
                "information_requested": "Adresse connue et aides octroyées depuis 2025.",
                "requester_deadline": today + timedelta(days=20),
                "persons": [person("Dupont", "Jean Marie", date(1979, 3, 14))],
            }
            values.update(kw)
            # The requester's letter was written two days before it arrived.
            values.setdefault("requester_letter_date", values["received_on"] - timedelta(days=2))
            return IntakeData(**values)

        def register(**kw: Any) -> DisclosureRequest:
            data = intake(**kw)
            scan = None if data.channel == "oral" else _scan()
            return services.register_request(
                data, actor=sec, scan=scan, scan_content_type="application/pdf"
            )

        def answers(basis: LegalBasis, answer: str, note: str) -> list[ChecklistData]:
            return [
                ChecklistData(basis, position, answer, note)
                for position in range(len(basis.checklist))
            ]

        # Waiting for assignment.
        register(
            requester_kind="landlord",
            requester_name="Immobilière du Centre SPRL",
            cited_provision="Code civil, obligations du locataire",
            information_requested="Le CPAS garantit-il le loyer de son locataire ?",
            persons=[person("Lemaire", "Sandra", date(1990, 7, 2))],
            requester_deadline=today - timedelta(days=1),
        )
        # Oral: recorded and closed.
        register(
            channel="oral",
            requester_kind="police",
            requester_name="Inspecteur de la zone de police",
            cited_provision="",
            information_requested="Appel téléphonique : adresse d'une personne aidée.",
            # An oral call keeps no birth date or national number (issue 16).
            persons=[PersonData(last_name="Dupont", first_names="Jean Marie")],
        )
        # Inadmissible: no legal provision cited.
        register(
            requester_kind="recovery_company",
            requester_name="Recouvrement Plus SA",
            cited_provision="",
            information_requested="Situation financière de notre débiteur.",
            persons=[person("Claes", "Thomas", date(1985, 11, 23))],
        )
        # Opinion being written.
        dr = register()
        services.assign_referent(dr, actor=pres, referent=ref)
        # Waiting for the DG's review.
        dr = register(requester_reference="JI.NA.15/26")
        services.assign_referent(dr, actor=pres, referent=ref)
        services.submit_opinion(
            dr,
            actor=ref,
            legal_bases=[ji],
            proposal="disclose_in_part",
            reasoning="Ordonnance du juge d'instruction dans le cadre d'une instruction. "
            "Seules l'adresse et la période d'aide sont nécessaires.",
            items=[
                ItemData("Adresse connue du CPAS", "address", "Localiser la personne", ji),
                ItemData("Période d'aide (2025-2026)", "aid", "Objet de l'instruction", ji),
            ],
            checklist=answers(ji, "met", "Vérifié sur l'ordonnance jointe."),
        )
        # Police request refused, signed once (by the DG), waiting for the Président.
        dr = register(
            requester_kind="police",
            requester_name="B. Jacobs",
            requester_function="police_commissioner",
            requester_civility="sir",
            requester_organisation="Zone de police Namur Capitale",
            cited_provision="Loi sur la fonction de police",
            requester_reference="PV 2026/4411",
            persons=[person("Dupont", "Jean Marie", date(1979, 3, 14))],
        )
        services.assign_referent(dr, actor=pres, referent=ref)
        services.submit_opinion(
            dr,
            actor=ref,
            legal_bases=[police],
            proposal="refuse",
            reasoning="Une demande de la police n'est pas une exception au secret "
            "professionnel ; aucune ordonnance d'un juge d'instruction n'est jointe.",
            items=[],
            checklist=answers(police, "not_met", "Aucune ordonnance ni concertation."),
        )
        services.refuse_disclosure(dr, actor=dg, remarks="Pas de base légale de levée.")
        services.sign_reply(dr, actor=dg, otp=_step_up(dg))
        # Fully signed disclosure, waiting for dispatch.
        dr = register(requester_reference="JI.NA.18/26", received_on=today - timedelta(days=20))
        services.assign_referent(dr, actor=pres, referent=ref)
        services.submit_opinion(
            dr,
            actor=ref,
            legal_bases=[ji],
            proposal="disclose",
            reasoning="Ordonnance de saisie du juge d'instruction.",
            items=[ItemData("Adresse connue du CPAS", "address", "Visée par l'ordonnance", ji)],
            checklist=answers(ji, "met", "Vérifié sur l'ordonnance jointe."),
        )
        services.approve(dr, actor=dg)
        services.sign_reply(dr, actor=dg, otp=_step_up(dg))
        services.sign_reply(dr, actor=pres, otp=_step_up(pres))
        # A person's own access request (GDPR art. 15), identity checked at
        # the desk: the DG prepares the reply, due in a calendar month.
        register(
            kind="subject_access",
            identity_verification="id_card_at_desk",
            channel="hand_delivery",
            requester_kind="person_concerned",
            requester_name="Jean Marie Dupont",
            requester_function="",
            requester_civility="sir",
            requester_organisation="",
            requester_address="Rue des Tanneries 12, 5000 Namur",
            requester_reference="",
            documents=[],
            cited_provision="",
            information_requested="Quelles données le CPAS détient-il sur moi, et à qui "
            "les a-t-il communiquées ?",
            requester_deadline=None,
            received_on=today - timedelta(days=3),
        )
