"""The DPO's desk keeps its own records here (the retention schedule, legal holds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from requests_app.models import DisclosureRequest
from requests_app.queries import Outcome

# A request not answered yet is never removed: it has no rule.
RETAINED_OUTCOMES = [o for o in Outcome if o != Outcome.OPEN]
MAX_YEARS = 100


class RetentionRule(models.Model):
    """How many years after a request ended the persons' data, the scan and
    the letters are kept, for one outcome. Set by the administrator; the
    defaults (migration 0002, docs/retention.md) are to be checked against
    the retention table of the Archives de l'État for CPAS records."""

    outcome = models.CharField(
        _("outcome"),
        max_length=32,
        choices=[(o.value, o.label) for o in RETAINED_OUTCOMES],
        unique=True,
    )
    years = models.PositiveSmallIntegerField(
        _("years kept after the request ended"),
        validators=[MinValueValidator(1), MaxValueValidator(MAX_YEARS)],
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["outcome"]
        verbose_name = _("retention rule")
        verbose_name_plural = _("retention schedule")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(years__gte=1) & models.Q(years__lte=MAX_YEARS),
                name="retention_rule_years_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()}: {self.years}"


class LegalHoldQuerySet(models.QuerySet["LegalHold"]):
    def active(self) -> LegalHoldQuerySet:
        return self.filter(lifted_at__isnull=True)


class LegalHold(models.Model):
    """A request kept whatever the schedule says (a dispute, a complaint, an
    inquiry), until the hold is lifted. The reasons are content: shown to the
    DPO and the DG, never written to the audit trail."""

    request = models.ForeignKey(
        DisclosureRequest, models.PROTECT, related_name="legal_holds", verbose_name=_("request")
    )
    reason = models.TextField(_("reason for the hold"))
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    placed_at = models.DateTimeField(default=timezone.now)
    lift_reason = models.TextField(_("reason for lifting the hold"), blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)

    objects = LegalHoldQuerySet.as_manager()

    if TYPE_CHECKING:
        request_id: int
        placed_by_id: int
        lifted_by_id: int | None

    class Meta:
        ordering = ["-placed_at", "-id"]
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        constraints = [
            models.UniqueConstraint(
                fields=["request"],
                condition=models.Q(lifted_at__isnull=True),
                name="legal_hold_one_active_per_request",
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="legal_hold_has_reason"),
            models.CheckConstraint(
                condition=(models.Q(lifted_at__isnull=True) & models.Q(lifted_by__isnull=True))
                | (
                    models.Q(lifted_at__isnull=False)
                    & models.Q(lifted_by__isnull=False)
                    & ~models.Q(lift_reason="")
                ),
                name="legal_hold_lifted_with_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request} hold {self.pk}"

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None
