"""Background exports: a list's XLSX workbook written by a worker, downloaded by the person who asked.

An XLSX file cannot stream (the workbook is a zip written at the end), and a million customers take
about a minute to write: too long for a request behind a proxy. So the list's "XLSX" button asks for an
export (`export_start`: checked, audited, queued), the worker writes it (`export_build`: the filters and
the permissions applied again as the asker, progress in the cache, the file into Django's storage), and
the export's page offers the file to the asker alone (`export_download`, audited each time) until the
hourly purge deletes it. CSV needs none of this: it streams from the first row (crm_site/exports.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import posixpath
import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from crm_site.exports import get_exporter, write_xlsx
from org.audit import audit_record
from org.models import AuditEntry

from .models import ExportJob, export_file_path

PROGRESS_EVERY = 10_000  # rows between two progress notes in the cache
PROGRESS_TTL = 6 * 3600
MAX_ATTEMPTS = 3  # an export that took its worker down this many times (memory, say) is failed, not retried


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
    """The cache key of an export's progress; it names the database, which may share its Redis with others."""
    return f"export-progress:{connection.settings_dict['NAME']}:{job_id}"


def rows_written(job: ExportJob) -> int | None:
    """Rows the worker has written so far (a note in the cache: the rows are read in a transaction of their own)."""
    if job.status == ExportJob.Status.READY:
        return job.rows_total
    if job.status != ExportJob.Status.RUNNING:
        return None
    with contextlib.suppress(RedisError):
        return cache.get(progress_key(job.pk))
    return None


def _note_progress(job_id: int, count: int | None) -> None:
    # Progress only informs: a cache that does not answer must not fail (and restart) a million-row export.
    with contextlib.suppress(RedisError):
        if count is None:
            cache.delete(progress_key(job_id))
        else:
            cache.set(progress_key(job_id), count, PROGRESS_TTL)


def _counted(rows, job_id: int):
    for count, row in enumerate(rows, start=1):
        yield row
        if count % PROGRESS_EVERY == 0:
            _note_progress(job_id, count)


def _scratch_dir(job_id: int) -> Path:
    """The worker's temporary folder for one export: the same on every attempt, so a killed attempt's partial
    workbook (personal data) is removed by the next one rather than left on the worker's disk."""
    return Path(tempfile.gettempdir()) / f"crm-export-{connection.settings_dict['NAME']}-{job_id}"


def _clear_stored(job: ExportJob) -> None:
    """Delete whatever an earlier attempt stored for this export, recorded or not (a worker killed while saving
    leaves a file the record does not name)."""
    folder = posixpath.dirname(export_file_path(job, job.filename))
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for name in default_storage.listdir(folder)[1]:
            default_storage.delete(posixpath.join(folder, name))


def _fail(job_id: int, message: str) -> None:
    ExportJob.objects.filter(pk=job_id, status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]).update(
        status=ExportJob.Status.FAILED, finished_at=timezone.now(), error=message)
    _note_progress(job_id, None)


def export_build(job_id: int) -> ExportJob:
    """Write the export's file (worker): idempotent, and whatever a killed attempt left is replaced or deleted."""
    active = [ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]
    if ExportJob.objects.filter(pk=job_id, status__in=active, attempts__gte=MAX_ATTEMPTS).exists():
        export_fail(job_id)
    claimed = ExportJob.objects.filter(pk=job_id, status__in=active).update(
        status=ExportJob.Status.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1, error="")
    job = ExportJob.objects.select_related("created_by").get(pk=job_id)
    if not claimed:
        return job
    _note_progress(job.pk, 0)
    params = QueryDict(mutable=True)
    for key, values in job.params.items():
        params.setlist(key, values)
    scratch = _scratch_dir(job.pk)
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o700, parents=True)
    try:
        with translation.override(job.language or settings.LANGUAGE_CODE):
            try:
                header, rows, sheet_title = get_exporter(job.kind).source(actor=job.created_by, params=params,
                                                                           plaintext=job.plaintext)
                target = scratch / job.filename
                count = write_xlsx(str(target), header, _counted(rows, job.pk), sheet_title=sheet_title,
                                   tmpdir=str(scratch))
            except (PermissionDenied, ValidationError) as exc:
                _fail(job.pk, " ".join(getattr(exc, "messages", None) or [str(exc)])
                      or _("Your role may not export this list."))
                job.refresh_from_db()
                return job
        _clear_stored(job)
        with target.open("rb") as handle:
            # The name is free (cleared above), so storage keeps it as given: one file per export, at one place.
            name = default_storage.save(export_file_path(job, job.filename), File(handle))
        size = target.stat().st_size
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.READY, finished_at=timezone.now(),
                                               rows_total=count, size=size, file=name)
    _note_progress(job.pk, None)
    job.refresh_from_db()
    return job


