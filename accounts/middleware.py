"""The door after the password: until the second factor is verified, a
session reaches only enrolment, verification, sign-out and static files.

Pages redirect to the second-factor page; the API answers 403 JSON.
Token-authenticated API calls carry no session and pass through (DRF checks
the token in the view).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext

OPEN_URL_NAMES = ("logout", "accounts:second_factor")
OPEN_PREFIXES = ("/compte/second-facteur/", "/compte/webauthn/", "/i18n/")


def is_open(path: str) -> bool:
    if path.startswith(settings.STATIC_URL):
        return True
    if path.startswith(OPEN_PREFIXES):
        return True
    return path in {reverse(name) for name in OPEN_URL_NAMES}


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        verified = getattr(user, "is_verified", None)
        if (
            user.is_authenticated
            and callable(verified)
            and not verified()
            and not is_open(request.path)
        ):
            return self.refuse(request)
        return self.get_response(request)

    def refuse(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "detail": gettext(
                        "Second factor required: finish signing in on the web page first."
                    ),
                    "code": "second_factor_required",
                },
                status=403,
            )
        url = reverse("accounts:second_factor")
        if request.method == "GET" and request.path != "/":
            url += "?" + urlencode({"next": request.path})
        return redirect(url)
