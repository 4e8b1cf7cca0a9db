"""Template helpers for the pages."""

from __future__ import annotations

import secrets

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

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
