"""The catalogue of legal bases an opinion can rely on.

A basis is identified by its stable `code`; each change to a basis that an
opinion has cited creates a new `version`, so an opinion always points at the
exact text it relied on.
"""

from datetime import date
from typing import Any

from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RequesterKind(models.TextChoices):
    COURT = "court", _("Court or tribunal")
    INVESTIGATING_JUDGE = "investigating_judge", _("Investigating judge")
    PUBLIC_PROSECUTOR = "public_prosecutor", _("Crown prosecutor / public prosecutor's office")
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
    OTHER = "other", _("Other")


class Effect(models.TextChoices):
    PROHIBITS = "prohibits", _("Prohibits disclosure")
    PERMITS = "permits", _("Permits disclosure")
    OBLIGES = "obliges", _("Obliges disclosure")
    JUSTIFICATION = "justification", _("Justification (after the fact)")
    COMPELLED_ACCESS = "compelled_access", _("Compelled access")
    NOT_AN_EXCEPTION = "not_an_exception", _("Not an exception")
    CONTEXT = "context", _("Context")


class VerificationTag(models.TextChoices):
    FACT = "F", _("[F] fact taken from a source")
    INFERENCE = "I", _("[I] inference")
    KNOWLEDGE = "K", _("[K] general knowledge, not confirmed")
    TO_VERIFY = "V", _("[V] to verify")


class LegalBasisManager(models.Manager["LegalBasis"]):
    def get_by_natural_key(self, code: str, version: int) -> "LegalBasis":
        return self.get(code=code, version=version)

    def current(self) -> "models.QuerySet[LegalBasis]":
        return self.filter(is_current=True)


class LegalBasis(models.Model):
    code = models.SlugField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    # Exactly one version per code is current; older versions stay for the
    # opinions that cited them.
    is_current = models.BooleanField(default=True)
    title_fr = models.CharField(max_length=300)
    title_nl = models.CharField(max_length=300, blank=True)
    citation = models.CharField(max_length=500)
    effect = models.CharField(max_length=32, choices=Effect.choices)
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
                fields=["code"],
                condition=models.Q(is_current=True),
                name="legal_basis_one_current_version",
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
