"""Tells the audit trail how a request's reference maps to its id, so the
auditor's workspace can list a request's events without importing this app."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from audit import objects

from .models import DisclosureRequest

OBJECT_TYPE = "disclosure_request"


def _id_for_reference(reference: str) -> int | None:
    return (
        DisclosureRequest.objects.filter(reference=reference).values_list("pk", flat=True).first()
    )


def _references_for_ids(ids: Iterable[int]) -> Mapping[int, str]:
    return dict(DisclosureRequest.objects.filter(pk__in=list(ids)).values_list("pk", "reference"))


def register() -> None:
    objects.register(
        OBJECT_TYPE,
        objects.ReferencedObjects(
            id_for_reference=_id_for_reference, references_for_ids=_references_for_ids
        ),
    )
