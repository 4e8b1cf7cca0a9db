from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RequestsAppConfig(AppConfig):
    name = "requests_app"
    verbose_name = _("Requests to lift professional secrecy")

    def ready(self) -> None:
        from . import audit_objects, audit_vocabulary

        audit_objects.register()
        audit_vocabulary.register()
