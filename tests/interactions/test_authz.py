"""Every interactions and workbench route against anonymous, rm1 (owner), rm2 (another branch), manager1
(rm1's branch manager) and risk1 (head office, read-only here); a refused write changes nothing."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from interactions import services
from interactions.models import (
    Interaction,
    InteractionRevision,
    Notification,
    NotificationPreference,
    OutboundMessage,
    Task,
    WorkbenchLayout,
)
from org.models import AuditEntry

from .conftest import client_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(world):
    org, wang = world["org"], world["wang"]
    note = services.interaction_log(customer=wang, actor=org["rm1"], channel="phone",
                                    occurred_at=timezone.now() - dt.timedelta(hours=1), summary="回访")
    task = services.task_create(actor=org["rm1"], title="跟进", due_at=timezone.now() + dt.timedelta(days=1),
                                customer=wang)
    notice = services.notify(recipient=org["rm1"], kind="task_reminder", subject="跟进", task=task,
                             fire_at=task.due_at)
    return {**world, "note": note, "task": task, "notice": notice}


def _when(days=2):
    return (timezone.localtime() + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def _address(scene, route):
    org, wang, note, task, notice = scene["org"], scene["wang"], scene["note"], scene["task"], scene["notice"]
    by_customer = ("interaction-log", "timeline-rows", "message-send")
    by_note = ("interaction-detail", "interaction-correct", "interaction-void")
    by_task = ("task-detail", "task-complete", "task-cancel")
    by_notice = ("notification-open", "notification-read")
    namespace = "workbench" if route in ("home", "layout") else "interactions"
    if route in by_customer:
        url = reverse(f"{namespace}:{route}", args=[wang.pk])
    elif route in by_note:
        url = reverse(f"{namespace}:{route}", args=[note.pk])
    elif route in by_task:
        url = reverse(f"{namespace}:{route}", args=[task.pk])
    elif route in by_notice:
        url = reverse(f"{namespace}:{route}", args=[notice.pk])
    else:
        url = reverse(f"{namespace}:{route}")
    body = {
        "interaction-log": {"channel": "phone", "direction": "out", "purpose": "follow_up", "summary": "新的记录",
                            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")},
        "message-send": {"channel": "sms", "purpose": "service", "body": "您好"},
        "interaction-correct": {"channel": "phone", "direction": "out", "purpose": "follow_up", "summary": "改过",
                                "occurred_at": timezone.localtime(note.occurred_at).strftime("%Y-%m-%dT%H:%M"),
                                "reason": "更正"},
        "interaction-void": {"reason": "记到了别的客户上"},
        "task-create": {"title": "新任务", "customer_no": wang.customer_no, "assignee": org["rm1"].pk,
                        "priority": "normal", "due_at": _when()},
        "task-detail": {"title": "改名", "assignee": org["rm1"].pk, "priority": "high",
                        "due_at": timezone.localtime(task.due_at).strftime("%Y-%m-%dT%H:%M")},
        "task-complete": {"outcome": "完成"},
        "task-cancel": {"outcome": "不需要了"},
        "notification-preferences": {"task_reminder__email": "on"},
        "layout": {"action": "hide", "key": "kpis"},
    }.get(route, {})
    return url, body


def _state():
    return {
        "interactions": list(Interaction.objects.order_by("pk").values()),
        "revisions": InteractionRevision.objects.count(),
        "tasks": list(Task.objects.order_by("pk").values()),
        "notices": list(Notification.objects.order_by("pk").values("pk", "read_at")),
        "preferences": list(NotificationPreference.objects.values()),
        "layouts": list(WorkbenchLayout.objects.values("user_id", "widgets")),
        "messages": OutboundMessage.objects.count(),
        "audit_entries": AuditEntry.objects.count(),
    }


USERS = ("rm1", "rm2", "manager1", "risk1")
ALL = dict.fromkeys(USERS, 200)
READ = {"rm1": 200, "rm2": 404, "manager1": 200, "risk1": 200}
TASKS = {"rm1": 200, "rm2": 200, "manager1": 200, "risk1": 403}
OWN_NOTICE = {"rm1": 302, "rm2": 404, "manager1": 404, "risk1": 404}
TASK_WRITE = {"rm1": 302, "rm2": 404, "manager1": 302, "risk1": 403}

MATRIX = [
    ("interaction-log", "post", {"rm1": 302, "rm2": 404, "manager1": 302, "risk1": 403}),
    ("timeline-rows", "get", READ),
    ("message-send", "get", {"rm1": 200, "rm2": 404, "manager1": 200, "risk1": 403}),
    ("message-send", "post", {"rm1": 302, "rm2": 404, "manager1": 302, "risk1": 403}),
    ("interaction-detail", "get", READ),
    # Only the author corrects: manager1 sees the note, may not correct it.
    ("interaction-correct", "get", {"rm1": 200, "rm2": 404, "manager1": 403, "risk1": 403}),
    ("interaction-correct", "post", {"rm1": 302, "rm2": 404, "manager1": 403, "risk1": 403}),
    # The author or the branch manager voids (a note logged on the wrong customer); others may not.
    ("interaction-void", "get", {"rm1": 200, "rm2": 404, "manager1": 200, "risk1": 403}),
    ("interaction-void", "post", {"rm1": 302, "rm2": 404, "manager1": 302, "risk1": 403}),
    ("task-list", "get", TASKS),
    ("task-agenda", "get", TASKS),
    ("task-create", "get", TASKS),
    # rm2 may create tasks, but not for rm1 about rm1's customer: the form comes back with the errors.
    ("task-create", "post", {"rm1": 302, "rm2": 200, "manager1": 302, "risk1": 403}),
    ("task-detail", "get", {"rm1": 200, "rm2": 404, "manager1": 200, "risk1": 403}),
    ("task-detail", "post", TASK_WRITE),
    ("task-complete", "post", TASK_WRITE),
    ("task-cancel", "post", TASK_WRITE),
    ("notification-list", "get", ALL),
    ("notification-bell", "get", ALL),
    ("notification-read-all", "post", dict.fromkeys(USERS, 302)),
    ("notification-preferences", "get", ALL),
    ("notification-preferences", "post", dict.fromkeys(USERS, 302)),
    ("notification-open", "get", OWN_NOTICE),
    ("notification-read", "post", OWN_NOTICE),
    ("data-dictionary", "get", ALL),
    ("home", "get", TASKS),
    ("layout", "post", {"rm1": 302, "rm2": 302, "manager1": 302, "risk1": 403}),
]

CASES = [pytest.param(route, method, user, expected[user], id=f"{method}-{route}-{user}")
         for route, method, expected in MATRIX for user in USERS]
CASES += [pytest.param(route, method, "anonymous", 302, id=f"{method}-{route}-anonymous")
          for route, method, _expected in MATRIX]
# Writes that act only on the writer's own rows (their notices, settings, layout) may change those.
OWN_ROWS = {"notification-read-all", "notification-preferences", "layout"}


def test_the_matrix_covers_every_route():
    from interactions.urls import urlpatterns
    from interactions.workbench_urls import urlpatterns as workbench

    assert {route for route, _method, _expected in MATRIX} == {p.name for p in urlpatterns + workbench}


@pytest.mark.parametrize(("route", "method", "username", "expected"), CASES)
def test_routes_answer_each_role_as_its_permissions_and_scope_allow(scene, route, method, username, expected):
    client = client_as(scene["org"], username)
    url, body = _address(scene, route)
    before = _state()

    response = client.get(url) if method == "get" else client.post(url, body)

    assert response.status_code == expected
    if username == "anonymous":
        assert response["Location"].startswith(reverse("login") + "?next=")
    if method == "post" and (username == "anonymous" or expected in (403, 404)):
        assert _state() == before


@pytest.mark.parametrize("route", ["interaction-log", "message-send", "interaction-correct", "interaction-void",
                                   "task-create",
                                   "task-detail", "task-complete", "task-cancel"])
def test_permitted_writes_do_write(scene, route, django_capture_on_commit_callbacks):
    # The allowed side of the matrix really acts, so the "nothing changed" side means something.
    before = _state()
    with django_capture_on_commit_callbacks(execute=True):
        client_as(scene["org"], "rm1").post(*_address(scene, route))
    assert _state() != before
