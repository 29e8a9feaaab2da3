"""rm1 logs a call with a next step on a customer's 360° page, finds the task on the workbench and marks it
done; manager1 sees rm1's overdue task on the team workbench."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers import services as customer_services
from interactions import services
from interactions.models import Interaction, Task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def wang(org):
    return customer_services.customer_create(
        actor=org["rm1"],
        data={"customer_no": "C9000000061", "kind": "individual", "name": "王秀英",
              "home_branch": org["rm1"].branch, "primary_rm": org["rm1"]},
        personal={"phone": "13812345678"},
    )


def test_rm1_logs_a_call_with_a_next_step_and_closes_the_task_from_the_workbench(page, live_server, sign_in, wang):
    due = timezone.localtime() + dt.timedelta(minutes=10)
    if due.date() != timezone.localdate():
        pytest.skip("a task due later today cannot be made in the last minutes of the day")
    sign_in("rm1")
    expect(page).to_have_url(re.compile(r"/workbench/$"))
    page.goto(f"{live_server.url}/customers/{wang.pk}/")

    form = page.get_by_test_id("log-form")  # the contact log loads itself after the page
    form.locator("select[name=channel]").select_option("phone")
    form.locator("textarea[name=summary]").fill("电话沟通定期存款到期安排，客户倾向续存一年。")
    form.locator("input[name=next_step]").fill("明天上午发送续存产品说明")
    form.locator("input[name=create_task]").check()
    form.locator("input[name=task_due_at]").fill(due.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_test_id("log-submit").click()

    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("客户倾向续存一年")
    expect(page).to_have_url(re.compile(rf"/customers/{wang.pk}/$"))  # htmx: the panel, not the page
    assert Interaction.objects.get().customer == wang
    task = Task.objects.get()
    assert (task.title, task.customer, task.assignee.username) == ("明天上午发送续存产品说明", wang, "rm1")
    page.screenshot(path="var/screenshots/timeline-rm1-zh.png", full_page=True)

    page.get_by_test_id("main-nav").get_by_role("link", name=re.compile("Workbench|工作台")).click()
    tasks = page.get_by_test_id("workbench-tasks")
    expect(tasks).to_contain_text("明天上午发送续存产品说明")
    tasks.locator(f"#task-{task.pk} input[name=outcome]").fill("已发送产品说明，客户确认续存")
    tasks.locator(f"#task-{task.pk}").get_by_test_id("task-done").click()
    expect(tasks.locator(f"#task-{task.pk}").get_by_test_id("task-status")).to_be_visible()
    task.refresh_from_db()
    assert (task.status, task.outcome) == ("done", "已发送产品说明，客户确认续存")
    page.screenshot(path="var/screenshots/workbench-rm1-zh.png", full_page=True)


def test_manager1_sees_rm1s_overdue_task_on_the_team_workbench(page, live_server, sign_in, org, wang):
    services.task_create(actor=org["rm1"], title="回电确认理财赎回", customer=wang,
                         due_at=timezone.now() - dt.timedelta(hours=2))

    sign_in("manager1")

    expect(page).to_have_url(re.compile(r"/workbench/$"))
    tasks = page.get_by_test_id("workbench-tasks")
    expect(tasks).to_contain_text("回电确认理财赎回")
    expect(tasks.get_by_test_id("overdue")).to_be_visible()
    expect(tasks.get_by_test_id("task-assignee")).to_contain_text("王芳")
    team = page.get_by_test_id("team-table")
    expect(team.get_by_test_id("team-member").filter(has_text="王芳").get_by_test_id("team-overdue")).to_have_text("1")
    page.screenshot(path="var/screenshots/workbench-manager1-zh.png", full_page=True)
