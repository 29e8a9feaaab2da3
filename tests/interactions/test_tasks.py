"""Tasks: by hand and from a next step, who may assign and see them, my tasks, the week agenda, closing."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from interactions import selectors, services
from interactions.models import Notification, Task, TimelineEvent
from org.models import AuditEntry

from .conftest import client_as

pytestmark = pytest.mark.django_db


def _task(org, actor, title="跟进", *, assignee=None, due_in=dt.timedelta(days=1), **extra):
    return services.task_create(actor=org[actor], assignee=org[assignee or actor], title=title,
                                due_at=timezone.now() + due_in, **extra)


def test_rm_creates_a_task_for_a_customer_through_the_form(world):
    client = client_as(world["org"], "rm1")
    due = (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")

    response = client.post(reverse("interactions:task-create"), {
        "title": "送达理财合同", "customer_no": "c0000600001", "assignee": world["org"]["rm1"].pk,
        "priority": "high", "due_at": due, "remind_at": "", "description": ""})

    task = Task.objects.get()
    assert response.status_code == 302
    assert response["Location"] == task.get_absolute_url()
    assert (task.title, task.customer, task.assignee, task.created_by, task.priority) == (
        "送达理财合同", world["wang"], world["org"]["rm1"], world["org"]["rm1"], "high")
    assert AuditEntry.objects.filter(object_type="interactions.task", object_id=str(task.pk), action="create",
                                     actor_username="rm1").exists()


def test_a_task_cannot_name_a_customer_the_creator_does_not_see(world):
    client = client_as(world["org"], "rm1")
    due = (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(reverse("interactions:task-create"), {
        "title": "x", "customer_no": world["zhao"].customer_no, "assignee": world["org"]["rm1"].pk,
        "priority": "normal", "due_at": due})
    assert response.status_code == 200
    assert response.context["form"].errors["customer_no"] == ["No customer with this number that you may see."]
    assert not Task.objects.exists()


def test_rm_may_not_assign_to_others_and_the_assignee_field_offers_only_themselves(world):
    org = world["org"]
    with pytest.raises(ValidationError) as error:
        _task(org, "rm1", assignee="rm3")
    assert error.value.message_dict == {"assignee": ["You may only create tasks for yourself."]}
    assert list(selectors.assignable_users(user=org["rm1"])) == [org["rm1"]]


def test_branch_manager_assigns_to_an_rm_of_the_branch_who_is_told(world):
    org = world["org"]
    task = _task(org, "manager1", "回访王女士", assignee="rm1", customer=world["wang"])
    notice = Notification.objects.get()
    assert (notice.recipient, notice.kind, notice.task) == (org["rm1"], "task_assigned", task)


def test_branch_manager_cannot_assign_outside_the_branch(world):
    org = world["org"]
    with pytest.raises(ValidationError) as error:
        _task(org, "manager1", assignee="rm2")
    assert "assignee" in error.value.message_dict
    assert not Task.objects.exists()


def test_an_assignee_must_be_able_to_see_the_tasks_customer(world):
    org = world["org"]
    with pytest.raises(ValidationError) as error:
        _task(org, "manager1", assignee="rm3", customer=world["wang"])  # rm1's customer, rm3 does not see it
    assert error.value.message_dict["assignee"] == ["赵敏 cannot see this customer."]


@pytest.mark.parametrize(("username", "sees"), [
    ("rm1", True),       # assignee
    ("manager1", True),  # creator, and manages rm1's branch
    ("rm3", False),      # same branch, neither assignee nor creator, cannot see the customer
    ("rm2", False),      # another branch
    ("auditor1", True),  # head office sees the customer
])
def test_who_sees_a_task(world, username, sees):
    task = _task(world["org"], "manager1", assignee="rm1", customer=world["wang"])
    visible = selectors.task_queryset(user=world["org"][username]).filter(pk=task.pk).exists()
    assert visible is sees


def test_a_task_without_a_customer_is_seen_by_assignee_creator_and_the_assignees_manager(world):
    org = world["org"]
    task = _task(org, "rm1", "整理名片")
    assert {u for u in ("rm1", "rm2", "rm3", "manager1", "risk1")
            if selectors.task_queryset(user=org[u]).filter(pk=task.pk).exists()} == {"rm1", "manager1", "risk1"}


def test_my_tasks_splits_overdue_today_and_upcoming(world):
    org = world["org"]
    overdue = _task(org, "rm1", "逾期", due_in=-dt.timedelta(hours=2))
    later_today = timezone.localtime().replace(hour=23, minute=59)
    today = _task(org, "rm1", "今天", due_in=later_today - timezone.localtime()) \
        if later_today > timezone.localtime() + dt.timedelta(minutes=1) else None
    upcoming = _task(org, "rm1", "下周", due_in=dt.timedelta(days=7))
    _task(org, "rm3", "别人的")

    board = selectors.task_board(user=org["rm1"])

    assert board["overdue"] == [overdue]
    assert board["today"] == ([today] if today else [])
    assert board["upcoming"] == [upcoming]
    html = client_as(org, "rm1").get(reverse("interactions:task-list")).content.decode()
    assert "逾期" in html
    assert "别人的" not in html


def test_branch_manager_lists_the_teams_open_and_overdue_work(world):
    org = world["org"]
    _task(org, "rm1", "王芳逾期", due_in=-dt.timedelta(hours=2))
    _task(org, "rm3", "赵敏下周", due_in=dt.timedelta(days=7))
    _task(org, "rm2", "李强的")

    html = client_as(org, "manager1").get(reverse("interactions:task-list"), {"who": "team"}).content.decode()

    assert "王芳逾期" in html
    assert "赵敏下周" in html
    assert "李强的" not in html
    # An RM asking for the team sees only their own.
    own = client_as(org, "rm1").get(reverse("interactions:task-list"), {"who": "team"}).content.decode()
    assert "赵敏下周" not in own


def test_the_week_agenda_puts_each_task_on_its_day(world):
    org = world["org"]
    monday = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
    tz = timezone.get_current_timezone()
    wednesday = dt.datetime.combine(monday + dt.timedelta(days=2), dt.time(15, 0), tzinfo=tz)
    services.task_create(actor=org["rm1"], title="周三拜访", due_at=wednesday)
    services.task_create(actor=org["rm1"], title="下周的", due_at=wednesday + dt.timedelta(days=7))

    days = selectors.task_agenda(user=org["rm1"], week_start=monday)
    html = client_as(org, "rm1").get(reverse("interactions:task-agenda"),
                                     {"week": monday.isoformat()}).content.decode()

    assert [[t.title for t in day["tasks"]] for day in days] == [[], [], ["周三拜访"], [], [], [], []]
    assert "周三拜访" in html
    assert "下周的" not in html


def test_completing_a_customer_task_records_the_outcome_and_shows_on_the_timeline(world):
    org = world["org"]
    task = _task(org, "rm1", customer=world["wang"])
    services.task_complete(task=task, actor=org["rm1"], outcome="已办")
    task.refresh_from_db()
    assert (task.status, task.outcome, task.completed_by) == ("done", "已办", org["rm1"])
    assert TimelineEvent.objects.get(kind="task").title == task.title
    with pytest.raises(ValidationError):
        services.task_complete(task=task, actor=org["rm1"])


def test_cancelling_needs_a_reason(world):
    task = _task(world["org"], "rm1")
    with pytest.raises(ValidationError):
        services.task_cancel(task=task, actor=world["org"]["rm1"], outcome="")
    services.task_cancel(task=task, actor=world["org"]["rm1"], outcome="客户已自行办理")
    task.refresh_from_db()
    assert task.status == "cancelled"


def test_only_assignee_creator_or_their_manager_may_close(world):
    org = world["org"]
    task = _task(org, "rm1", customer=world["wang"])
    with pytest.raises(PermissionDenied):
        services.task_complete(task=task, actor=org["auditor1"])  # sees it, may not change it
    with pytest.raises(Http404):
        services.task_complete(task=task, actor=org["rm2"])
    services.task_complete(task=task, actor=org["manager1"], outcome="行长代为关闭")
    task.refresh_from_db()
    assert task.status == "done"


def test_editing_the_reminder_or_due_time_arms_the_notice_again(world):
    org = world["org"]
    task = _task(org, "rm1", remind_at=timezone.now() - dt.timedelta(minutes=1))
    services.task_reminders_send()
    task.refresh_from_db()
    assert task.reminded_at is not None
    new_time = timezone.now() + dt.timedelta(hours=1)
    services.task_update(task=task, actor=org["rm1"], values={"remind_at": new_time})
    task.refresh_from_db()
    assert (task.remind_at, task.reminded_at) == (new_time, None)


def test_the_reminder_must_come_before_the_due_time(world):
    with pytest.raises(ValidationError) as error:
        _task(world["org"], "rm1", remind_at=timezone.now() + dt.timedelta(days=3))
    assert error.value.message_dict == {"remind_at": ["The reminder must come before the task is due."]}


def test_manager_reassigns_and_the_new_assignee_is_told(world):
    org = world["org"]
    task = _task(org, "manager1", assignee="rm1")
    services.task_update(task=task, actor=org["manager1"], values={"assignee": org["rm3"]})
    assert Notification.objects.filter(recipient=org["rm3"], kind="task_assigned").count() == 1
