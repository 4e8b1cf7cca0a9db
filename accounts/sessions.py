"""Session limits: 30 minutes without a request, 10 hours after sign-in.

`start` (called at sign-in, accounts/signals.py) notes the start; the
middleware notes each request's time and ends a session past either limit
(SESSION_IDLE_SECONDS, SESSION_ABSOLUTE_SECONDS): the session is flushed, the
request goes on as anonymous (pages redirect to the sign-in page, the API
answers 401/403) and a "session_expired" event is recorded with the reason.

The session row itself expires in the database a little after the idle limit
(SESSION_COOKIE_AGE), and `clearsessions` deletes such rows every hour: what
a session holds (recent searches among it) does not outlive it. A session
that simply goes idle and is never presented again has no event: its row
expires and is deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext

from . import services, throttling

STARTED = "huisclos_session_started"
LAST_SEEN = "huisclos_session_last_seen"
# LAST_SEEN is written when it has moved by this many seconds, not on every
# request: each write re-signs the session and updates its row, which cost
# every page an UPDATE (bench/load_users.py). So that the idle limit is never
# cut short, it is counted from LAST_SEEN plus this margin: it runs at most
# this much late.
SEEN_EVERY = 30


def start(request: HttpRequest | None) -> None:
    """A new signed-in session starts now."""
    session = getattr(request, "session", None)
    if session is not None:
        now = time.time()
        session[STARTED] = now
        session[LAST_SEEN] = now


def expiry_reason(session: SessionBase, now: float) -> str | None:
    started = session.get(STARTED)
    last_seen = session.get(LAST_SEEN)
    if started is not None and now - started > settings.SESSION_ABSOLUTE_SECONDS:
        return "absolute"
    if last_seen is not None and now - last_seen > settings.SESSION_IDLE_SECONDS + SEEN_EVERY:
        return "idle"
    return None


def expiry_message(reason: str) -> str:
    if reason == "idle":
        return gettext(
            "Your session has ended after %(minutes)d minutes without activity. "
            "Please sign in again."
        ) % {"minutes": settings.SESSION_IDLE_SECONDS // 60}
    return gettext(
        "Your session has ended %(hours)d hours after you signed in. Please sign in again."
    ) % {"hours": settings.SESSION_ABSOLUTE_SECONDS // 3600}


class SessionLimitsMiddleware:
    """After AuthenticationMiddleware and MessageMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            session = request.session
            now = time.time()
            reason = expiry_reason(session, now)
            if reason is not None:
                services.record_session_event(
                    "session_expired",
                    actor_id=user.pk,
                    details={"cause": reason, **throttling.client_details(request)},
                )
                session.flush()
                request.user = AnonymousUser()
                messages.info(request, expiry_message(reason))
            else:
                if STARTED not in session:  # a session from before these limits
                    session[STARTED] = now
                # Saved when it moves: the row's expiry follows activity.
                last_seen = session.get(LAST_SEEN)
                if last_seen is None or now - last_seen >= SEEN_EVERY:
                    session[LAST_SEEN] = now
        return self.get_response(request)
