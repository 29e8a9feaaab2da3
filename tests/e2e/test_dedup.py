"""manager1 opens the duplicate queue from the data-quality dashboard, merges a pair, and sees the figures change."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from customers import pii
from customers.dedup import dedup_run
from customers.models import Customer, DuplicateCandidate
from org.models import Branch

from ..factories import CustomerFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _customer(org, name, **personal):
    values = {"home_branch": Branch.objects.get(code="BJ01"), "primary_rm": org["rm1"], "name": name,
              "birth_date": dt.date(1985, 3, 14), "gender": "M", "last_verified_on": dt.date.today()}  # noqa: DTZ011
    if "id_number" in personal:
        values["id_type"] = Customer.IdType.RESIDENT_ID
    for field, value in personal.items():
        sealed = pii.seal(field, value)
        values[f"{field}_enc"], values[f"{field}_masked"] = sealed.enc, sealed.masked
        if field in ("id_number", "phone"):
            values[f"{field}_bidx"] = sealed.bidx
    values["name_pinyin"], values["name_initials"] = pii.name_keys(name)
    return CustomerFactory(**values)


@pytest.fixture
def pair(org):
    kept = _customer(org, "张伟强", id_number="110105198503140019", phone="+8613812345678")
    gone = _customer(org, "张伟刚", phone="+8613812345678")  # registered again by phone, no ID number
    dedup_run()
    return kept, gone, DuplicateCandidate.objects.get()


def _branch_row(page):
    return page.get_by_test_id("quality-table").locator("tbody tr").first


def test_manager1_merges_a_duplicate_from_the_queue_and_the_figures_change(page, live_server, sign_in, pair):
    kept, gone, candidate = pair
    sign_in("manager1")
    page.goto(f"{live_server.url}/quality/")
    row = _branch_row(page)
    expect(row.get_by_test_id("completeness")).to_have_text("88%")  # 7 of 8 required fields
    expect(row.locator("td").first).to_have_text("2")

    page.get_by_test_id("duplicates-link").click()
    expect(page).to_have_url(re.compile(r"/quality/duplicates/$"))
    rows = page.get_by_test_id("duplicate-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("张伟刚")
    page.screenshot(path="var/screenshots/duplicate-queue-manager1-zh.png", full_page=True)
    rows.first.get_by_test_id("duplicate-open").click()

    expect(page.get_by_test_id("duplicate-reason")).to_have_count(3)  # same phone, similar name, same birth date
    side = "low" if kept.pk == candidate.low_id else "high"
    page.get_by_test_id(f"survivor-{side}").check()
    page.screenshot(path="var/screenshots/duplicate-pair-manager1-zh.png", full_page=True)
    page.get_by_test_id("merge-submit").click()

    expect(page).to_have_url(re.compile(r"/quality/duplicates/$"))
    expect(page.get_by_test_id("duplicate-row")).to_have_count(0)
    gone.refresh_from_db()
    assert gone.merged_into_id == kept.pk
    candidate.refresh_from_db()
    assert candidate.status == "merged"

    page.goto(f"{live_server.url}/quality/")
    row = _branch_row(page)
    expect(row.get_by_test_id("completeness")).to_have_text("100%")
    expect(row.locator("td").first).to_have_text("1")
    page.screenshot(path="var/screenshots/quality-after-merge-manager1-zh.png", full_page=True)
