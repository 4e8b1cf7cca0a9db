import logging
import sys
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.csp import CSP, build_policy
from django.utils.translation import gettext
from django.views import defaults

logger = logging.getLogger(__name__)

# Errors of a database that cannot be reached or stopped answering (psycopg's
# connection failures, connect_timeout, statement_timeout): the request gets
# a 503, not a 500 and not a hanging page.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 60


class NoStoreMiddleware:
    """Pages show secret data: browsers and proxies must not keep copies."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/static/"):
            response["Cache-Control"] = "no-store"
        return response


def database_unavailable(request: HttpRequest, error: BaseException) -> HttpResponse:
    """The 503 answer: French page, or JSON under /api/. Rendered without the
    request's context, which would query the database again (user, roles)."""
    logger.error("database unavailable: %s", type(error).__name__)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {
                "detail": gettext(
                    "The service is temporarily unavailable: its database cannot be reached. "
                    "Try again in a few minutes."
                ),
                "code": "database_unavailable",
            },
            status=503,
        )
    else:
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    if settings.SECURE_CSP and CSP.HEADER_ENFORCE not in response:
        policy: Any = settings.SECURE_CSP
        response.headers[str(CSP.HEADER_ENFORCE)] = build_policy(policy, None)
    return response


class DatabaseUnavailableMiddleware:
    """Answer 503 within the connect timeout when PostgreSQL is unreachable.

    Placed right after AuthenticationMiddleware: it loads the session and the
    user itself, so that a failure there (the first query of a signed-in
    user's request) is caught here instead of inside a later middleware, and
    catches the views' database errors through `process_exception`. Errors
    raised elsewhere (saving the session) reach `server_error`, the 500
    handler, which answers the same 503.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            user = getattr(request, "user", None)
            if user is not None:
                user.is_authenticated  # noqa: B018  # loads the session and the user
        except DATABASE_UNAVAILABLE as error:
            return database_unavailable(request, error)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_UNAVAILABLE):
            return database_unavailable(request, exception)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database outage noticed outside any view is still a 503."""
    error = sys.exc_info()[1]
    if isinstance(error, DATABASE_UNAVAILABLE):
        return database_unavailable(request, error)
    return defaults.server_error(request)