def export_fail(job_id: int) -> None:
    """Mark an export failed after an unexpected error or too many attempts (the worker's log has the cause)."""
    with translation.override(ExportJob.objects.filter(pk=job_id).values_list("language", flat=True).first()
                              or settings.LANGUAGE_CODE):
        message = _("The export could not be written. Ask again, or ask an administrator to read the worker's log.")
    _fail(job_id, message)


def available_until(job: ExportJob) -> dt.datetime | None:
    if job.status != ExportJob.Status.READY or job.finished_at is None:
        return None
    return job.finished_at + dt.timedelta(hours=settings.EXPORT_FILE_RETENTION_HOURS)


@transaction.atomic
def export_download(*, actor: Any, job: ExportJob, request=None):
    """Open the file of a ready export for the person who asked for it, audited each time (and as a reveal when
    it holds personal data in plain text); refused once the asker no longer holds the permissions."""
    if job.created_by_id != actor.pk:
        raise PermissionDenied(_("Only the person who asked for an export may download it."))
    exporter = get_exporter(job.kind)
    if not (actor.is_active and actor.has_perm(exporter.permission)):
        raise PermissionDenied(_("Your role may not export this list any more."))
    if job.plaintext and not actor.has_perm(exporter.reveal_permission):
        raise PermissionDenied(_("Your role may not reveal personal data any more."))
    try:
        handle = job.file.open("rb") if job.status == ExportJob.Status.READY and job.file else None
    except FileNotFoundError:
        handle = None
    # Counted and audited only when a file is handed out, and only while the export is still ready.
    if handle is None or not ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.READY).update(
            downloads=F("downloads") + 1):
        if handle is not None:
            handle.close()
        raise ValidationError(_("This export has no file to download."))
    detail = {"export": job.pk, "download": True, "format": job.file_format, "rows": job.rows_total,
              "personal_data": "plaintext" if job.plaintext else "masked"}
    audit_record(action=AuditEntry.Action.EXPORT, actor=actor, request=request, object_type=exporter.object_type,
                 detail=detail)
    if job.plaintext:
        audit_record(action=AuditEntry.Action.REVEAL, actor=actor, request=request,
                     object_type=exporter.object_type, fields=list(exporter.pii_fields), detail=detail)
    return handle


def export_files_purge(*, older_than_hours: int | None = None) -> int:
    """Delete the files of exports finished more than EXPORT_FILE_RETENTION_HOURS ago (the records stay), and fail
    exports that have been queued or running that long (no worker will finish them now)."""
    hours = settings.EXPORT_FILE_RETENTION_HOURS if older_than_hours is None else older_than_hours
    cutoff = timezone.now() - dt.timedelta(hours=hours)
    for job_id in ExportJob.objects.filter(
            status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING], created_at__lt=cutoff
    ).values_list("pk", flat=True):
        export_fail(job_id)
    purged = 0
    for job in ExportJob.objects.filter(finished_at__lt=cutoff, file_purged_at__isnull=True).exclude(
            status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]).iterator():
        _clear_stored(job)
        ExportJob.objects.filter(pk=job.pk).update(
            file="", file_purged_at=timezone.now(),
            status=ExportJob.Status.EXPIRED if job.status == ExportJob.Status.READY else job.status)
        purged += 1
    return purged
