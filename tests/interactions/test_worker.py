"""Reminders on a real Celery worker: once per task across a restart, a killed worker and concurrent sweeps."""

import datetime as dt
import signal
import threading

import pytest
from django.db import connection
from django.utils import timezone

from interactions import services
from interactions.models import Notification, Task
from reports.models import JobRun
from reports.tasks import run_job

from ..workers import Worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _due_tasks(org, count, title="提醒"):
    now = timezone.now()
    return Task.objects.bulk_create(
        Task(title=f"{title}{n}", assignee=org["rm1"], created_by=org["rm1"], due_at=now + dt.timedelta(hours=1),
             remind_at=now - dt.timedelta(seconds=1)) for n in range(count))


def _run(name, **params):
    run = JobRun.objects.create(name=name, params=params)
    run_job.apply_async(args=[name], kwargs={"run_id": run.pk})
    wait_for(lambda: JobRun.objects.get(pk=run.pk).status == JobRun.Status.SUCCEEDED, timeout=90,
             what=f"{name} to finish")
    return JobRun.objects.get(pk=run.pk)


def _reminders_per_task():
    return sorted(Notification.objects.filter(kind="task_reminder").values_list("task_id", flat=True))


@pytest.mark.worker
def test_reminders_go_out_once_across_a_worker_restart(org):
    first = _due_tasks(org, 30, "第一批")
    worker = Worker(extra_modules="tests.interactions.slow_sweep").start()
    try:
        run = _run("task_reminders")
        assert run.rows_done == 30
    finally:
        worker.stop()
    second = _due_tasks(org, 10, "第二批")
    worker = Worker(extra_modules="tests.interactions.slow_sweep").start()
    try:
        again = _run("task_reminders")
        once_more = _run("task_reminders")
    finally:
        worker.stop()

    assert (again.rows_done, once_more.rows_done) == (10, 0)
    assert _reminders_per_task() == sorted(t.pk for t in first + second)


@pytest.mark.worker
def test_a_worker_killed_mid_sweep_sends_each_reminder_once(org):
    tasks = _due_tasks(org, 60)
    worker = Worker(extra_modules="tests.interactions.slow_sweep").start()
    try:
        run = JobRun.objects.create(name="test_slow_reminder_sweep", params={"chunk": 5, "pause": 0.3})
        run_job.apply_async(args=["test_slow_reminder_sweep"], kwargs={"run_id": run.pk})
        wait_for(lambda: JobRun.objects.get(pk=run.pk).rows_done >= 15, what="the sweep to be part-way")
        victims = worker.pool_children()
        assert len(victims) == 1
        victims[0].send_signal(signal.SIGKILL)
        wait_for(lambda: JobRun.objects.get(pk=run.pk).status == JobRun.Status.SUCCEEDED, timeout=120,
                 what="the redelivered sweep to finish")
    finally:
        worker.stop()

    run.refresh_from_db()
    assert run.attempts == 2
    assert run.rows_done < 60  # the second attempt found the first one's claims done
    assert _reminders_per_task() == sorted(t.pk for t in tasks)


def test_concurrent_sweeps_never_notify_twice(org):
    tasks = _due_tasks(org, 400)
    results, errors = [], []

    def sweep():
        try:
            results.append(services.task_reminders_send(chunk=7))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(claimed for claimed, _notices in results) == 400
    assert _reminders_per_task() == sorted(t.pk for t in tasks)


def test_a_backlog_is_claimed_by_parallel_lanes_each_task_once(org):
    # A first chunk that comes back full means a backlog: the rest is claimed by SWEEP_LANES connections
    # side by side (committed rows only, so this test commits: transaction=True).
    tasks = _due_tasks(org, 203)
    _due_tasks(org, 5, title="overdue")  # due in an hour: no overdue warning yet

    claimed, notices = services.task_reminders_send(chunk=10, lanes=3)

    assert (claimed, notices) == (208, 208)
    assert _reminders_per_task() == sorted(t.pk for t in Task.objects.all())
    assert len(tasks) + 5 == Task.objects.filter(reminded_at__isnull=False).count()
    assert services.task_reminders_send(chunk=10, lanes=3) == (0, 0)
