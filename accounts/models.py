"""People and their roles: the user model, the roles held through groups, and
acting designations ("faisant fonction") by date range.

Every other app asks `User.roles_on` / `has_role`; nobody reads group names
directly.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from knox.models import AbstractAuthToken
from knox.settings import CONSTANTS


class Role(models.TextChoices):
    """The group names created by the accounts migration 0002."""

    SECRETARIAT = "secretariat", _("Secretariat")
    PRESIDENT = "president", _("President")
    REFERENT = "referent", _("Referent")
    DIRECTOR_GENERAL = "director_general", _("Director general")
    AUDITOR = "auditor", _("Auditor")
    # The data protection officer: the disclosure register, the figures and
    # the retention reports; never an opinion or a letter.
    DPO = "dpo", _("Data protection officer")


class User(AbstractUser):  # type: ignore[django-manager-missing]  # ApiToken: knox untyped
    class Meta:
        verbose_name = _("user")

    def roles_on(self, day: date | None = None) -> frozenset[str]:
        """Roles held on `day`: group memberships plus acting designations."""
        if not self.is_active or self.pk is None:
            return frozenset()
        day = day or timezone.localdate()
        # Cached per instance: a web request loads its user afresh.
        cache: dict[date, frozenset[str]] = self.__dict__.setdefault("_roles_cache", {})
        if day not in cache:
            groups = {g.name for g in self.groups.all()}
            acting = set(self.acting_designations.in_force_on(day).values_list("role", flat=True))
            cache[day] = frozenset((groups | acting) & set(Role.values))
        return cache[day]

    def has_role(self, role: str, day: date | None = None) -> bool:
        return role in self.roles_on(day)

    def is_acting(self, role: str, day: date | None = None) -> bool:
        """True when the role is held only through an acting designation."""
        return self.has_role(role, day) and not self.groups.filter(name=role).exists()


class ActingDesignationQuerySet(models.QuerySet["ActingDesignation"]):
    def in_force_on(self, day: date) -> ActingDesignationQuerySet:
        """The designations that give their role on `day` (an ended one no
        longer counts from its `revoked_from` day)."""
        return self.filter(starts_on__lte=day, ends_on__gte=day).exclude(revoked_from__lte=day)


class ActingDesignation(models.Model):
    """A person acting as Président or DG ("faisant fonction") for a period.

    Made in the app by the Président or the DG under a decision of the
    council (`accounts.services.designate_acting`). A designation is never
    deleted nor its dates rewritten: ending it early records from which day
    it no longer counts (`revoked_from`), by whom and when. Rows made before
    designations were managed in the app have no decision nor author.
    """

    class ActingRole(models.TextChoices):
        PRESIDENT = Role.PRESIDENT.value, Role.PRESIDENT.label
        DIRECTOR_GENERAL = Role.DIRECTOR_GENERAL.value, Role.DIRECTOR_GENERAL.label

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="acting_designations"
    )
    role = models.CharField(max_length=32, choices=ActingRole.choices)
    starts_on = models.DateField()
    ends_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    council_decision_on = models.DateField(
        _("date of the council decision"), null=True, blank=True
    )
    council_decision_reference = models.CharField(
        _("reference of the council decision"), max_length=100, blank=True
    )
    designated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="acting_designations_made",
        verbose_name=_("designated by"),
    )
    # First day the designation no longer counts (its start when it was
    # cancelled before it began); `ends_on` keeps the period as decided.
    revoked_from = models.DateField(_("ended from"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="acting_designations_ended",
        verbose_name=_("ended by"),
    )

    objects = ActingDesignationQuerySet.as_manager()

    class Meta:
        verbose_name = _("acting designation")
        verbose_name_plural = _("acting designations")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="acting_designation_period_ordered",
            ),
            # Nobody gives themself a role, nor ends their own designation.
            models.CheckConstraint(
                condition=models.Q(designated_by__isnull=True)
                | ~models.Q(designated_by=models.F("user")),
                name="acting_designation_not_self_designated",
            ),
            models.CheckConstraint(
                condition=models.Q(revoked_by__isnull=True)
                | ~models.Q(revoked_by=models.F("user")),
                name="acting_designation_not_self_ended",
            ),
            # A designation made in the app names the council's decision.
            models.CheckConstraint(
                condition=models.Q(designated_by__isnull=True)
                | (
                    models.Q(council_decision_on__isnull=False)
                    & ~models.Q(council_decision_reference="")
                ),
                name="acting_designation_council_decision",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    revoked_from__isnull=True, revoked_at__isnull=True, revoked_by__isnull=True
                )
                | models.Q(
                    revoked_from__isnull=False,
                    revoked_at__isnull=False,
                    revoked_by__isnull=False,
                    revoked_from__gte=models.F("starts_on"),
                    revoked_from__lte=models.F("ends_on"),
                ),
                name="acting_designation_end_within_period",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(user)s acting %(role)s %(starts_on)s–%(ends_on)s") % {
            "user": self.user,
            "role": self.get_role_display(),
            "starts_on": self.starts_on,
            "ends_on": self.ends_on,
        }

    @property
    def no_longer_counts_from(self) -> date:
        """The first day it no longer counts: the day after its last day, or
        the day it was ended from."""
        return self.revoked_from or self.ends_on + timedelta(days=1)

    def counts_on(self, day: date) -> bool:
        return self.starts_on <= day < self.no_longer_counts_from

    @property
    def is_cancelled(self) -> bool:
        """Ended before its first day: it never counted."""
        return bool(
            self.revoked_from is not None
            and self.revoked_at is not None
            and self.revoked_from <= self.starts_on
            and timezone.localdate(self.revoked_at) < self.starts_on
        )

    def status_on(self, day: date) -> str:
        """ "upcoming", "current" or "past" (ended, cancelled or over) on `day`."""
        if day >= self.no_longer_counts_from:
            return "past"
        return "upcoming" if self.starts_on > day else "current"


def is_staff_member(user: User) -> bool:
    """Holds at least one role today (an account with no role sees nothing)."""
    return bool(user.is_authenticated and user.is_active and user.roles_on())


class ApiToken(AbstractAuthToken):  # type: ignore[misc]  # knox is untyped
    """A token for the API (django-rest-knox's token, swapped in).

    Only a SHA-512 digest of the token is stored, with its first characters
    to find it; the token itself is shown once, at creation. An integer id
    names it in URLs and in the audit trail; the label is the owner's own
    note and never enters the trail.
    """

    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=CONSTANTS.DIGEST_LENGTH, unique=True)
    # As knox declares it, repeated for the type checker.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="auth_token_set"
    )
    label = models.CharField(_("label"), max_length=100, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created"]

    def __str__(self) -> str:
        return gettext("API token %(id)s") % {"id": self.pk}
