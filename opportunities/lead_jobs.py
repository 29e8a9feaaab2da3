"""Scheduled job of the leads: assign new leads by the branches' rules, warn managers of missed first contacts."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_site.jobs import JobProgress, job

from . import lead_services


@job("lead_assignment", label=_("Lead assignment and first-contact warnings"))
def lead_assignment(progress: JobProgress, chunk: int | str = lead_services.ASSIGN_CHUNK) -> None:
    """Assign the new leads a rule can place and warn branch managers once per lead whose first contact is
    overdue. Idempotent: a second run finds nothing new to assign or warn about."""
    now = timezone.now()
    lead_services.leads_assign_pending(now=now, chunk=int(chunk), progress=progress)
    lead_services.leads_warn_overdue(now=now, chunk=int(chunk), progress=progress)
