from django.urls import path

from . import audit_views

app_name = "audit"
urlpatterns = [
    path("", audit_views.timeline, name="timeline"),
    path("demandes/<str:reference>/", audit_views.request_trail, name="request"),
    path("demandes/<str:reference>/acces/", audit_views.request_access, name="request_access"),
    path("utilisateurs/", audit_views.user_activity, name="user_activity"),
    path("verification/", audit_views.verification, name="verification"),
    path("export/<str:fmt>/", audit_views.export, name="export"),
]
