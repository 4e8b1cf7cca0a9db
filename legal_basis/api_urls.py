"""Catalogue endpoints, included by requests_app.api_urls under /api/."""

from django.urls import path

from . import api

urlpatterns = [
    path("legal-bases/", api.LegalBasisList.as_view(), name="legal-basis-list"),
    path("legal-bases/<slug:code>/", api.LegalBasisDetail.as_view(), name="legal-basis-detail"),
]
