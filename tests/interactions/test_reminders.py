"""Reminders and overdue warnings: each sent exactly once, preferences honoured, e-mail through Django's mail."""

import datetime as dt
import json

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from interactions import services
from interactions.models import Notification, NotificationPreference, Task
from org.models import AuditEntry

from .conftest import client_as

pytestmark = pytest.mark.django_db


def _tasks(org, count, *, assignee="rm1", creator=None, remind_ago=dt.timedelta(minutes=1),
           due_in=dt.timedelta(hours=2)):
    now = timezone.now()
    return Task.objects.bulk_create(
        Task(title=f"任务{n}", assignee=org[assignee], created_by=org[creator or assignee], due_at=now + due_in,
             remind_at=now - remind_ago if remind_ago is not None else None) for n in range(count))


def test_a_reminder_goes_out_once_however_often_the_sweep_runs(org):
    tasks = _tasks(org, 25)
    _tasks(org, 3, remind_ago=-dt.timedelta(hours=1))  # not yet

    first = services.task_reminders_send(chunk=10)
    second = services.task_reminders_send(chunk=10)

    assert first == (25, 25)
    assert second == (0, 0)
    notices = Notification.objects.filter(kind="task_reminder")
    assert sorted(notices.values_list("task_id", flat=True)) == sorted(t.pk for t in tasks)
    assert set(notices.values_list("recipient_id", flat=True)) == {org["rm1"].pk}


def test_many_reminders_at_once_for_one_person_become_one_digest_notice(org):
    from interactions.services import DIGEST_AFTER

    _tasks(org, DIGEST_AFTER + 10)
    _tasks(org, 2, assignee="rm3")

    claimed, notices = services.task_reminders_send()

    assert (claimed, notices) == (DIGEST_AFTER + 12, 3)
    digest = Notification.objects.get(recipient=org["rm1"])
    assert (digest.kind, digest.task, digest.url) == ("task_reminders", None, reverse("interactions:task-list"))
    assert str(digest) == f"Task reminders (several at once): {DIGEST_AFTER + 10} tasks"
    assert Notification.objects.filter(recipient=org["rm3"], kind="task_reminder").count() == 2
    assert services.task_reminders_send() == (0, 0)


def test_the_claim_writes_no_audit_entries_but_edits_do(org):
    _tasks(org, 5)
    before = AuditEntry.objects.filter(object_type="interactions.task").count()
    services.task_reminders_send()
    services.task_overdue_warnings_send(now=timezone.now() + dt.timedelta(days=1))
    assert AuditEntry.objects.filter(object_type="interactions.task").count() == before


def test_overdue_warns_the_assignee_and_the_creator_once(org):
    task = services.task_create(actor=org["manager1"], assignee=org["rm1"], title="逾期提醒测试",
                                due_at=timezone.now() + dt.timedelta(minutes=1))
    Notification.objects.all().delete()  # the assignment notice
    later = timezone.now() + dt.timedelta(minutes=5)

    services.task_overdue_warnings_send(now=later)
    services.task_overdue_warnings_send(now=later + dt.timedelta(minutes=1))

    notices = Notification.objects.filter(kind="task_overdue")
    assert sorted(notices.values_list("recipient__username", flat=True)) == ["manager1", "rm1"]
    assert set(notices.values_list("task_id", flat=True)) == {task.pk}


def test_a_done_task_is_neither_reminded_nor_warned(org):
    task = services.task_create(actor=org["rm1"], title="已完成", due_at=timezone.now() + dt.timedelta(minutes=1),
                                remind_at=timezone.now())
    services.task_complete(task=task, actor=org["rm1"])
    services.task_reminders_send(now=timezone.now() + dt.timedelta(hours=1))
    services.task_overdue_warnings_send(now=timezone.now() + dt.timedelta(hours=1))
    assert not Notification.objects.exists()


