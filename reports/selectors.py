"""Reads of the reports app: the job-run log, imports and a person's exports."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .models import JobRun


def jobrun_list(*, name: str | None = None, limit: int = 100) -> QuerySet[JobRun]:
    """The latest job runs, newest first, optionally of one job."""
    qs = JobRun.objects.select_related("created_by").order_by("-queued_at", "-id")
    if name:
        qs = qs.filter(name=name)
    return qs[:limit]


def import_jobs_visible(*, user) -> QuerySet:
    """Imports the user may see: all for head office, their branch subtree's for branch staff, else their own."""
    from org import scoping

    from .models import ImportJob

    qs = ImportJob.objects.select_related("created_by", "branch")
    reach = scoping.reach_of(user)
    if reach.everything:
        return qs
    if reach.branch is not None:
        return qs.filter(branch__path__startswith=reach.branch.path)
    return qs.filter(created_by=user.pk)


def import_job_access(*, user, pk) -> Any:
    """One import the user may see, or Http404 (the same for a missing and a hidden one)."""
    from django.http import Http404

    from .models import ImportJob

    try:
        return import_jobs_visible(user=user).get(pk=pk)
    except (ImportJob.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def import_job_page(*, user, cursor: str | None = None, size: int = 25) -> tuple[list, str | None]:
    """A keyset page of the import history, newest first."""
    from crm_site.pagination import keyset_page

    return keyset_page(import_jobs_visible(user=user), fields=("-created_at", "-id"), cursor=cursor, size=size)


def export_jobs_of(*, user, limit: int = 50) -> QuerySet:
    """The person's own background exports, newest first (exports are personal: nobody sees another's)."""
    from .models import ExportJob

    return ExportJob.objects.filter(created_by=user.pk).order_by("-created_at", "-id")[:limit]


def export_job_access(*, user, pk) -> Any:
    """One of the person's own exports, or Http404 (the same for a missing one and someone else's)."""
    from django.http import Http404

    from .models import ExportJob

    try:
        return ExportJob.objects.get(pk=pk, created_by=user.pk)
    except (ExportJob.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
