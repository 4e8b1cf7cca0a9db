"""Labels of the codes this part of the DPO's desk writes on the audit trail."""

from __future__ import annotations

from audit import vocabulary

ACTIONS: dict[str, str] = {}
KEYS: dict[str, str] = {}


def register() -> None:
    vocabulary.register(actions=ACTIONS, keys=KEYS)
