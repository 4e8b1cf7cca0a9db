"""Template helpers for the pages."""

from __future__ import annotations

import re
import secrets

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst

from requests_app.access import SCAN_EXTENSIONS
from requests_app.audit_vocabulary import SIGNATURE_FIELDS
from requests_app.models import InadmissibilityReason

register = template.Library()


@register.simple_tag
def submission_token() -> SafeString:
    """A one-time token that lets the view recognise the same form posted twice."""
    return format_html(
        '<input type="hidden" name="submission_token" value="{}">', secrets.token_urlsafe(16)
    )


@register.simple_tag(takes_context=True)
def sort_link(context: template.Context, key: str) -> str:
    """The register's query string sorted by `key`, flipping the direction if it already is."""
    current = context.get("sort", "")
    query = context["request"].GET.copy()
    query["sort"] = f"-{key}" if current == key else key
    query.pop("page", None)
    return "?" + str(query.urlencode())


@register.simple_tag(takes_context=True)
def page_link(context: template.Context, number: int) -> str:
    query = context["request"].GET.copy()
    query["page"] = str(number)
    return "?" + str(query.urlencode())


@register.filter
def scan_kind(content_type: str) -> str:
    """A scan's content type as people name it: PDF, PNG, JPG, TIF."""
    return SCAN_EXTENSIONS.get(content_type, "").upper()


@register.filter
def inadmissibility_reason(code: str) -> str:
    """An inadmissibility reason code as people read it."""
    labels = dict(InadmissibilityReason.choices)
    return str(labels.get(code, code))


@register.filter
def signature_field(name: str) -> str:
    """A PDF signature field's name ("SigDirector") as people read it."""
    label = SIGNATURE_FIELDS.get(name)
    return capfirst(str(label)) if label is not None else name


# asn1crypto's human-friendly names: "Common Name: X, Organization: Y, Country: BE".
_NAME_PART = re.compile(r"(?:^|, )([A-Z][A-Za-z/ ]+): ")


@register.filter
def certificate_holder(subject: str) -> str:
    """Who a signing certificate names: "Anne Leclercq (CPAS de Test)"."""
    marks = list(_NAME_PART.finditer(subject))
    parts = {
        mark.group(1): subject[mark.end() : marks[i + 1].start() if i + 1 < len(marks) else None]
        for i, mark in enumerate(marks)
    }
    name = parts.get("Common Name", "")
    organisation = parts.get("Organization", "")
    if not name:
        return organisation or subject
    return f"{name} ({organisation})" if organisation else name
