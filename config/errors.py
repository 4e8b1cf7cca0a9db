"""Error answers: JSON under /api/, the French pages everywhere else.

`api_exception_handler` is DRF's EXCEPTION_HANDLER: the API's answers
(`requests_app.api.exception_handler`: refusals of the use cases, DRF's
`{"detail": ...}` or the field errors of a validation), and for an
exception DRF does not know, a logged 500 `{"detail": "Erreur interne…"}`
with no traceback. The `handler*` functions are Django's error views
(config/urls.py): an error raised outside a DRF view (a URL that matches
nothing under /api/, a middleware) gets the same JSON shape there.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from common import middleware
from requests_app.api import exception_handler

logger = logging.getLogger("django.request")

API_PREFIX = "/api/"


def is_api(request: HttpRequest | None) -> bool:
    return request is not None and request.path.startswith(API_PREFIX)


def internal_error_detail() -> str:
    return gettext("Internal error: the action was not carried out. Try again later.")


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, middleware.DATABASE_UNAVAILABLE):
        # DatabaseUnavailableMiddleware answers the JSON 503.
        return None
    request = context.get("request")
    django_request = getattr(request, "_request", request)
    set_rollback()
    # As Django does for an unhandled exception: logged with its traceback
    # (server side only), and signalled to whoever listens (tests).
    logger.error(
        "Internal Server Error: %s",
        getattr(django_request, "path", ""),
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    got_request_exception.send(sender=None, request=django_request)
    return Response(
        {"detail": internal_error_detail(), "code": "internal_error"},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _json(detail: str, code: str, status_code: int) -> JsonResponse:
    response = JsonResponse({"detail": detail, "code": code}, status=status_code)
    response["Cache-Control"] = "no-store"
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return _json(gettext("Bad request."), "bad_request", 400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return _json(
            gettext("You do not have permission to perform this action."),
            "permission_denied",
            403,
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return _json(gettext("Not found."), "not_found", 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    error = sys.exc_info()[1]
    if isinstance(error, middleware.DATABASE_UNAVAILABLE):
        return middleware.database_unavailable(request, error)
    if is_api(request):
        return _json(internal_error_detail(), "internal_error", 500)
    return middleware.server_error(request)


# ---------------------------------------------------------------------------
# The OpenAPI schema documents the error answers of every operation

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error under /api/: a French message and, mostly, a code.",
    "properties": {
        "detail": {
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
            ]
        },
        "code": {"type": "string"},
    },
    "required": ["detail"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "Refused input: `detail`, or the French messages of each field.",
    "additionalProperties": {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {}},
            {"type": "object"},
        ]
    },
}
ERROR_DESCRIPTIONS = {
    "400": "Refused input (French messages); nothing changed.",
    "401": "No valid token or session: missing, expired or revoked.",
    "403": "Not allowed for this user, or second factor not verified.",
    "404": "No such object, or not visible to this user.",
    "405": "Method not allowed on this path.",
    "409": "The request is not in a state that allows this action.",
    "429": "Too many attempts: try again later.",
    "500": "Internal error; no detail is given.",
    "503": "Database or storage unavailable; try again later.",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def expected_errors(path: str, method: str, operation: dict[str, Any]) -> set[str]:
    """The error statuses an operation can answer (also used by the tests)."""
    errors = {"403", "405", "500", "503"}
    anonymous = {} in (operation.get("security") or [{}])
    if not anonymous:
        # 404 also for a user with no role, and for a page past the end.
        errors |= {"401", "404"}
    has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
    if method in WRITE_METHODS or has_query:
        errors.add("400")
    if method in WRITE_METHODS and "{" in path:
        errors.add("409")
    if anonymous:
        errors.add("429")
    return errors


def _error_response(status_code: str) -> dict[str, Any]:
    name = "ValidationError" if status_code == "400" else "Error"
    return {
        "description": ERROR_DESCRIPTIONS[status_code],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


def add_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: each operation lists its errors."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    schemas.setdefault("ValidationError", VALIDATION_ERROR_SCHEMA)
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status_code in sorted(expected_errors(path, method, operation)):
                documented = responses.setdefault(status_code, _error_response(status_code))
                # An operation's own description is kept; the body is the shared one.
                documented.setdefault("content", _error_response(status_code)["content"])
    return result
