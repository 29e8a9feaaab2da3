"""Reads of the reports app: the job-run log."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import JobRun


def jobrun_list(*, name: str | None = None, limit: int = 100) -> QuerySet[JobRun]:
    """The latest job runs, newest first, optionally of one job."""
    qs = JobRun.objects.select_related("created_by").order_by("-queued_at", "-id")
    if name:
        qs = qs.filter(name=name)
    return qs[:limit]
