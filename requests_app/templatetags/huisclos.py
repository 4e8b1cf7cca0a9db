"""Template helpers for the pages."""

from __future__ import annotations

import re
import secrets

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst

from requests_app import queries
from requests_app.access import SCAN_EXTENSIONS
from requests_app.audit_vocabulary import SIGNATURE_FIELDS
from requests_app.models import DisclosureRequest, InadmissibilityReason
from requests_app.queries import ListRow

register = template.Library()


@register.simple_tag
def submission_token() -> SafeString:
    """A one-time token that lets the view recognise the same form posted twice."""
    return format_html(
        '<input type="hidden" name="submission_token" value="{}">', secrets.token_urlsafe(16)
    )


# The register's page cursors, dropped when the sort changes or a page is chosen.
PAGE_CURSORS = ("page", "after", "before")


@register.simple_tag(takes_context=True)
def sort_link(context: template.Context, key: str) -> str:
    """The register's query string sorted by `key`, flipping the direction if it already is."""
    current = context.get("sort", "")
    query = context["request"].GET.copy()
    query["sort"] = f"-{key}" if current == key else key
    for name in PAGE_CURSORS:
        query.pop(name, None)
    return "?" + str(query.urlencode())


@register.simple_tag(takes_context=True)
def page_link(
    context: template.Context, after: int | None = None, before: int | None = None
) -> str:
    """The register's query string for the page after (or before) the row
    with that pk; with neither, the first page. Search key and sort kept."""
    query = context["request"].GET.copy()
    for name in PAGE_CURSORS:
        query.pop(name, None)
    if after is not None:
        query["after"] = str(after)
    elif before is not None:
        query["before"] = str(before)
    return "?" + str(query.urlencode())


@register.filter
def list_row(item: DisclosureRequest | ListRow) -> ListRow:
    """A request as a list of requests prints it (queries.list_row)."""
    return queries.list_row(item)


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
