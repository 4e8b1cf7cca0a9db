from django.urls import path

from . import retention_views

app_name = "retention"

urlpatterns = [
    path("", retention_views.report, name="report"),
    path("gel/", retention_views.place_hold, name="hold"),
    path("gel/<int:pk>/lever/", retention_views.lift_hold, name="lift"),
]
