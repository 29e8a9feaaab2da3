"""Celery tasks of the job framework: thin — find or create the JobRun, then execute it."""

from celery import shared_task
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from crm_site.jobs import jobrun_execute

from .models import JobRun

TRANSIENT_ERRORS = (OperationalError, InterfaceError, RedisConnectionError)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def run_job(self, name: str, run_id: int | None = None, params: dict | None = None) -> int:
    """Run the named job once per message: a redelivered message resumes its own JobRun."""
    task_id = self.request.id or ""
    if run_id is not None:
        run = JobRun.objects.get(pk=run_id)
        if not run.task_id and task_id:
            JobRun.objects.filter(pk=run.pk, task_id="").update(task_id=task_id)
    else:
        run, _created = JobRun.objects.get_or_create(
            task_id=task_id, defaults={"name": name, "params": params or {}, "trigger": JobRun.Trigger.SCHEDULE}
        )
    if run.status == JobRun.Status.SUCCEEDED:
        # The message came back after the job had finished (worker lost before the ack).
        return run.pk
    try:
        jobrun_execute(run=run)
    except TRANSIENT_ERRORS:
        raise
    except Exception:  # noqa: BLE001 - the JobRun carries the error; retrying would fail the same way
        return run.pk
    return run.pk


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, autoretry_for=TRANSIENT_ERRORS,
             retry_backoff=True, max_retries=5)
def import_validate(self, job_id: int) -> int:
    """Validate an uploaded import file; a redelivered message starts the validation over."""
    from crm_site.importing.pipeline import validate
    from org.audit import audit_context

    with audit_context(username="import", job=f"import_validate:{job_id}"):
        validate(job_id)
    return job_id


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, autoretry_for=TRANSIENT_ERRORS,
             retry_backoff=True, max_retries=5)
def import_commit(self, job_id: int) -> int:
    """Commit a validated import in one transaction; a redelivered message finds it committed and stops."""
    from crm_site.importing.pipeline import commit

    commit(job_id)
    return job_id


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, autoretry_for=TRANSIENT_ERRORS,
             retry_backoff=True, max_retries=5)
def import_revert(self, job_id: int) -> int:
    """Revert a committed import in one transaction; a redelivered message finds it reverted and stops."""
    from crm_site.importing.pipeline import revert_job

    revert_job(job_id)
    return job_id


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, autoretry_for=TRANSIENT_ERRORS,
             retry_backoff=True, max_retries=5)
def export_build(self, job_id: int) -> int:
    """Write a background export's file; a redelivered message writes it again, or finds it ready and stops."""
    from .exports import export_build as build
    from .exports import export_fail

    try:
        build(job_id)
    except TRANSIENT_ERRORS:
        if self.request.retries >= self.max_retries:
            export_fail(job_id)  # the last retry: the page must not show "being written" for ever
        raise
    except Exception:
        # The export's page says it failed; the traceback goes to the worker's log, not to the page.
        export_fail(job_id)
        raise
    return job_id
