"""rm1 finds a customer by phone, opens the 360° page, reveals the ID number and adds a tag — in Chinese."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers import services
from customers.models import Account, Product, Tag, Transaction
from org.models import AuditEntry

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def zhang(org):
    customer = services.customer_create(
        actor=org["rm1"],
        data={"customer_no": "C9000000001", "kind": "individual", "name": "张伟", "id_type": "resident_id",
              "home_branch": org["rm1"].branch, "primary_rm": org["rm1"], "risk_tolerance": "C3"},
        personal={"id_number": "11010519491231002X", "phone": "13812345678"},
    )
    product = Product.objects.create(code="TD12", name="12个月定期存款", category=Product.Category.TIME_DEPOSIT)
    account = Account.objects.create(customer=customer, product=product, number="0001234567890123456",
                                     balance=Decimal("800000"), opened_on=dt.date(2025, 12, 1),
                                     matures_on=timezone.localdate() + dt.timedelta(days=12))
    Transaction.objects.create(account=account, customer=customer, occurred_at=timezone.now(),
                               amount=Decimal("5000"), direction="credit", channel="mobile", counterparty="李*")
    services.customer_recalculate(customer=customer)
    Tag.objects.create(name="高净值", colour="warning")
    return customer


def test_rm1_finds_by_phone_reveals_the_id_and_adds_a_tag_in_chinese(page, live_server, sign_in, zhang):
    sign_in("rm1")
    page.get_by_test_id("header-search").fill("138 1234 5678")
    page.get_by_test_id("header-search").press("Enter")
    table = page.get_by_test_id("customer-table")
    expect(table).to_contain_text("张伟")
    expect(table).to_contain_text("138****5678")
    table.get_by_role("link", name="C9000000001").click()

    expect(page.get_by_test_id("customer-name")).to_contain_text("张伟")
    expect(page.get_by_test_id("masked-id_number")).to_have_text("110***********002X")
    expect(page.get_by_test_id("maturing")).to_be_visible()
    assert "11010519491231002X" not in page.content()

    page.get_by_test_id("reveal-id_number").click()
    expect(page.get_by_test_id("revealed-id_number")).to_have_text("11010519491231002X")
    expect(page.get_by_text("已查看，已记入审计日志")).to_be_visible()
    assert AuditEntry.objects.filter(action="reveal", actor_username="rm1", fields=["id_number"]).count() == 1

    page.get_by_test_id("tag-add-button").click()
    expect(page.get_by_test_id("customer-tags")).to_contain_text("高净值")
    assert zhang.customer_tags.filter(tag__name="高净值").exists()
    expect(page).to_have_url(re.compile(rf"/customers/{zhang.pk}/$"))  # htmx: no page change
    page.screenshot(path="var/screenshots/customer360-zh.png", full_page=True)
