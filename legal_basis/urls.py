from django.urls import path

from . import views

app_name = "legal_basis"

urlpatterns = [
    path("", views.index, name="list"),
    path("<slug:code>/v<int:version>/", views.detail, name="detail"),
]
