from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    name = "org"
    verbose_name = _("Organisation and security")

    def ready(self) -> None:
        from . import jobs, signals  # noqa: F401  (audit plumbing; the platform's scheduled jobs)
