"""The audit trail's two tables: the append-only events and the chain head.

Generic: an event names its object by type and id strings and carries ids,
codes and hashes only. The table names predate this app and are kept, so the
append-only triggers and the database grants in docs/audit.md stay as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEventIsAppendOnly(Exception):
    pass


class AuditEvent(models.Model):
    """One link of the hash-chained, append-only audit trail.

    `details` holds ids, codes and hashes only: never names or free text.
    Database triggers (audit migration 0002) reject UPDATE, DELETE and TRUNCATE.
    """

    seq = models.PositiveBigIntegerField(primary_key=True)
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, related_name="+"
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    if TYPE_CHECKING:
        actor_id: int | None

    class Meta:
        db_table = "requests_app_auditevent"
        ordering = ["seq"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        # The auditor's pages list events newest first by (occurred_at, seq)
        # after one equality filter at most (audit.paging): each index holds
        # that order after its filter, so a page, at any depth and with any
        # period, is one index range read of a page's length.
        indexes = [
            models.Index(fields=["occurred_at", "seq"], name="audit_time_idx"),
            models.Index(fields=["action", "occurred_at", "seq"], name="audit_action_time_idx"),
            models.Index(fields=["actor", "occurred_at", "seq"], name="audit_actor_time_idx"),
            models.Index(
                fields=["object_type", "object_id", "occurred_at", "seq"],
                name="audit_object_time_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditEventIsAppendOnly("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditEventIsAppendOnly("Audit events cannot be deleted.")


class AuditChainHead(models.Model):
    """The single row every audit append locks, so the chain never forks."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        db_table = "requests_app_auditchainhead"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="audit_head_singleton")
        ]

    def __str__(self) -> str:
        return f"head #{self.seq}"