def test_a_re_armed_reminder_is_sent_again_for_its_new_time(org):
    task = services.task_create(actor=org["rm1"], title="再次提醒", due_at=timezone.now() + dt.timedelta(days=1),
                                remind_at=timezone.now() - dt.timedelta(minutes=1))
    services.task_reminders_send()
    services.task_update(task=task, actor=org["rm1"], values={"remind_at": timezone.now()})
    services.task_reminders_send(now=timezone.now() + dt.timedelta(seconds=1))
    assert Notification.objects.filter(task=task, kind="task_reminder").count() == 2


def test_an_rm_who_turned_reminders_off_in_the_centre_gets_none(org):
    NotificationPreference.objects.create(user=org["rm1"], kind="task_reminder", in_app=False, email=False)
    _tasks(org, 3)
    _tasks(org, 2, assignee="rm3")

    claimed, notices = services.task_reminders_send()

    assert (claimed, notices) == (5, 2)
    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {"rm3"}
    assert not Task.objects.filter(reminded_at__isnull=True).exists()  # claimed all the same: no late flood


def test_reminders_by_email_go_through_djangos_mail_backend_once(org, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    org["rm1"].email = "wangfang@bank.example"
    org["rm1"].save()
    NotificationPreference.objects.create(user=org["rm1"], kind="task_reminder", in_app=False, email=True)
    _tasks(org, 2)

    services.task_reminders_send()
    sent, failed = services.notification_emails_send()
    again = services.notification_emails_send()

    assert (sent, failed, again) == (2, 0, (0, 0))
    assert len(mail.outbox) == 2
    assert mail.outbox[0].to == ["wangfang@bank.example"]
    assert "任务" in mail.outbox[0].subject
    assert set(Notification.objects.values_list("email_status", "in_app")) == {("sent", False)}
    # Not in the centre: the person chose e-mail only.
    html = client_as(org, "rm1").get(reverse("interactions:notification-list")).content.decode()
    assert "任务0" not in html


def test_an_email_notice_to_someone_without_an_address_fails_visibly(org, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    NotificationPreference.objects.create(user=org["rm1"], kind="task_reminder", in_app=True, email=True)
    _tasks(org, 1)
    services.task_reminders_send()
    assert services.notification_emails_send() == (0, 1)
    assert Notification.objects.get().email_status == "failed"
    assert len(mail.outbox) == 0


def test_the_preferences_page_saves_each_kind(org):
    client = client_as(org, "rm1")
    response = client.post(reverse("interactions:notification-preferences"), {
        "task_reminder__in_app": "on", "task_reminder__email": "on", "task_overdue__email": "on"})
    assert response.status_code == 302
    chosen = {p.kind: (p.in_app, p.email) for p in NotificationPreference.objects.filter(user=org["rm1"])}
    assert chosen == {"task_reminder": (True, True), "task_overdue": (False, True),
                      "task_assigned": (False, False), "message_failed": (False, False)}
    page = client.get(reverse("interactions:notification-preferences")).content.decode()
    assert 'name="task_reminder__email" class="form-check-input" id="id_task_reminder__email" checked' in page


def test_the_job_runs_both_sweeps_and_records_a_run(org, capsys):
    _tasks(org, 4, due_in=-dt.timedelta(minutes=1))

    call_command("run_job", "task_reminders")
    record = json.loads(capsys.readouterr().out)
    call_command("run_job", "task_reminders")
    again = json.loads(capsys.readouterr().out)

    assert record["status"] == "succeeded"
    assert record["rows_done"] == 8  # 4 reminders + 4 overdue warnings
    assert again["rows_done"] == 0
    assert Notification.objects.count() == 8


def test_beat_runs_the_sweep_every_minute(roles):
    from django_celery_beat.models import PeriodicTask

    call_command("migrate", "interactions", "0003", verbosity=0)
    call_command("migrate", "interactions", verbosity=0)
    task = PeriodicTask.objects.get(name="Task reminders and overdue warnings")
    assert json.loads(task.args) == ["task_reminders"]
    assert (task.crontab.minute, task.crontab.hour) == ("*", "*")
    assert task.task == "reports.tasks.run_job"
