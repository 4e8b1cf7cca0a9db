"""API tokens: the owner's page ("Mes jetons d'API": create with a label, see
once, list, revoke) and the API's token issue (password and second factor).

Each token is shown once, in the answer that creates it; only its digest is
kept (accounts.models.ApiToken).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from knox.settings import knox_settings
from rest_framework import serializers, status
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
    throttle_classes,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from . import services
from .models import ApiToken, User


class TokenLabelForm(forms.Form):
    label = forms.CharField(
        label=_("Label"),
        max_length=100,
        strip=True,
        help_text=_("What the token is for, to recognise it later (e.g. “statistics script”)."),
    )


def _owner(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _page(
    request: HttpRequest, form: TokenLabelForm, *, new_token: str = "", status: int = 200
) -> HttpResponse:
    owner = _owner(request)
    return render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "tokens": services.live_api_tokens(owner),
            "new_token": new_token,
            "header_example": f"Authorization: {knox_settings.AUTH_HEADER_PREFIX} …",
            "token_days": knox_settings.TOKEN_TTL.days,
            "token_limit": knox_settings.TOKEN_LIMIT_PER_USER,
        },
        status=status,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """List the owner's tokens; POST creates one and shows it this once."""
    if request.method != "POST":
        return _page(request, TokenLabelForm())
    form = TokenLabelForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        _token, clear = services.create_api_token(
            _owner(request), label=form.cleaned_data["label"], channel="web"
        )
    except services.TokenLimitReached:
        form.add_error(
            None, gettext("You already hold the maximum number of tokens: revoke one first.")
        )
        return _page(request, form, status=409)
    # Rendered, not redirected: the token exists in clear only in this answer.
    return _page(request, TokenLabelForm(), new_token=clear, status=201)


@login_required
@require_POST
def revoke_api_token(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.revoke_api_token(_owner(request), pk)
    except ApiToken.DoesNotExist:
        raise Http404 from None
    messages.success(request, gettext("The token is revoked: it no longer opens the API."))
    return redirect("accounts:api_tokens")


# ---------------------------------------------------------------------------
# The API's token issue


class TokenIssueSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    otp = serializers.CharField(max_length=32)
    label = serializers.CharField(  # type: ignore[assignment]  # a field, not Field.label
        max_length=100, required=False, default="", allow_blank=True
    )


_REFUSED = _(
    "Sign-in refused: check the user name, the password and the code of your second factor."
)


@extend_schema(
    request=TokenIssueSerializer,
    responses={
        201: inline_serializer(
            "IssuedToken",
            {
                "id": serializers.IntegerField(),
                "token": serializers.CharField(),
                "expiry": serializers.DateTimeField(),
            },
        ),
        400: OpenApiResponse(description="Missing field, or credentials refused"),
        409: OpenApiResponse(description="Too many live tokens: revoke one first"),
        429: OpenApiResponse(description="Sign-in locked for a while (too many failures)"),
    },
    summary="Issue an API token (password and second factor); shown once",
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def issue_api_token(request: Request) -> Response:
    """POST username, password, otp (TOTP or recovery code), label: a token, once.

    Clients then send `Authorization: Token <token>`.
    """
    serializer = TokenIssueSerializer(data=request.data)
    if not serializer.is_valid():
        return Response(
            {"detail": gettext("Incomplete request."), "fields": sorted(serializer.errors)},
            status=status.HTTP_400_BAD_REQUEST,
        )
    data = serializer.validated_data
    django_request = request._request
    user = authenticate(django_request, username=data["username"], password=data["password"])
    if getattr(django_request, "axes_locked_out", False):
        return Response(
            {
                "detail": gettext("Too many failed attempts: sign-in is locked for a while."),
                "code": "locked_out",
            },
            status=status.HTTP_429_TOO_MANY_REQUESTS,
        )
    if not isinstance(user, User) or not user.is_active:
        return Response({"detail": str(_REFUSED)}, status=status.HTTP_400_BAD_REQUEST)
    if services.verify_second_factor(user, data["otp"]) is None:
        # A wrong second factor counts as a failed sign-in (throttling, trail).
        user_login_failed.send(
            sender=__name__,
            credentials={"username": data["username"]},
            request=django_request,
        )
        return Response({"detail": str(_REFUSED)}, status=status.HTTP_400_BAD_REQUEST)
    try:
        token, clear = services.create_api_token(user, label=data["label"], channel="api")
    except services.TokenLimitReached:
        return Response(
            {
                "detail": gettext(
                    "You already hold the maximum number of tokens: revoke one first."
                ),
                "code": "token_limit",
            },
            status=status.HTTP_409_CONFLICT,
        )
    return Response(
        {"id": token.pk, "token": clear, "expiry": token.expiry},
        status=status.HTTP_201_CREATED,
        headers={"Cache-Control": "no-store"},
    )
