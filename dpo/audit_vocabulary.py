"""Labels of the codes this part of the DPO's desk writes on the audit trail.

The register of disclosures writes who searched it, how (by national number,
or by name and birth date) and how many rows came back, and each export
(format, how searched, rows): never the criteria themselves.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from audit import vocabulary

# The register of disclosures, as the trail names it (object_type).
REGISTER_OBJECT = "disclosure_register"

SEARCH_ACTION = "search_disclosures"
EXPORT_ACTION = "export_disclosures"

SEARCHED_BY_NATIONAL_NUMBER = "national_number"
SEARCHED_BY_NAME_BIRTH_DATE = "name_birth_date"

ACTIONS: dict[str, vocabulary.Label] = {
    SEARCH_ACTION: _("Register of disclosures searched"),
    EXPORT_ACTION: _("Register of disclosures exported"),
}
OBJECT_TYPES: dict[str, vocabulary.Label] = {REGISTER_OBJECT: _("Register of disclosures")}
KEYS: dict[str, vocabulary.Label] = {
    "searched_by": _("Searched by"),
    "results": _("Results"),
    "requests": _("Requests"),
}
VALUES: dict[str, dict[str, vocabulary.Label]] = {
    "searched_by": {
        SEARCHED_BY_NATIONAL_NUMBER: _("national register number"),
        SEARCHED_BY_NAME_BIRTH_DATE: _("name and birth date"),
    },
    "format": {"pdf": "PDF", "csv": "CSV"},
}


def register() -> None:
    vocabulary.register(actions=ACTIONS, object_types=OBJECT_TYPES, keys=KEYS, values=VALUES)
