"""The workbench: what an RM and a branch manager see, the saved layout, and the query budget."""

import datetime as dt
import re

import pytest
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers import services as customer_services
from interactions import services
from interactions.models import Interaction, Task, TimelineEvent, WorkbenchLayout

from ..factories import CustomerFactory
from .conftest import HTMX, client_as, create_customer, holding

pytestmark = pytest.mark.django_db


def _task(org, assignee, title, due_in, *, creator=None, customer=None):
    return services.task_create(actor=org[creator or assignee], assignee=org[assignee], title=title,
                                due_at=timezone.now() + due_in, customer=customer)


def _contact(customer, actor, when, summary="回访"):
    note = Interaction.objects.create(customer=customer, actor=actor, channel="phone", occurred_at=when,
                                      summary=summary)
    TimelineEvent.objects.create(customer=customer, kind="interaction", occurred_at=when, actor=actor,
                                 interaction=note)
    return note


@pytest.fixture
def desk(world):
    """rm1's day: an overdue and a due-today task, a maturing holding, a birthday today, a wealth customer
    last contacted 100 days ago, a contact this month."""
    org, wang, li = world["org"], world["wang"], world["li"]
    overdue = _task(org, "rm1", "回电王女士确认续存", -dt.timedelta(hours=3), customer=wang)
    later = timezone.localtime().replace(hour=23, minute=30)
    today = services.task_create(actor=org["rm1"], title="准备理财建议书", due_at=later) \
        if later > timezone.now() else None
    holding(wang, number="6222000000000001", balance="800000", matures_in=7)
    today_date = timezone.localdate()
    li.birth_date = dt.date(1980, today_date.month, min(today_date.day, 28))
    li.save()
    rich = create_customer(org, "C0000600009", "钱多多")
    holding(rich, number="6222000000000009", balance="7000000", code="WM01")
    rich.refresh_from_db()
    assert rich.tier in ("wealth", "private")
    _contact(rich, org["rm1"], timezone.now() - dt.timedelta(days=100), summary="很久以前")
    _contact(wang, org["rm1"], timezone.now() - dt.timedelta(hours=1), summary="本月回访王女士")
    return {**world, "overdue": overdue, "today": today, "rich": rich}


def test_rm_workbench_shows_the_day(desk):
    client = client_as(desk["org"], "rm1")

    html = client.get(reverse("workbench:home")).content.decode()

    tasks = _section(html, "workbench-tasks")
    assert "回电王女士确认续存" in tasks
    assert 'data-testid="overdue"' in tasks
    assert "C0000600001" in _section(html, "contact-maturing")
    if timezone.localdate().day <= 28:
        assert "C0000600002" in _section(html, "contact-birthdays")
    assert "C0000600009" in _section(html, "contact-quiet")
    assert "C0000600001" not in _section(html, "contact-quiet")  # not top tier
    key = _section(html, "key-customers")
    assert key.index("C0000600009") < key.index("C0000600001")  # by AUM
    assert "本月回访王女士" in _section(html, "recent-contacts")
    kpi = _section(html, "kpi-contacts")
    assert re.search(r'fs-3 fw-semibold">\s*1\s*<', kpi)
    assert ">3<" in _section(html, "kpi-customers").replace(" ", "")
    assert "widget-team" not in html


def _section(html, testid):
    """The element with this test id, up to the end of its list, table or tile."""
    start = html.index(f'data-testid="{testid}"')
    ends = [html.find(tag, start) for tag in ("</ul>", "</ol>", "</table>", 'data-testid="kpi-')]
    ends = [end for end in ends if end > start + len(testid) + 14]
    return html[start:min(ends) if ends else len(html)]


def test_someone_elses_customers_stay_off_an_rms_workbench(desk):
    holding(desk["zhao"], number="6222000000000003", matures_in=3)
    html = client_as(desk["org"], "rm1").get(reverse("workbench:home")).content.decode()
    assert "C0000600003" not in html


def test_a_recently_contacted_wealth_customer_is_not_listed_as_quiet(desk):
    _contact(desk["rich"], desk["org"]["rm1"], timezone.now() - dt.timedelta(days=10))
    html = client_as(desk["org"], "rm1").get(reverse("workbench:home")).content.decode()
    assert "C0000600009" not in _section(html, "contact-quiet")


