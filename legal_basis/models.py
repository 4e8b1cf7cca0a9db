"""The catalogue of legal bases an opinion can rely on.

A basis is identified by its stable `code` and a validity period: when the
law renumbers or rewrites a rule, the code gets a new period. Each change a
release brings to a period creates a new `version` row; the old row stays
(not current) for the opinions and letters that cited it. See
docs/legal-catalogue.md.
"""

from datetime import date
from typing import Any

from django.db import models
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RequesterKind(models.TextChoices):
    COURT = "court", _("Court or tribunal")
    INVESTIGATING_JUDGE = "investigating_judge", _("Investigating judge")
    PUBLIC_PROSECUTOR = "public_prosecutor", _("Crown prosecutor / public prosecutor's office")
    LABOUR_PROSECUTOR = "labour_prosecutor", _("Labour prosecutor's office (auditorat du travail)")
    POLICE = "police", _("Police")
    PARLIAMENTARY_COMMISSION = (
        "parliamentary_commission",
        _("Parliamentary commission of inquiry"),
    )
    CSILR = "csilr", _("CSIL-R")
    MUNICIPALITY = "municipality", _("Municipality / mayor")
    LANDLORD = "landlord", _("Owner / landlord")
    RECOVERY_COMPANY = "recovery_company", _("Debt recovery company")
    BAILIFF = "bailiff", _("Bailiff")
    SOCIAL_INSPECTION = "social_inspection", _("Social inspection")
    PUBLIC_BODY = "public_body", _("Public body (ONSS, SPF, SPP IS…)")
    SECAL = "secal", _("SECAL")
    HEALTH_PROFESSIONAL = "health_professional", _("Health professional")
    OTHER_CPAS = "other_cpas", _("Other CPAS")
    LAWYER = "lawyer", _("Lawyer")
    TAX_ADMINISTRATION = "tax_administration", _("Tax administration")
    DEBT_MEDIATOR = "debt_mediator", _("Debt mediator (collective debt settlement)")
    PERSON_CONCERNED = "person_concerned", _("The person concerned")
    OTHER = "other", _("Other")


class DataCategory(models.TextChoices):
    IDENTIFICATION = "identification", _("Identification")
    ADDRESS = "address", _("Address")
    HOUSEHOLD = "household", _("Household composition")
    AID = "aid", _("Aid granted and amounts")
    CONTACT_DATES = "contact_dates", _("Contact dates")
    SOCIAL_SITUATION = "social_situation", _("Social situation")
    HEALTH = "health", _("Health")
    SUMS_OWED = "sums_owed", _("Sums the centre owes the person (garnishee's declaration)")
    OTHER = "other", _("Other")


class Effect(models.TextChoices):
    PROHIBITS = "prohibits", _("Prohibits disclosure")
    PERMITS = "permits", _("Permits disclosure")
    OBLIGES = "obliges", _("Obliges disclosure")
    JUSTIFICATION = "justification", _("Justification (after the fact)")
    COMPELLED_ACCESS = "compelled_access", _("Compelled access")
    NOT_AN_EXCEPTION = "not_an_exception", _("Not an exception")
    CONTESTED = "contested", _("Contested: the DG's written legal analysis is required")
    CONTEXT = "context", _("Context")


class BasisRole(models.TextChoices):
    REQUEST_BASIS = "request_basis", _("Request basis: a requester may invoke it")
    INITIATIVE_ONLY = (
        "initiative_only",
        _(
            "Initiative only: the centre may act on its own motion, never a ground to answer "
            "a request"
        ),
    )
    GATEWAY = "gateway", _("Gateway: valid only together with the specific provision")
    CONTEXT = "context", _("Context")


