from django.apps import AppConfig


class RequestsAppConfig(AppConfig):
    name = "requests_app"
    verbose_name = "Demandes de levée du secret professionnel"

    def ready(self) -> None:
        from . import signals  # noqa: F401
