from django.urls import path

from . import views

app_name = "audit"
urlpatterns = [
    path("", views.timeline, name="timeline"),
    path("demandes/<str:reference>/", views.request_trail, name="request"),
    path("demandes/<str:reference>/acces/", views.request_access, name="request_access"),
    path("utilisateurs/", views.user_activity, name="user_activity"),
    path("verification/", views.verification, name="verification"),
    path("export/<str:fmt>/", views.export, name="export"),
]
