"""The platform's own scheduled jobs: purge expired sessions and stale sign-in failures."""

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_site.jobs import JobProgress, job

CHUNK = 5000


def _delete_in_chunks(progress: JobProgress, queryset) -> None:
    progress.set_total(queryset.count())
    model = queryset.model
    while True:
        keys = list(queryset.values_list("pk", flat=True)[:CHUNK])
        if not keys:
            return
        deleted, _detail = model.objects.filter(pk__in=keys).delete()
        progress.advance(len(keys), changed=deleted)


@job("sessions_purge", label=_("Purge expired sessions"))
def sessions_purge(progress: JobProgress) -> None:
    """Delete sessions past their expiry date (idempotent: a second run finds none)."""
    _delete_in_chunks(progress, Session.objects.filter(expire_date__lt=timezone.now()).order_by("pk"))


@job("lockouts_purge", label=_("Purge expired sign-in failures"))
def lockouts_purge(progress: JobProgress) -> None:
    """Forget failed sign-in attempts older than the lockout cool-off (django-axes keeps them otherwise)."""
    cutoff = timezone.now() - settings.AXES_COOLOFF_TIME
    _delete_in_chunks(progress, AccessAttempt.objects.filter(attempt_time__lt=cutoff).order_by("pk"))
