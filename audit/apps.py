from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        # Every admin module is loaded by now (django.contrib.admin comes
        # first in INSTALLED_APPS): no admin page changes data off the chain.
        from django.contrib import admin

        from .admin import audit_every_admin

        audit_every_admin(admin.site)
