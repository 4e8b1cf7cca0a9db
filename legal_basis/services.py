"""Use cases of the catalogue: saving a basis, versioned once it has been cited.

The catalogue knows nothing of requests: "cited" is read through the reverse
relations the procedure's models declare on `LegalBasis` (`opinions`,
`replies`).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit import log

from .models import LegalBasis


def is_cited(basis: LegalBasis) -> bool:
    return basis.pk is not None and (basis.opinions.exists() or basis.replies.exists())


def save_legal_basis(basis: LegalBasis, *, actor_id: int | None, fields: list[str]) -> LegalBasis:
    """Save a catalogue change; a cited basis gets a new version instead.

    The opinions and replies that cited the old version keep pointing at it.
    """
    with transaction.atomic():
        previous_id = None
        if basis.pk is None:
            action = "legal_basis_create"
            basis.save()
        elif is_cited(basis):
            previous_id = basis.pk
            latest = (
                LegalBasis.objects.select_for_update()
                .filter(code=basis.code)
                .order_by("-version")
                .first()
            )
            assert latest is not None
            LegalBasis.objects.filter(code=basis.code, is_current=True).update(is_current=False)
            basis.pk = None
            basis._state.adding = True
            basis.version = latest.version + 1
            basis.is_current = True
            basis.created_at = timezone.now()
            basis.save()
            action = "legal_basis_new_version"
        else:
            action = "legal_basis_change"
            basis.save()
        log.append(
            actor_id=actor_id,
            action=action,
            object_type="legal_basis",
            object_id=basis.pk,
            details={
                "code": basis.code,
                "version": basis.version,
                "previous_id": previous_id,
                "fields": fields,
            },
        )
    return basis
