"""Scheduled job of the interactions app: the every-minute sweep of reminders and overdue warnings."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_site.jobs import JobProgress, job

from . import services


@job("task_reminders", label=_("Task reminders and overdue warnings"))
def task_reminders(progress: JobProgress, chunk: int | str = services.SWEEP_CHUNK) -> None:
    """Send due reminders and overdue warnings once each, e-mail the notices that want it, and deliver
    customer messages a dead web process left queued. Idempotent: a second run finds nothing to claim."""
    now = timezone.now()
    chunk = int(chunk)
    services.task_reminders_send(now=now, chunk=chunk, progress=progress)
    services.task_overdue_warnings_send(now=now, chunk=chunk, progress=progress)
    sent, failed = services.notification_emails_send()
    if sent or failed:
        progress.advance(0, failed=failed)
    services.outbound_retry()
