"""Labels of the codes the retention schedule writes on the audit trail."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from audit import vocabulary
from requests_app.queries import Outcome

ACTIONS: dict[str, vocabulary.Label] = {
    "retention_run": _("Retention schedule applied"),
    "retention_remove": _("Personal data removed (retention)"),
    "place_legal_hold": _("Legal hold placed"),
    "lift_legal_hold": _("Legal hold lifted"),
}
KEYS: dict[str, vocabulary.Label] = {
    "requests": _("Requests"),
    "persons": _("Persons concerned"),
    "scans": _("Scans"),
    "scan": _("Scan"),
    "letters": _("Letters"),
    "held": _("Held"),
    "rules": _("Schedule (years)"),
    "request_outcome": _("Outcome"),
    "hold_id": _("Hold number"),
    # The rule of each outcome, inside "rules".
    **{o.value: o.label for o in Outcome},
}
OBJECT_TYPES: dict[str, vocabulary.Label] = {
    "retention": _("Retention schedule"),
    "retention_rule": _("Retention rule"),
}


def register() -> None:
    vocabulary.register(
        actions=ACTIONS,
        keys=KEYS,
        object_types=OBJECT_TYPES,
        values={
            "request_outcome": Outcome.choices,
            # Why placing or lifting a hold was refused.
            "cause": {
                "already_held": _("the request is already held"),
                "already_removed": _("its personal data was already removed"),
                "already_lifted": _("the hold was already lifted"),
            },
        },
    )
