"""The notification centre: list, unread count in the header, mark read, open the object."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from interactions import selectors, services
from interactions.models import Notification

from .conftest import HTMX, client_as

pytestmark = pytest.mark.django_db


def _notices(org, count, username="rm1"):
    task = services.task_create(actor=org["manager1"], assignee=org[username], title="经理分派的任务",
                                due_at=timezone.now() + dt.timedelta(days=1))
    for n in range(count - 1):
        services.notify(recipient=org[username], kind="task_reminder", subject=f"提醒{n}", task=task,
                        fire_at=timezone.now() + dt.timedelta(seconds=n))
    return task


def test_the_header_shows_the_unread_count_and_the_centre_lists_the_notices(org):
    _notices(org, 3)
    client = client_as(org, "rm1")

    bell = client.get(reverse("interactions:notification-bell"), **HTMX).content.decode()
    page = client.get(reverse("customers:customer-list")).content.decode()
    centre = client.get(reverse("interactions:notification-list")).content.decode()

    assert 'data-testid="unread-count">3<' in bell
    assert 'data-testid="unread-count">3<' in page  # cached by the bell: the page itself did not query
    assert centre.count('data-testid="notice"') == 3
    assert "Task assigned to you: 经理分派的任务" in centre


def test_a_page_with_no_cached_count_asks_the_bell_to_load_after_it(org):
    _notices(org, 1)
    page = client_as(org, "rm1").get(reverse("customers:customer-list")).content.decode()
    assert 'hx-trigger="load, crm:notices-changed from:body"' in page
    assert 'data-testid="unread-count"' not in page


def test_new_notices_and_reading_update_the_count(org):
    task = _notices(org, 1)
    client = client_as(org, "rm1")
    assert selectors.unread_count(user=org["rm1"]) == 1

    services.notify(recipient=org["rm1"], kind="task_overdue", subject="x", task=task, fire_at=timezone.now())
    assert selectors.cached_unread_count(user=org["rm1"]) is None  # dropped
    notice = Notification.objects.filter(recipient=org["rm1"]).order_by("pk").first()
    response = client.post(reverse("interactions:notification-read", args=[notice.pk]), **HTMX)

    assert response["HX-Trigger"] == "crm:notices-changed"
    assert selectors.unread_count(user=org["rm1"]) == 1
    client.post(reverse("interactions:notification-read-all"))
    assert selectors.unread_count(user=org["rm1"]) == 0


def test_opening_a_notice_marks_it_read_and_goes_to_the_task(org):
    task = _notices(org, 1)
    notice = Notification.objects.get()
    response = client_as(org, "rm1").get(reverse("interactions:notification-open", args=[notice.pk]))
    assert response.status_code == 302
    assert response["Location"] == task.get_absolute_url()
    notice.refresh_from_db()
    assert notice.read_at is not None


def test_someone_elses_notice_looks_missing(org):
    _notices(org, 1)
    notice = Notification.objects.get()
    client = client_as(org, "rm3")
    assert client.get(reverse("interactions:notification-open", args=[notice.pk])).status_code == 404
    assert client.post(reverse("interactions:notification-read", args=[notice.pk])).status_code == 404
    notice.refresh_from_db()
    assert notice.read_at is None


def test_the_centre_pages_by_keyset(org):
    _notices(org, 35)
    client = client_as(org, "rm1")
    first = client.get(reverse("interactions:notification-list"))
    assert first.content.decode().count('data-testid="notice"') == 30
    cursor = first.context["next_cursor"]
    more = client.get(reverse("interactions:notification-list"), {"cursor": cursor}, **HTMX).content.decode()
    assert more.count('data-testid="notice"') == 5
