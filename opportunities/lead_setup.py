"""Start-up wiring of the leads half of the app (called from OpportunitiesConfig.ready())."""


def ready() -> None:
    from django.utils.translation import gettext_lazy as _

    from customers import services as customer_services
    from customers.panels import Panel, register_panel
    from interactions.widgets import Widget, register_widget
    from org import scoping

    # Register the admin pages, the assignment job and the leads import resource.
    from . import lead_admin, lead_jobs, lead_resources  # noqa: F401
    from .lead_selectors import customer_leads_panel
    from .models_leads import Lead, LeadAssignment, Referral

    # An RM sees the leads assigned to them; branch-level roles their branch subtree; head office all.
    scoping.register(Lead, branch_field="branch", owner_field="assigned_to")
    scoping.register(LeadAssignment, through="lead")
    # A referral belongs to the branch of its customer and is the referrer's own.
    scoping.register(Referral, branch_field="branch", owner_field="referrer")

    # A merge re-points the duplicate's leads and referrals to the survivor.
    for label in ("opportunities.Lead", "opportunities.Referral"):
        if (label, "customer") not in customer_services.MERGE_CHILDREN:
            customer_services.MERGE_CHILDREN.append((label, "customer"))

    # The workbench renders within its query budget: the widget arrives empty and loads itself (one query).
    register_widget(Widget(key="leads", title=_("My leads"), template="opportunities/leads/widgets/_my_leads.html",
                           context=lambda data: {"lazy": True}, order=58, permission="opportunities.view_lead"))
    register_panel(Panel("leads", _("Leads and referrals"), "opportunities/leads/panels/_leads.html",
                         customer_leads_panel, order=45))
