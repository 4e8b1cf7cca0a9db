"""Why an action was not carried out: raised by the services and by the door
(`access`), caught by the pages and the API."""

from __future__ import annotations

from django.utils.translation import gettext


class ActionRefused(Exception):
    """An action that was not carried out; `message` is shown to the user."""

    def __init__(self, message: str, *, cause: str, http_status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.http_status = http_status


class NotAllowed(ActionRefused):
    def __init__(self, message: str | None = None) -> None:
        # The default is translated when raised, in the language of the request.
        if message is None:
            message = gettext("You are not allowed to carry out this action.")
        super().__init__(message, cause="permission_denied", http_status=403)
