from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpportunitiesConfig(AppConfig):
    name = "opportunities"
    verbose_name = _("Leads and opportunities")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from customers import services as customer_services
        from customers.panels import Panel, register_panel
        from interactions.widgets import Widget, register_widget
        from org import scoping

        from .models import Opportunity, StageChange, SuitabilityOverride
        from .panels import opportunities_panel, pipeline_widget, recommendations_panel

        scoping.register(Opportunity, through="customer")
        for child in (StageChange, SuitabilityOverride):
            scoping.register(child, through="opportunity")

        register_panel(Panel("opportunities", _("Opportunities"), "opportunities/panels/_opportunities.html",
                             opportunities_panel, order=50, permission="opportunities.view_opportunity"))
        register_panel(Panel("recommendations", _("Recommended next products"),
                             "opportunities/panels/_recommendations.html", recommendations_panel, order=55,
                             permission="opportunities.view_opportunity"))
        register_widget(Widget(key="pipeline", title=_("My pipeline"), template="opportunities/widgets/_pipeline.html",
                               context=pipeline_widget, order=60, permission="opportunities.view_opportunity"))

        # A merge re-points every child row of the duplicate to the survivor, opportunities included.
        if ("opportunities.Opportunity", "customer") not in customer_services.MERGE_CHILDREN:
            customer_services.MERGE_CHILDREN.append(("opportunities.Opportunity", "customer"))

        # The leads half of the app (leads, assignment rules, referrals): scoping, job, panel, admin.
        from . import lead_setup

        lead_setup.ready()
