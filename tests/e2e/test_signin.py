"""rm1 signs in, sees the RM's navigation, switches language, signs out — in Chinese and in English."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_rm1_signs_in_in_chinese_sees_their_navigation_and_signs_out(page, live_server, sign_in, customers):
    sign_in("rm1")
    expect(page).to_have_url(re.compile(r"/workbench/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    nav = page.get_by_test_id("main-nav")
    expect(nav).to_contain_text("客户")
    expect(nav).not_to_contain_text("审计")
    expect(nav).not_to_contain_text("管理后台")
    expect(page.get_by_test_id("current-user")).to_contain_text("王芳")
    expect(page.get_by_test_id("current-user")).to_contain_text("海淀支行")
    nav.get_by_role("link", name="客户", exact=True).click()
    table = page.get_by_test_id("customer-table")
    expect(table).to_contain_text(customers["rm1"][0].name)
    expect(table).not_to_contain_text(customers["rm2"][0].name)
    page.screenshot(path="var/screenshots/rm1-zh.png", full_page=True)

    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("heading", name="登录")).to_be_visible()


def test_rm1_switches_to_english_and_back(page, live_server, sign_in, customers):
    sign_in("rm1")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    nav = page.get_by_test_id("main-nav")
    expect(nav).to_contain_text("Customers")
    expect(nav).not_to_contain_text("Audit trail")
    nav.get_by_role("link", name="Customers", exact=True).click()
    expect(page.get_by_role("columnheader", name="Customer number")).to_be_visible()
    page.screenshot(path="var/screenshots/rm1-en.png", full_page=True)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()


def test_wrong_password_shows_a_clear_message_in_the_browser(page, live_server, sign_in, org):
    sign_in("rm1", "not-the-password")
    expect(page.get_by_test_id("login-error")).to_contain_text("用户名或密码不正确")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_auditor_lands_on_the_audit_trail_and_sees_the_sign_in(page, live_server, sign_in, org):
    sign_in("auditor1")
    expect(page).to_have_url(re.compile(r"/audit/$"))
    expect(page.get_by_test_id("audit-table")).to_contain_text("auditor1")
    page.screenshot(path="var/screenshots/auditor1-zh.png", full_page=True)


def test_pages_load_nothing_from_outside_and_break_no_csp_rule(page, live_server, sign_in, customers):
    outside, violations = [], []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(live_server.url) and not request.url.startswith("data:") else None)
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    sign_in("rm1")
    page.goto(f"{live_server.url}/customers/{customers['rm1'][0].pk}/")
    expect(page.get_by_test_id("customer-name")).to_contain_text(customers["rm1"][0].name)
    assert outside == []
    assert violations == []
