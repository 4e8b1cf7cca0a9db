"""Use cases of accounts that leave a trace: sign-in, sign-out, failed sign-in."""

from __future__ import annotations

from audit import log

SESSION_ACTIONS = frozenset({"login", "logout", "login_failed"})


def record_session_event(action: str, *, actor_id: int | None) -> None:
    if action not in SESSION_ACTIONS:
        raise ValueError(f"unknown session event {action!r}")
    log.record_session_event(action, actor_id=actor_id)
