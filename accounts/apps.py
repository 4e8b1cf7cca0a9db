from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and roles")

    def ready(self) -> None:
        from . import audit_vocabulary, signals, tokens  # noqa: F401

        audit_vocabulary.register()
