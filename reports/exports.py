"""Background exports: a list's XLSX workbook written by a worker, downloaded by the person who asked.

An XLSX file cannot stream (the workbook is a zip written at the end), and a million customers take
about a minute to write: too long for a request behind a proxy. So the list's "XLSX" button asks for an
export (`export_start`: checked, audited, queued), the worker writes it (`export_build`: the filters and
the permissions applied again as the asker, progress in the cache, the file into Django's storage), and
the export's page offers the file to the asker alone (`export_download`, audited each time) until the
hourly purge deletes it. CSV needs none of this: it streams from the first row (crm_site/exports.py).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm_site.exports import get_exporter, write_xlsx
from org.audit import audit_record
from org.models import AuditEntry

from .models import ExportJob

PROGRESS_EVERY = 10_000  # rows between two progress notes in the cache
PROGRESS_TTL = 6 * 3600


def _enqueue(job_id: int) -> None:
    from .tasks import export_build as task

    transaction.on_commit(lambda: task.apply_async(args=[job_id]))


@transaction.atomic
def export_start(*, actor: Any, kind: str, params: QueryDict, plaintext: bool = False) -> ExportJob:
    """Record an export of the list `kind` with its query string `params` and queue it for a worker.

    The caller has checked and audited the export in the same transaction (the list's own service does,
    naming this job), so a refused export leaves no job behind.
    """
    get_exporter(kind)  # an unknown kind fails here, not in the worker
    job = ExportJob.objects.create(kind=kind, params=dict(params.lists()),
                                   plaintext=plaintext, language=translation.get_language() or "",
                                   created_by=actor)
    _enqueue(job.pk)
    return job


def progress_key(job_id: int) -> str:
    return f"export-progress:{job_id}"


def rows_written(job: ExportJob) -> int | None:
    """Rows the worker has written so far (a note in the cache: the rows are read in a transaction of their own)."""
    if job.status == ExportJob.Status.READY:
        return job.rows_total
    if job.status != ExportJob.Status.RUNNING:
        return None
    return cache.get(progress_key(job.pk))


def _counted(rows, job_id: int):
    key = progress_key(job_id)
    for count, row in enumerate(rows, start=1):
        yield row
        if count % PROGRESS_EVERY == 0:
            cache.set(key, count, PROGRESS_TTL)


def export_build(job_id: int) -> ExportJob:
    """Write the export's file (worker). Idempotent: a ready job is left alone; a job whose worker died part-way
    is written again from the start, and the file replaces any earlier one, so one file per job remains."""
    claimed = ExportJob.objects.filter(pk=job_id, status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]
                                       ).update(status=ExportJob.Status.RUNNING, started_at=timezone.now(),
                                                attempts=F("attempts") + 1, error="")
    job = ExportJob.objects.select_related("created_by").get(pk=job_id)
    if not claimed:
        return job
    cache.set(progress_key(job.pk), 0, PROGRESS_TTL)
    params = QueryDict(mutable=True)
    for key, values in job.params.items():
        params.setlist(key, values)
    try:
        with translation.override(job.language or settings.LANGUAGE_CODE):
            header, rows, sheet_title = get_exporter(job.kind).source(actor=job.created_by, params=params,
                                                                       plaintext=job.plaintext)
            with tempfile.NamedTemporaryFile(suffix=f".{job.file_format}") as target:
                count = write_xlsx(target, header, _counted(rows, job.pk), sheet_title=sheet_title)
                target.flush()
                size = os.fstat(target.fileno()).st_size
                target.seek(0)
                if job.file:
                    job.file.delete(save=False)
                job.file.save(job.filename, File(target), save=False)
    except (PermissionDenied, ValidationError) as exc:
        message = " ".join(getattr(exc, "messages", None) or [str(exc)])
        ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.FAILED, finished_at=timezone.now(),
                                                   error=message)
        job.refresh_from_db()
        return job
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.READY, finished_at=timezone.now(),
                                               rows_total=count, size=size, file=job.file.name)
    cache.delete(progress_key(job.pk))
    job.refresh_from_db()
    return job


def export_fail(job_id: int) -> None:
    """Mark an export failed after an unexpected error (the task calls this, then re-raises for the log)."""
    with translation.override(ExportJob.objects.filter(pk=job_id).values_list("language", flat=True).first()
                              or settings.LANGUAGE_CODE):
        message = _("The export could not be written. Ask again, or ask an administrator to read the worker's log.")
    ExportJob.objects.filter(pk=job_id, status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]).update(
        status=ExportJob.Status.FAILED, finished_at=timezone.now(), error=message)


def available_until(job: ExportJob) -> dt.datetime | None:
    if job.status != ExportJob.Status.READY or job.finished_at is None:
        return None
    return job.finished_at + dt.timedelta(hours=settings.EXPORT_FILE_RETENTION_HOURS)


@transaction.atomic
def export_download(*, actor: Any, job: ExportJob, request=None) -> ExportJob:
    """Hand out the file of a ready export to the person who asked for it, audited each time (a reveal too when
    it holds personal data in plain text). Refused once the asker no longer holds the permissions."""
    if job.created_by_id != actor.pk:
        raise PermissionDenied(_("Only the person who asked for an export may download it."))
    if job.status != ExportJob.Status.READY or not job.file:
        raise ValidationError(_("This export has no file to download."))
    exporter = get_exporter(job.kind)
    if not (actor.is_active and actor.has_perm(exporter.permission)):
        raise PermissionDenied(_("Your role may not export this list any more."))
    if job.plaintext and not actor.has_perm(exporter.reveal_permission):
        raise PermissionDenied(_("Your role may not reveal personal data any more."))
    ExportJob.objects.filter(pk=job.pk).update(downloads=F("downloads") + 1)
    detail = {"export": job.pk, "download": True, "format": job.file_format, "rows": job.rows_total,
              "personal_data": "plaintext" if job.plaintext else "masked"}
    audit_record(action=AuditEntry.Action.EXPORT, actor=actor, request=request, object_type=exporter.object_type,
                 detail=detail)
    if job.plaintext:
        audit_record(action=AuditEntry.Action.REVEAL, actor=actor, request=request,
                     object_type=exporter.object_type, fields=list(exporter.pii_fields), detail=detail)
    return job


def export_files_purge(*, older_than_hours: int | None = None) -> int:
    """Delete the files of exports finished more than EXPORT_FILE_RETENTION_HOURS ago; the records stay."""
    hours = settings.EXPORT_FILE_RETENTION_HOURS if older_than_hours is None else older_than_hours
    cutoff = timezone.now() - dt.timedelta(hours=hours)
    purged = 0
    for job in ExportJob.objects.filter(finished_at__lt=cutoff, file_purged_at__isnull=True).exclude(
            status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]).iterator():
        if job.file:
            job.file.delete(save=False)
        ExportJob.objects.filter(pk=job.pk).update(
            file="", file_purged_at=timezone.now(),
            status=ExportJob.Status.EXPIRED if job.status == ExportJob.Status.READY else job.status)
        purged += 1
    return purged

