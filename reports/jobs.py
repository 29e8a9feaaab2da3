"""Scheduled jobs of the reports app."""

import datetime as dt

from django.utils.translation import gettext_lazy as _

from crm_site.jobs import JobProgress, job


@job("import_files_purge", label=_("Purge import files past their retention"))
def import_files_purge(progress: JobProgress) -> None:
    from .imports import import_files_purge as purge

    progress.advance(purge(), changed=0)


@job("export_files_purge", label=_("Delete export files past their retention"))
def export_files_purge(progress: JobProgress) -> None:
    from .exports import export_files_purge as purge

    progress.advance(purge(), changed=0)


# Job runs past their retention, oldest first, in chunks. Failed runs are kept longer (they are what
# someone investigates), each job's latest run is always kept (the Jobs page shows how it last went),
# queued and running ones are never touched, and a run an import points at stays with the import.
JOBRUN_PURGE_SQL = """
DELETE FROM reports_jobrun WHERE id IN (
    SELECT r.id FROM reports_jobrun AS r
    WHERE ((r.status = 'succeeded' AND r.finished_at < %(cutoff)s)
           OR (r.status = 'failed' AND r.finished_at < %(failed_cutoff)s))
      AND r.id NOT IN (SELECT max(id) FROM reports_jobrun GROUP BY name)
      AND NOT EXISTS (SELECT 1 FROM reports_importjob AS i WHERE i.job_run_id = r.id)
    ORDER BY r.id
    LIMIT %(chunk)s
)
"""


@job("jobruns_purge", label=_("Purge old job runs"))
def jobruns_purge(progress: JobProgress, chunk: int | str = 5000) -> None:
    """Delete finished job runs past JOBRUN_RETENTION_DAYS (failed ones past JOBRUN_FAILED_RETENTION_DAYS).

    The every-minute sweeps alone write about 1,440 runs a day. Idempotent: a second run finds none.
    """
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    now = timezone.now()
    params = {"cutoff": now - dt.timedelta(days=settings.JOBRUN_RETENTION_DAYS),
              "failed_cutoff": now - dt.timedelta(days=settings.JOBRUN_FAILED_RETENTION_DAYS),
              "chunk": int(chunk)}
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(JOBRUN_PURGE_SQL, params)
            deleted = cursor.rowcount
        progress.advance(deleted, changed=deleted)
        if deleted < params["chunk"]:
            return
