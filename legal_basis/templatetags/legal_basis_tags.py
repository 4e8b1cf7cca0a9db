"""Labels for the values stored in the catalogue's JSON fields."""

from django import template

from legal_basis.models import DataCategory, RequesterKind, VerificationTag

register = template.Library()


def _label(choices: type[DataCategory | RequesterKind | VerificationTag], value: str) -> str:
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
