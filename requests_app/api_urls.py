from django.urls import include, path

from accounts import token_views

from . import api

app_name = "api"

urlpatterns = [
    path("auth/token/", token_views.issue_api_token, name="token-issue"),
    path("tasks/", api.my_tasks, name="my-tasks"),
    path("requests/", api.request_list, name="request-list"),
    path("requests/<int:pk>/", api.request_detail, name="request-detail"),
    path("requests/<int:pk>/scan/", api.request_scan, name="request-scan"),
    path("requests/<int:pk>/reply.pdf", api.request_reply_pdf, name="request-reply-pdf"),
    path("requests/<int:pk>/assign/", api.assign, name="request-assign"),
    path("requests/<int:pk>/opinion/", api.opinion, name="request-opinion"),
    path("requests/<int:pk>/approve/", api.approve, name="request-approve"),
    path("requests/<int:pk>/refuse/", api.refuse, name="request-refuse"),
    path("requests/<int:pk>/return/", api.return_for_revision, name="request-return"),
    path("requests/<int:pk>/sign/", api.sign, name="request-sign"),
    path("requests/<int:pk>/decline/", api.decline_to_sign, name="request-decline"),
    path("requests/<int:pk>/dispatch/", api.dispatch, name="request-dispatch"),
    path("requests/<int:pk>/close/", api.close, name="request-close"),
    path("requests/<int:pk>/withdraw/", api.withdraw, name="request-withdraw"),
    path("requests/<int:pk>/correct/", api.correct, name="request-correct"),
    path("requests/<int:pk>/annul/", api.annul, name="request-annul"),
    path("requests/<int:pk>/access-reply/", api.access_reply, name="request-access-reply"),
    path(
        "requests/<int:pk>/extend-deadline/", api.extend_deadline, name="request-extend-deadline"
    ),
    path("", include("legal_basis.api_urls")),
]
