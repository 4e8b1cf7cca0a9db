"""The one error the letters raise to their callers."""

from __future__ import annotations


class LetterUnavailable(Exception):
    """A letter cannot be produced, signed or checked; `message` is translated
    for the user, `cause` is a stable code for the audit trail and the API."""

    def __init__(self, message: str, *, cause: str) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
