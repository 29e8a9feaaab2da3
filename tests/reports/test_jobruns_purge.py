"""Retention of job runs: the every-minute sweeps write ~1,440 runs a day, so old ones are purged nightly."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from reports.models import JobRun

pytestmark = pytest.mark.django_db


def _run(name, status, days_ago):
    finished = timezone.now() - dt.timedelta(days=days_ago)
    run = JobRun.objects.create(name=name, status=status, trigger=JobRun.Trigger.SCHEDULE,
                                started_at=finished, finished_at=finished)
    JobRun.objects.filter(pk=run.pk).update(queued_at=finished)
    return run.pk


def test_old_runs_go_failed_ones_stay_longer_and_each_jobs_latest_run_stays(settings):
    settings.JOBRUN_RETENTION_DAYS = 30
    settings.JOBRUN_FAILED_RETENTION_DAYS = 180
    ok_old = _run("task_reminders", JobRun.Status.SUCCEEDED, 31)
    ok_recent = _run("task_reminders", JobRun.Status.SUCCEEDED, 29)
    failed_old = _run("task_reminders", JobRun.Status.FAILED, 200)
    failed_recent = _run("task_reminders", JobRun.Status.FAILED, 100)
    stuck_running = JobRun.objects.create(name="rfm", status=JobRun.Status.RUNNING).pk
    only_run_of_its_job = _run("sessions_purge", JobRun.Status.SUCCEEDED, 400)
    latest = _run("task_reminders", JobRun.Status.SUCCEEDED, 0)

    call_command("run_job", "jobruns_purge", "--param", "chunk=1")

    kept = set(JobRun.objects.exclude(name="jobruns_purge").values_list("pk", flat=True))
    assert kept == {ok_recent, failed_recent, stuck_running, only_run_of_its_job, latest}
    assert ok_old not in kept
    assert failed_old not in kept
    purge = JobRun.objects.get(name="jobruns_purge")
    assert purge.status == JobRun.Status.SUCCEEDED
    assert purge.rows_changed == 2

    call_command("run_job", "jobruns_purge")  # idempotent: nothing more to delete
    assert set(JobRun.objects.exclude(name="jobruns_purge").values_list("pk", flat=True)) == kept


def test_the_purge_is_scheduled_nightly_by_default():
    from importlib import import_module

    from django.apps import apps

    # The data migration creates the schedule; a transactional test's flush may have removed it since.
    import_module("reports.migrations.0006_jobruns_purge_schedule").forwards(apps, None)
    task = PeriodicTask.objects.get(name="Purge old job runs")
    assert task.task == "reports.tasks.run_job"
    assert task.args == '["jobruns_purge"]'
    assert (task.crontab.hour, task.crontab.minute) == ("3", "50")
