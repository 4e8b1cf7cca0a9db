"""What the trail knows about the objects its events name: nothing, unless told.

An event names its object by a type string and an id. For the auditor's
workspace to find "every event about request SP-2026-0007", the app that owns
that kind of object registers how its human references map to ids; the trail
itself imports no other app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ReferencedObjects:
    """How to go from a reference to an id and back, for one object type."""

    id_for_reference: Callable[[str], int | None]
    references_for_ids: Callable[[Iterable[int]], Mapping[int, str]]


_REGISTRY: dict[str, ReferencedObjects] = {}


def register(object_type: str, resolver: ReferencedObjects) -> None:
    _REGISTRY[object_type] = resolver


def id_for_reference(object_type: str, reference: str) -> int | None:
    resolver = _REGISTRY.get(object_type)
    return resolver.id_for_reference(reference) if resolver else None


def references_for_ids(object_type: str, ids: Iterable[int]) -> Mapping[int, str]:
    resolver = _REGISTRY.get(object_type)
    return resolver.references_for_ids(ids) if resolver else {}
