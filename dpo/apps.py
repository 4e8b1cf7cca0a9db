from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DpoConfig(AppConfig):
    name = "dpo"
    verbose_name = _("Data protection officer's desk")

    def ready(self) -> None:
        from . import audit_vocabulary, retention_vocabulary

        audit_vocabulary.register()
        retention_vocabulary.register()
