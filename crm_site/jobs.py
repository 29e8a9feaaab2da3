"""Scheduled and manual jobs: a registry of named jobs, and the JobRun record each run writes.

A job is a function `fn(progress: JobProgress, **params) -> None` registered with `@job("name")`
in its app's `jobs.py`. It must be idempotent (running it twice gives the same state) and
chunked (it reports progress per chunk and commits per chunk). Celery runs it through
`reports.tasks.run_job`; `manage.py run_job NAME` runs it in the foreground.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import F
from django.utils import timezone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    label: Any
    func: Callable[..., None]


JOBS: dict[str, Job] = {}


def job(name: str, *, label: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a job function under `name` (the name schedules and `run_job` use)."""

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        JOBS[name] = Job(name=name, label=label, func=func)
        return func

    return decorate


def get_job(name: str) -> Job:
    try:
        return JOBS[name]
    except KeyError:
        raise LookupError(f"unknown job {name!r}; known jobs: {', '.join(sorted(JOBS))}") from None


class JobProgress:
    """What a running job reports; each call is its own committed UPDATE so pages see it live."""

    def __init__(self, run) -> None:
        self.run = run

    def set_total(self, total: int) -> None:
        self._update(rows_total=total)

    def advance(self, done: int, *, changed: int = 0, failed: int = 0) -> None:
        self._update(
            rows_done=F("rows_done") + done,
            rows_changed=F("rows_changed") + changed,
            rows_failed=F("rows_failed") + failed,
        )

    def _update(self, **values: Any) -> None:
        type(self.run).objects.filter(pk=self.run.pk).update(**values)
        self.run.refresh_from_db(fields=["rows_total", "rows_done", "rows_changed", "rows_failed"])


def jobrun_enqueue(*, run) -> bool:
    """Send `run` to the workers; when the broker is down, mark it failed and say so (False)."""
    from django.conf import settings
    from django.utils.translation import gettext
    from kombu import Connection

    from reports.models import JobRun
    from reports.tasks import run_job

    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2,
                        transport_options={"socket_connect_timeout": 2}) as connection:
            run_job.apply_async(args=[run.name], kwargs={"run_id": run.pk}, connection=connection, retry=False)
    except Exception:  # noqa: BLE001 - any broker failure means the run never started
        log.exception("could not queue job %s (run %s)", run.name, run.pk)
        JobRun.objects.filter(pk=run.pk).update(
            status=JobRun.Status.FAILED, finished_at=timezone.now(),
            error=gettext("The task queue is unavailable."),
        )
        return False
    return True


def jobrun_execute(*, run) -> Any:
    """Run the job behind `run`, recording start, end, status, counts and any error."""
    from org.audit import audit_context
    from reports.models import JobRun

    spec = get_job(run.name)
    JobRun.objects.filter(pk=run.pk).update(
        status=JobRun.Status.RUNNING, started_at=timezone.now(), finished_at=None, error="",
        attempts=F("attempts") + 1, rows_done=0, rows_changed=0, rows_failed=0,
    )
    run.refresh_from_db()
    try:
        with audit_context(user=run.created_by, job=run.name):
            spec.func(JobProgress(run), **run.params)
    except Exception as exc:
        log.exception("job %s (run %s) failed", run.name, run.pk)
        JobRun.objects.filter(pk=run.pk).update(
            status=JobRun.Status.FAILED, finished_at=timezone.now(),
            error="".join(traceback.format_exception_only(exc)).strip()[:4000],
        )
        run.refresh_from_db()
        raise
    JobRun.objects.filter(pk=run.pk).update(status=JobRun.Status.SUCCEEDED, finished_at=timezone.now())
    run.refresh_from_db()
    return run
