from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpportunitiesConfig(AppConfig):
    name = "opportunities"
    verbose_name = _("Leads and opportunities")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from org import scoping

        from .models import Opportunity, StageChange, SuitabilityOverride

        scoping.register(Opportunity, through="customer")
        for child in (StageChange, SuitabilityOverride):
            scoping.register(child, through="opportunity")
