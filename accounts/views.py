"""The second factor: enrolment at the first sign-in, verification at each
sign-in, and the WebAuthn ceremonies' completion (django-otp-webauthn's
views, with our audit events and the step-up of a signature)."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from django_otp import login as otp_login
from django_otp_webauthn import exceptions as webauthn_errors
from django_otp_webauthn.views import (
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from audit import log

from . import services
from .forms import CodeForm, EnrolCodeForm
from .models import User

RECOVERY_CODES_SESSION_KEY = "huisclos_recovery_codes"


def _user(request: HttpRequest) -> User:
    # Behind login_required: a signed-in user.
    return cast(User, request.user)


def _is_verified(request: HttpRequest) -> bool:
    verified = getattr(request.user, "is_verified", None)
    return bool(callable(verified) and verified())


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@require_GET
@login_required
def second_factor(request: HttpRequest) -> HttpResponse:
    """Where the door sends a session that has no verified second factor."""
    if _is_verified(request):
        return redirect(_next_url(request))
    name = "verify" if services.has_second_factor(_user(request)) else "enrol"
    target = resolve_url(f"accounts:{name}")
    if request.GET.get("next"):
        target += "?" + request.GET.urlencode()
    return redirect(target)


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def enrol(request: HttpRequest) -> HttpResponse:
    if services.has_second_factor(_user(request)):
        return redirect("accounts:second_factor")
    device = services.pending_totp_device(_user(request))
    form = EnrolCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.confirm_totp(_user(request), form.cleaned_data["otp"])
        if codes is not None:
            device.refresh_from_db()
            otp_login(request, device)
            request.session[RECOVERY_CODES_SESSION_KEY] = codes
            return redirect("accounts:recovery_codes")
        form.errors["otp"] = form.error_class([_wrong_code()])
    return render(
        request,
        "accounts/enrol.html",
        {"form": form, "secret": services.totp_secret(device), "next": _next_url(request)},
    )


def _wrong_code() -> str:
    return gettext("This code is not valid. Type the code the app shows now and try again.")


@require_GET
@login_required
@never_cache
def totp_qr(request: HttpRequest) -> HttpResponse:
    """The QR code of the authenticator being enrolled (none once enrolled)."""
    if services.has_second_factor(_user(request)):
        return HttpResponse(status=404)
    device = services.pending_totp_device(_user(request))
    return HttpResponse(services.totp_qr_svg(device), content_type="image/svg+xml")


@require_GET
@login_required
@never_cache
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """The recovery codes, shown once right after enrolment."""
    codes = request.session.pop(RECOVERY_CODES_SESSION_KEY, None)
    if not codes or not _is_verified(request):
        return redirect("accounts:second_factor")
    return render(request, "accounts/recovery_codes.html", {"codes": codes})


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def verify(request: HttpRequest) -> HttpResponse:
    if _is_verified(request):
        return redirect(_next_url(request))
    if not services.has_second_factor(_user(request)):
        return redirect("accounts:enrol")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.verify_second_factor(_user(request), form.cleaned_data["otp"])
        if device is not None:
            otp_login(request, device)
            return redirect(_next_url(request))
        form.errors["otp"] = form.error_class([_wrong_code()])
    return render(
        request,
        "accounts/verify.html",
        {
            "form": form,
            "next": _next_url(request),
            "has_webauthn": services.has_webauthn(_user(request)),
            "recovery_left": services.remaining_recovery_codes(_user(request)),
        },
    )


# ---------------------------------------------------------------------------
# WebAuthn: django-otp-webauthn's "begin" views are used as they are; these
# "complete" views add our audit events, recovery codes and the step-up.


class NotSignedIn(webauthn_errors.OTPWebAuthnApiError):  # type: ignore[misc]
    status_code = 403
    code = "not_authenticated"
    default_detail = "Sign in with your password first."


@method_decorator(never_cache, name="dispatch")
class WebAuthnRegistrationComplete(CompleteCredentialRegistrationView):  # type: ignore[misc]
    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        had_factor = services.has_second_factor(self.request.user)
        response: JsonResponse = super().post(*args, **kwargs)
        if not had_factor:
            self.request.session[RECOVERY_CODES_SESSION_KEY] = services.webauthn_enrolled(
                self.request.user
            )
        else:
            log.record_session_event(
                "second_factor_enrolled",
                actor_id=self.request.user.pk,
                details={"device": "webauthn"},
            )
        return response


@method_decorator(never_cache, name="dispatch")
class WebAuthnSignInComplete(CompleteCredentialAuthenticationView):  # type: ignore[misc]
    """The second factor of a sign-in: after the password, never instead of it."""

    def complete_auth(self, device: Any) -> Any:
        user = self.request.user
        if not user.is_authenticated or device.user_id != user.pk:
            raise NotSignedIn()
        otp_login(self.request, device)
        log.record_session_event(
            "second_factor_verified", actor_id=user.pk, details={"device": "webauthn"}
        )

    def get_success_url(self) -> str:
        return _next_url(self.request)


@method_decorator(never_cache, name="dispatch")
class WebAuthnStepUpComplete(CompleteCredentialAuthenticationView):  # type: ignore[misc]
    """An assertion made for a signature: good once, for 2 minutes, in this session."""

    def complete_auth(self, device: Any) -> Any:
        user = self.request.user
        if not user.is_authenticated or not _is_verified(self.request):
            raise NotSignedIn()
        if device.user_id != user.pk:
            raise NotSignedIn()
        services.record_webauthn_step_up(self.request.session, user)

    def get_success_data(self, device: Any) -> dict[str, Any]:
        return {"id": device.pk}


webauthn_registration_complete = WebAuthnRegistrationComplete.as_view()
webauthn_sign_in_complete = WebAuthnSignInComplete.as_view()
webauthn_step_up_complete = WebAuthnStepUpComplete.as_view()
