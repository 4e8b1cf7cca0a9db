from django.urls import path

from . import designation_views, token_views, views

app_name = "accounts"

urlpatterns = [
    path("jetons-api/", token_views.api_tokens, name="api_tokens"),
    path("jetons-api/<int:pk>/revoquer/", token_views.revoke_api_token, name="revoke_api_token"),
    path("faisant-fonction/", designation_views.designations, name="designations"),
    path("faisant-fonction/designer/", designation_views.designate, name="designate"),
    path(
        "faisant-fonction/<int:pk>/fin/",
        designation_views.end_designation,
        name="end_designation",
    ),
    path("second-facteur/", views.second_factor, name="second_factor"),
    path("second-facteur/inscription/", views.enrol, name="enrol"),
    path("second-facteur/inscription/qr.svg", views.totp_qr, name="totp_qr"),
    path("second-facteur/codes-de-secours/", views.recovery_codes, name="recovery_codes"),
    path("second-facteur/verification/", views.verify, name="verify"),
    path(
        "webauthn/inscription/fin/",
        views.webauthn_registration_complete,
        name="webauthn_registration_complete",
    ),
    path(
        "webauthn/connexion/fin/",
        views.webauthn_sign_in_complete,
        name="webauthn_sign_in_complete",
    ),
    path(
        "webauthn/signature/fin/",
        views.webauthn_step_up_complete,
        name="webauthn_step_up_complete",
    ),
]
