from django.apps import AppConfig


class LegalBasisConfig(AppConfig):
    name = "legal_basis"
    verbose_name = "Bases légales"
