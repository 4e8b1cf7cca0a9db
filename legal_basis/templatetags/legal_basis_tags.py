"""Labels for the values stored in the catalogue's JSON fields, and the
citations read from the catalogue rather than written in templates."""

from django import template
from django.db.models import TextChoices
from django.utils import timezone

from legal_basis.models import (
    DataCategory,
    Feature,
    LegalBasis,
    RequesterKind,
    SupportingDocument,
    VerificationTag,
)

register = template.Library()

CITATION_SEPARATOR = " ; "


def _label(choices: type[TextChoices], value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


@register.filter
def tag_label(tag: str) -> str:
    return _label(VerificationTag, tag)


@register.filter
def category_label(category: str) -> str:
    return _label(DataCategory, category)


@register.filter
def requester_kind_label(kind: str) -> str:
    return _label(RequesterKind, kind)


@register.filter
def feature_label(feature: str) -> str:
    return _label(Feature, feature)


@register.filter
def document_label(document: str) -> str:
    return _label(SupportingDocument, document)


@register.simple_tag
def secrecy_rule_citation() -> str:
    """The letter citations of the secrecy rule in force today, joined.

    Pages print the version in force today (docs/legal-catalogue.md); no
    template names a statute.
    """
    bases = LegalBasis.objects.with_feature(Feature.SECRECY_RULE.value, timezone.localdate())
    return CITATION_SEPARATOR.join(b.letter_citation for b in bases if b.letter_citation)