class Feature(models.TextChoices):
    """What the decision support and the letters read from a card, instead of its code."""

    SECRECY_RULE = "secrecy_rule", _("The secrecy rule, cited in every letter")
    POLICE_ROUTE = "police_route", _("A route by which a police request can lead to disclosure")
    EMERGENCY = "emergency", _("Emergency justification")
    CONSENT = "consent", _("Consent of the person")
    SHARED_SECRET = "shared_secret", _("Shared secrecy")
    CONCERTATION = "concertation", _("Case consultation")
    ADMINISTRATIVE_ONLY = (
        "administrative_only",
        _("Administrative information only; the request is secret from the person"),
    )


class SupportingDocument(models.TextChoices):
    """Documents that accompany a request, which some bases require."""

    CONSENT = "consent", _("Written, dated and signed consent of the person")
    JUDGE_ORDER = "judge_order", _("Order of the investigating judge")
    PROSECUTOR_DECISION = (
        "prosecutor_decision",
        _("Written and reasoned decision of the Crown prosecutor naming the information sought"),
    )
    WITNESS_SUMMONS = "witness_summons", _("Summons to testify before a court")
    CONCERTATION_AUTHORISATION = (
        "concertation_authorisation",
        _(
            "Act organising the case consultation (law, decree) or the Crown prosecutor's "
            "authorisation"
        ),
    )
    PARTICIPATION_MANDATE = (
        "participation_mandate",
        _("Decision mandating the centre's participation in the case consultation"),
    )
    GARNISHMENT_SERVED = "garnishment_served", _("Garnishment (saisie-arrêt) served on the centre")


class VerificationTag(models.TextChoices):
    FACT = "F", _("[F] fact taken from a source")
    INFERENCE = "I", _("[I] inference")
    KNOWLEDGE = "K", _("[K] general knowledge, not confirmed")
    TO_VERIFY = "V", _("[V] to verify")


# Effects under which the centre may hand information over.
ENABLING_EFFECTS = frozenset(
    e.value
    for e in (
        Effect.PERMITS,
        Effect.OBLIGES,
        Effect.JUSTIFICATION,
        Effect.COMPELLED_ACCESS,
        Effect.CONTESTED,
    )
)


class LegalBasisManager(models.Manager["LegalBasis"]):
    def get_by_natural_key(self, code: str, version: int) -> "LegalBasis":
        return self.get(code=code, version=version)

    def current(self) -> "models.QuerySet[LegalBasis]":
        return self.filter(is_current=True)

    def in_force_on(self, day: date) -> "models.QuerySet[LegalBasis]":
        """The current versions whose period covers `day`."""
        return self.current().filter(
            models.Q(in_force_from__isnull=True) | models.Q(in_force_from__lte=day),
            models.Q(in_force_until__isnull=True) | models.Q(in_force_until__gte=day),
        )

    def with_feature(self, feature: str, day: date) -> list["LegalBasis"]:
        # JSON containment is not portable to SQLite: the catalogue is small.
        return [b for b in self.in_force_on(day).order_by("code") if feature in b.features]


class LegalBasisRelease(models.Model):
    """A catalogue release file applied by `import_legal_bases`."""

    label = models.CharField(max_length=32, unique=True)
    published_on = models.DateField()
    publisher = models.CharField(max_length=300, blank=True)
    notes = models.TextField(blank=True)
    sha256 = models.CharField(max_length=64)
    applied_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-applied_at", "-pk"]
        verbose_name = _("catalogue release")
        verbose_name_plural = _("catalogue releases")

    def __str__(self) -> str:
        return self.label


