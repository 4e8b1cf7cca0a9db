from django.urls import path

from . import statistics_views

app_name = "statistics"

urlpatterns = [
    path("", statistics_views.index, name="index"),
    path("export.csv", statistics_views.export_csv, name="csv"),
    path("rapport-annuel.pdf", statistics_views.annual_report, name="annual_report"),
]
