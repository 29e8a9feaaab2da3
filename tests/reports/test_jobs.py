"""Jobs on a real Celery worker: runs, progress, a SIGKILLed worker, the jobs page and run_job."""

import json
import signal

import pytest
import redis
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from reports.models import JobRun
from reports.tasks import run_job

from ..workers import Worker, wait_for
from .slow_job import finished_key

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(roles):
    running = Worker().start()
    yield running
    running.stop()


def _status(run):
    run.refresh_from_db()
    return run.status


@pytest.mark.worker
def test_admin_starts_a_job_that_a_real_worker_runs(client_for, org, worker):
    Session.objects.create(session_key="x" * 32, session_data="e30=",
                           expire_date=timezone.now() - timezone.timedelta(days=1))
    response = client_for("admin").post(reverse("reports:jobrun-start"), {"name": "sessions_purge"})
    run = JobRun.objects.get(name="sessions_purge", trigger=JobRun.Trigger.MANUAL)
    assert response.status_code == 302
    assert response["Location"] == run.get_absolute_url()
    wait_for(lambda: _status(run) == JobRun.Status.SUCCEEDED, what="sessions_purge to finish")
    assert run.rows_changed == 1
    assert run.attempts == 1
    assert run.task_id
    assert not Session.objects.filter(session_key="x" * 32).exists()


@pytest.mark.worker
def test_worker_killed_mid_task_runs_it_again_and_finishes_once(worker):
    run = JobRun.objects.create(name="test_slow_job", params={"chunks": 12, "pause": 0.25})
    # Run ids restart after a flush; a counter left by an earlier run of the suite must not count.
    redis.Redis.from_url(settings.REDIS_URL).delete(finished_key(run.pk))
    run_job.apply_async(args=["test_slow_job"], kwargs={"run_id": run.pk})
    wait_for(lambda: JobRun.objects.get(pk=run.pk).rows_done >= 3, what="the job to be part-way")

    victims = worker.pool_children()
    assert len(victims) == 1
    victims[0].send_signal(signal.SIGKILL)

    wait_for(lambda: _status(run) == JobRun.Status.SUCCEEDED, timeout=90, what="the redelivered job to finish")
    assert run.attempts == 2
    assert run.rows_done == 12
    assert run.rows_total == 12
    assert int(redis.Redis.from_url(settings.REDIS_URL).get(finished_key(run.pk))) == 1
    assert JobRun.objects.filter(name="test_slow_job").count() == 1


@pytest.mark.worker
def test_jobs_page_shows_progress_and_outcome(client_for, worker):
    run = JobRun.objects.create(name="test_slow_job", params={"chunks": 2, "pause": 0.1})
    run_job.apply_async(args=["test_slow_job"], kwargs={"run_id": run.pk})
    wait_for(lambda: _status(run) == JobRun.Status.SUCCEEDED, what="the job to finish")
    client = client_for("admin")
    page = client.get(reverse("reports:jobrun-list")).content.decode()
    assert "test_slow_job" in page
    detail = client.get(run.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "2 / 2" in detail
    assert "hx-trigger" not in detail  # finished: the page stops polling


def test_run_job_command_runs_in_the_foreground_and_prints_the_record(capsys, roles):
    Session.objects.create(session_key="y" * 32, session_data="e30=",
                           expire_date=timezone.now() - timezone.timedelta(days=1))
    call_command("run_job", "sessions_purge")
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "succeeded"
    assert record["rows_changed"] == 1
    call_command("run_job", "sessions_purge")
    again = json.loads(capsys.readouterr().out)
    assert again["rows_changed"] == 0  # idempotent: nothing left to purge


def test_run_job_refuses_an_unknown_job_by_name(roles):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown job 'nope'"):
        call_command("run_job", "nope")
    assert not JobRun.objects.exists()


def test_failed_job_records_its_error(roles):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("run_job", "sessions_purge", "--param", "unexpected=1")
    run = JobRun.objects.get(name="sessions_purge")
    assert run.status == JobRun.Status.FAILED
    assert "unexpected" in run.error


@pytest.mark.parametrize("username", ["rm1", "manager1", "auditor1", "ops1"])
def test_only_administrators_see_and_start_jobs(client_for, username):
    client = client_for(username)
    assert client.get(reverse("reports:jobrun-list")).status_code == 403
    assert client.post(reverse("reports:jobrun-start"), {"name": "sessions_purge"}).status_code == 403
    assert not JobRun.objects.exists()


def test_beat_schedules_exist_for_the_platform_jobs(roles):
    from django.core.management import call_command as cc
    from django_celery_beat.models import PeriodicTask

    # The schedule rows come from a data migration; a transactional test's flush removes them.
    cc("migrate", "reports", "0001", verbosity=0)
    cc("migrate", "reports", verbosity=0)
    tasks = {task.name: json.loads(task.args) for task in PeriodicTask.objects.filter(task="reports.tasks.run_job")}
    assert tasks["Purge expired sessions"] == ["sessions_purge"]
    assert tasks["Purge expired sign-in failures"] == ["lockouts_purge"]
