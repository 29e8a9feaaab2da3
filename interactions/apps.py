from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InteractionsConfig(AppConfig):
    name = "interactions"
    verbose_name = _("Contacts and tasks")

    def ready(self) -> None:
        from customers import services as customer_services
        from customers.panels import Panel, register_panel
        from org import scoping

        from . import jobs  # noqa: F401 - registers the sweep with the job registry
        from .models import Interaction, InteractionRevision, OutboundMessage, Task, TimelineEvent
        from .selectors import timeline_panel
        from .widgets import register_default_widgets

        for child in (Interaction, TimelineEvent, OutboundMessage):
            scoping.register(child, through="customer")
        scoping.register(InteractionRevision, through="interaction")
        # A task may have no customer: it is reached through its assignee's branch and the assignee;
        # selectors.task_queryset adds its creator and whoever may see its customer.
        scoping.register(Task, branch_field="assignee__branch", owner_field="assignee")

        register_panel(Panel("timeline", _("Contacts and timeline"), "interactions/panels/_timeline.html",
                             timeline_panel, order=15, wide=True,
                             permission="interactions.view_interaction"))
        register_default_widgets()

        # A merge re-points every child row of the duplicate to the survivor, ours included.
        for label in ("interactions.Interaction", "interactions.TimelineEvent", "interactions.Task",
                      "interactions.OutboundMessage"):
            if (label, "customer") not in customer_services.MERGE_CHILDREN:
                customer_services.MERGE_CHILDREN.append((label, "customer"))