class LegalBasis(models.Model):
    code = models.SlugField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    # One current version per code and period; superseded versions stay for
    # the opinions and letters that cited them.
    is_current = models.BooleanField(default=True)
    release = models.ForeignKey(
        LegalBasisRelease, models.PROTECT, null=True, blank=True, related_name="bases"
    )
    title_fr = models.CharField(max_length=300)
    title_nl = models.CharField(max_length=300, blank=True)
    # What staff see; may name a circular or case law.
    citation = models.CharField(max_length=500)
    # What letters print: the statute only, never an unverified number.
    letter_citation = models.CharField(max_length=500, blank=True)
    role = models.CharField(max_length=32, choices=BasisRole.choices)
    effect = models.CharField(max_length=32, choices=Effect.choices)
    features = models.JSONField(default=list, blank=True)
    required_documents = models.JSONField(default=list, blank=True)
    statutory_deadline_days = models.PositiveSmallIntegerField(null=True, blank=True)
    provision_keywords = models.JSONField(default=list, blank=True)
    route_paragraph = models.TextField(blank=True)
    route_requester_kinds = models.JSONField(default=list, blank=True)
    requester_kinds = models.JSONField(
        default=list,
        blank=True,
        help_text="Requester kinds the basis can apply to; empty means any.",
    )
    checklist = models.JSONField(
        default=list,
        blank=True,
        help_text='Ordered conditions an opinion must answer: [{"text": "...", "tag": "F"}]',
    )
    allowed_data_categories = models.JSONField(default=list, blank=True)
    excluded_data_categories = models.JSONField(default=list, blank=True)
    who_may_answer = models.TextField(blank=True)
    reply_paragraph_accepted = models.TextField(blank=True)
    reply_paragraph_refused = models.TextField(blank=True)
    sources = models.JSONField(
        default=list, blank=True, help_text='[{"label": "...", "url": "https://..."}]'
    )
    in_force_from = models.DateField(null=True, blank=True)
    in_force_until = models.DateField(null=True, blank=True)
    replaced_by_code = models.SlugField(max_length=64, blank=True)
    replacement_to_verify = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    facts = models.JSONField(
        default=list,
        blank=True,
        help_text='Statements with their verification tag: [{"text": "...", "tag": "V"}]',
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = LegalBasisManager()

    class Meta:
        ordering = ["code", "-version"]
        verbose_name = _("legal basis")
        verbose_name_plural = _("legal bases")
        constraints = [
            models.UniqueConstraint(
                fields=["code", "version"], name="legal_basis_code_version_unique"
            ),
            models.UniqueConstraint(
                models.F("code"),
                Coalesce("in_force_from", models.Value(date(1, 1, 1))),
                condition=models.Q(is_current=True),
                name="legal_basis_one_current_version_per_period",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=BasisRole.values),
                name="legal_basis_role_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(effect__in=Effect.values),
                name="legal_basis_effect_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(in_force_until__isnull=True)
                | models.Q(in_force_from__isnull=True)
                | models.Q(in_force_until__gte=models.F("in_force_from")),
                name="legal_basis_validity_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}: {self.title_fr}"

    def get_absolute_url(self) -> str:
        return reverse("legal_basis:detail", args=[self.code, self.version])

    def natural_key(self) -> tuple[str, int]:
        return (self.code, self.version)

    def is_in_force_on(self, day: date) -> bool:
        if self.in_force_from and day < self.in_force_from:
            return False
        return not (self.in_force_until and day > self.in_force_until)

    def has_feature(self, feature: str) -> bool:
        return feature in self.features

    @property
    def grounds_disclosure(self) -> bool:
        """Whether an item may rest on this card in reply to a request."""
        return self.role == BasisRole.REQUEST_BASIS and self.effect in ENABLING_EFFECTS

    def applies_to(self, requester_kind: str) -> bool:
        return not self.requester_kinds or requester_kind in self.requester_kinds

    def allows_category(self, category: str) -> bool:
        if category in self.excluded_data_categories:
            return False
        return not self.allowed_data_categories or (category in self.allowed_data_categories)

    def has_facts_to_verify(self) -> bool:
        facts: list[dict[str, Any]] = self.facts
        return self.replacement_to_verify or any(
            f.get("tag") == VerificationTag.TO_VERIFY for f in facts
        )

    def in_force_version_on(self, day: date) -> "LegalBasis":
        """The version of this rule that is law on `day`: the same code's current
        period covering it, else its successor's; itself when neither exists."""
        for code in filter(None, (self.code, self.replaced_by_code)):
            found = LegalBasis.objects.in_force_on(day).filter(code=code).first()
            if found is not None:
                return found
        return self