def test_branch_manager_sees_the_team_per_rm_and_rm1s_overdue_task(desk):
    org = desk["org"]
    _task(org, "rm3", "赵敏的任务", dt.timedelta(days=3))

    html = client_as(org, "manager1").get(reverse("workbench:home")).content.decode()

    team = _section(html, "team-table")
    assert "王芳" in team
    assert "赵敏" in team
    assert "李强" not in team  # rm2 works in BJ02, not under manager1
    row = team[team.index("王芳"):]
    assert re.search(r'data-testid="team-overdue">1<', row)
    tasks = _section(html, "workbench-tasks")
    assert "回电王女士确认续存" in tasks
    assert "王芳" in tasks


def test_layout_hide_pin_and_move_are_saved_per_user(desk):
    client = client_as(desk["org"], "rm1")
    url = reverse("workbench:layout")

    client.post(url, {"action": "hide", "key": "recent"}, **HTMX)
    client.post(url, {"action": "pin", "key": "contact"}, **HTMX)
    response = client.post(url, {"action": "down", "key": "kpis"}, **HTMX)

    html = response.content.decode()
    order = re.findall(r'data-testid="widget-(\w+)"', html)
    assert order[0] == "contact"
    assert "recent" not in order
    assert order.index("tasks") < order.index("kpis")
    assert 'data-testid="show-recent"' in html
    saved = WorkbenchLayout.objects.get(user=desk["org"]["rm1"]).widgets
    assert saved[0] == {"key": "contact", "hidden": False, "pinned": True}
    assert {"key": "recent", "hidden": True, "pinned": False} in saved
    # Another person's workbench is untouched.
    other = client_as(desk["org"], "manager1").get(reverse("workbench:home")).content.decode()
    assert 'data-testid="widget-recent"' in other


def test_layout_refuses_unknown_widgets_and_actions(desk):
    client = client_as(desk["org"], "rm1")
    client.post(reverse("workbench:layout"), {"action": "hide", "key": "team"})  # a team-only widget
    client.post(reverse("workbench:layout"), {"action": "explode", "key": "tasks"})
    layout = WorkbenchLayout.objects.filter(user=desk["org"]["rm1"]).first()
    assert layout is None or all(not item["hidden"] for item in layout.widgets)


def test_marking_a_task_done_on_the_workbench_swaps_its_row(desk):
    client = client_as(desk["org"], "rm1")
    response = client.post(reverse("interactions:task-complete", args=[desk["overdue"].pk]),
                           {"outcome": "客户已续存"}, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith("<li")
    assert 'data-testid="task-status">Done<' in html
    desk["overdue"].refresh_from_db()
    assert (desk["overdue"].status, desk["overdue"].outcome) == ("done", "客户已续存")


def _big_book(org, rm, customers=60, notes=5, tasks=40):
    made = CustomerFactory.create_batch(customers, home_branch=org[rm].branch, primary_rm=org[rm],
                                        aum=1000, tier="wealth")
    now = timezone.now()
    for n, customer in enumerate(made):
        for k in range(notes):
            _contact(customer, org[rm], now - dt.timedelta(days=n + k * 20))
        if n % 3 == 0:
            holding(customer, number=f"6{customer.pk:09d}{n:06d}", matures_in=n % 14)
    Task.objects.bulk_create(
        Task(title=f"T{n}", assignee=org[rm], created_by=org[rm], due_at=now + dt.timedelta(hours=n - 20))
        for n in range(tasks))


@pytest.mark.parametrize("username", ["rm1", "manager1"])
def test_the_whole_workbench_renders_in_at_most_12_queries(org, username, django_assert_max_num_queries):
    _big_book(org, "rm1")
    _big_book(org, "rm3", customers=20)
    client = client_as(org, username)
    client.get(reverse("workbench:home"))  # the session's first-visit writes are not the page's cost

    with django_assert_max_num_queries(12):
        response = client.get(reverse("workbench:home"))

    assert response.status_code == 200


def test_the_workbench_costs_the_same_queries_for_a_small_and_a_big_book(org):
    from django.db import connection

    client = client_as(org, "rm1")
    first = CustomerFactory(home_branch=org["rm1"].branch, primary_rm=org["rm1"])
    _contact(first, org["rm1"], timezone.now() - dt.timedelta(days=1))
    client.get(reverse("workbench:home"))
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("workbench:home"))
    _big_book(org, "rm1")
    with CaptureQueriesContext(connection) as big:
        client.get(reverse("workbench:home"))
    assert len(big) == len(small)


def test_closed_customers_are_not_counted_or_listed(desk):
    customer_services.customer_close(customer=desk["li"], actor=desk["org"]["rm1"], reason="客户销户")
    html = client_as(desk["org"], "rm1").get(reverse("workbench:home")).content.decode()
    assert ">2<" in _section(html, "kpi-customers").replace(" ", "")
    assert "C0000600002" not in _section(html, "contact-birthdays")
