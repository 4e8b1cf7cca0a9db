from django.urls import path

from . import views

app_name = "dpo"

urlpatterns = [
    path("registre/", views.register, name="register"),
    path("registre/export/", views.register_export, name="register_export"),
    path("registre-des-traitements/", views.processing_record, name="processing_record"),
    path("demandes-d-acces/", views.access_requests, name="access_requests"),
    path("demandes-d-acces/<int:pk>/prolonger/", views.extend_access, name="extend_access"),
]
