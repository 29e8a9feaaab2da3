"""Bulk imports as business actions: start (store + validate), commit, revert, rerun; and the error report.

Every action is keyword-only, checks the import permission, and is audited. The heavy work runs in
Celery tasks (reports/tasks.py, acks_late) through the generic pipeline of crm_site/importing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import File
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm_site.importing import get_resource, registered_kinds
from crm_site.importing.pipeline import drop_tables, has_working_data
from org.audit import audit_record
from org.models import AuditEntry

from .models import ImportJob, ImportRowError

IMPORT_PERMISSION = "reports.import_data"
EXPORT_PERMISSION = "reports.export_data"
ENCODINGS = ("", "utf-8", "utf-8-sig", "gb18030")


def can_import(user: Any) -> bool:
    """Whether the user may use the import pages and services at all (RMs may not)."""
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(IMPORT_PERMISSION))


def require_import_permission(user: Any) -> None:
    if not can_import(user):
        raise PermissionDenied(_("Your role may not import data."))


def importable_kinds(user: Any) -> list[tuple[str, str]]:
    """(kind, label) of what the user may import: every registered resource for import staff, else none."""
    if not can_import(user):
        return []
    kinds = set(registered_kinds())
    return [(value, label) for value, label in ImportJob.Kind.choices if value in kinds]


def _enqueue(task, job_id: int) -> None:
    transaction.on_commit(lambda: task.apply_async(args=[job_id]))


def _store(job: ImportJob, upload: Any) -> None:
    digest = hashlib.sha256()
    size = 0
    for block in upload.chunks():
        digest.update(block)
        size += len(block)
    upload.seek(0)
    job.size, job.sha256 = size, digest.hexdigest()
    job.file.save(job.original_name, File(upload, name=job.original_name), save=False)


@transaction.atomic
def import_start(*, actor: Any, upload: Any, kind: str, mode: str, encoding: str = "") -> ImportJob:
    """Store the uploaded file in Django's storage, create the job and queue its validation.

    File-level problems found at once (too large, empty) end the job as rejected with a message;
    the rest (format, encoding, columns) are found by the validation task and end the same way.
    """
    from .tasks import import_validate

    require_import_permission(actor)
    if kind not in dict(importable_kinds(actor)):
        raise ValidationError({"kind": _("Choose what the file holds.")})
    if mode not in ImportJob.Mode.values:
        raise ValidationError({"mode": _("Choose what to do with each row.")})
    if encoding not in ENCODINGS:
        raise ValidationError({"encoding": _("Unknown encoding.")})
    name = (getattr(upload, "name", "") or "upload").rsplit("/", 1)[-1][:255]
    job = ImportJob.objects.create(kind=kind, mode=mode, created_by=actor, branch=getattr(actor, "branch", None),
                                   original_name=name, encoding_requested=encoding,
                                   language=translation.get_language() or "")
    size = getattr(upload, "size", None) or 0
    if size > settings.IMPORT_MAX_FILE_BYTES:
        # Not stored: a file past the limit is refused before a byte of it is kept.
        job.size = size
        job.status = ImportJob.Status.REJECTED
        job.file_error = _("The file is %(size)s; at most %(max)s can be imported at once. Split it.") % {
            "size": filesizeformat(size), "max": filesizeformat(settings.IMPORT_MAX_FILE_BYTES)}
        job.finished_at = timezone.now()
    elif not size:
        job.status = ImportJob.Status.REJECTED
        job.file_error = _("The file is empty: it holds no header and no rows.")
        job.finished_at = timezone.now()
    else:
        _store(job, upload)
    job.save()
    audit_record(action=AuditEntry.Action.IMPORT, actor=actor, obj=job,
                 detail={"step": "upload", "kind": kind, "mode": mode, "file": name, "size": job.size,
                         "sha256": job.sha256, "status": job.status})
    if job.status == ImportJob.Status.UPLOADED:
        _enqueue(import_validate, job.pk)
    return job


@transaction.atomic
def import_rerun(*, job: ImportJob, actor: Any, encoding: str) -> ImportJob:
    """Validate the same stored file again with another encoding: a new job that shares the stored file."""
    from .tasks import import_validate

    require_import_permission(actor)
    if encoding not in ENCODINGS or not encoding:
        raise ValidationError({"encoding": _("Unknown encoding.")})
    if not job.file or job.file_purged_at:
        raise ValidationError(_("The file of this import was deleted after its retention period; upload it again."))
    rerun = ImportJob.objects.create(
        kind=job.kind, mode=job.mode, created_by=actor, branch=getattr(actor, "branch", None),
        original_name=job.original_name, size=job.size, sha256=job.sha256, encoding_requested=encoding,
        rerun_of=job)
    with job.file.open("rb") as stream:
        rerun.file.save(job.original_name, File(stream, name=job.original_name), save=True)
    audit_record(action=AuditEntry.Action.IMPORT, actor=actor, obj=rerun,
                 detail={"step": "rerun", "of": job.pk, "encoding": encoding})
    _enqueue(import_validate, rerun.pk)
    return rerun


@transaction.atomic
def import_commit(*, job: ImportJob, actor: Any, accept_partial: bool = False) -> ImportJob:
    """Queue the commit of a validated import: all rows, or (chosen and recorded) the valid rows only."""
    from .tasks import import_commit as import_commit_task

    require_import_permission(actor)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status in (ImportJob.Status.COMMITTING, ImportJob.Status.COMMITTED):
        return job  # a second click: the first one is on its way
    if job.status != ImportJob.Status.VALIDATED:
        raise ValidationError(_("Only a validated import can be committed."))
    if job.count_invalid and not accept_partial:
        raise ValidationError(_("%(n)d rows are invalid: fix the file and upload it again, or choose to "
                                "commit the valid rows only.") % {"n": job.count_invalid})
    if not (job.count_new or job.count_changed):
        raise ValidationError(_("Nothing to write: every valid row is already on file as it is."))
    job.status = ImportJob.Status.COMMITTING
    job.accept_partial = bool(accept_partial and job.count_invalid)
    job.committed_by = actor
    job.save(update_fields=["status", "accept_partial", "committed_by"])
    _enqueue(import_commit_task, job.pk)
    return job


@transaction.atomic
def import_revert(*, job: ImportJob, actor: Any) -> ImportJob:
    """Within IMPORT_REVERT_WINDOW: queue the revert (remove the rows the import created, restore those it updated).

    The revert itself runs in a Celery task (reports/tasks.py, acks_late) in one transaction; the job shows
    "reverting" until then. Who asked is recorded now and named in the audit entry the task writes.
    """
    from .tasks import import_revert as import_revert_task

    require_import_permission(actor)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status == ImportJob.Status.REVERTING:
        return job  # a second click: the first one is on its way
    if job.status != ImportJob.Status.COMMITTED:
        raise ValidationError(_("Only a committed import can be reverted."))
    if job.committed_at is None or timezone.now() - job.committed_at > settings.IMPORT_REVERT_WINDOW:
        raise ValidationError(_("This import was committed more than %(days)d days ago; it can no longer be "
                                "reverted.") % {"days": settings.IMPORT_REVERT_WINDOW.days})
    if not has_working_data(job):
        raise ValidationError(_("This import's working data was deleted with its file; it cannot be reverted."))
    job.status = ImportJob.Status.REVERTING
    job.reverted_by = actor
    job.revert_error = ""
    job.save(update_fields=["status", "reverted_by", "revert_error"])
    _enqueue(import_revert_task, job.pk)
    return job


def import_error_rows(*, job: ImportJob) -> Iterator[tuple]:
    """(row, column, masked value, message) of every row problem, in file order, streamed for the CSV."""
    yield from ImportRowError.objects.filter(job=job).order_by("row", "id").values_list(
        "row", "column", "value", "message").iterator(chunk_size=5000)


def import_files_purge(*, older_than_days: int | None = None) -> int:
    """Delete stored files and staging tables of imports older than IMPORT_FILE_RETENTION_DAYS."""
    days = settings.IMPORT_FILE_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timezone.timedelta(days=days)
    purged = 0
    for job in ImportJob.objects.filter(created_at__lt=cutoff, file_purged_at__isnull=True).exclude(
            status__in=[ImportJob.Status.VALIDATING, ImportJob.Status.COMMITTING,
                        ImportJob.Status.REVERTING]).iterator():
        if job.file:
            job.file.delete(save=False)
        drop_tables(job)
        ImportJob.objects.filter(pk=job.pk).update(file="", file_purged_at=timezone.now())
        purged += 1
    return purged


def resource_for(job: ImportJob):
    return get_resource(job.kind)
