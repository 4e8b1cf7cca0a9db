from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LegalBasisConfig(AppConfig):
    name = "legal_basis"
    verbose_name = _("Legal bases")
