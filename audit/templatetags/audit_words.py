"""Template filters of the auditor's pages (audit.vocabulary)."""

from __future__ import annotations

from datetime import datetime

from django import template

from audit import vocabulary

register = template.Library()


@register.filter
def local_timestamp(value: str | datetime | None) -> str:
    """An ISO timestamp (UTC) of the trail's files, in Brussels time."""
    return vocabulary.local_timestamp(value)
