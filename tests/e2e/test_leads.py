"""rm1 works a lead to conversion in Chromium: records the first contact, qualifies it and converts it into a new
customer (a prospect) and an opportunity, without a full page reload."""

import importlib
import re

import pytest
from django.apps import apps as django_apps
from playwright.sync_api import expect

from customers.models import Customer, Product
from opportunities import lead_services
from opportunities.models import Lead, Opportunity

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def lead(org):
    # A transactional test's flush removed the default pipelines the data migration made: make them again.
    importlib.import_module("opportunities.migrations.0002_default_pipelines").create_defaults(django_apps, None)
    Product.objects.create(code="WM-R2", name="稳盈理财R2", category=Product.Category.WEALTH, risk_level="R2")
    return lead_services.lead_create(actor=org["rm1"], name="孙悦", channel="walk_in", product_interest="wealth",
                                     branch=org["rm1"].branch, phone="17700010001", note="到网点咨询理财")


def test_rm1_contacts_qualifies_and_converts_a_lead(page, live_server, sign_in, lead):
    sign_in("rm1")
    page.goto(f"{live_server.url}/leads/")
    page.get_by_test_id("lead-table").get_by_role("link", name="孙悦").click()
    expect(page).to_have_url(re.compile(rf"/leads/{lead.pk}/$"))
    expect(page.get_by_test_id("lead-facts")).to_contain_text("177****0001")

    page.get_by_test_id("contact-form").locator("textarea[name=note]").fill("电话沟通，客户想买稳健理财")
    page.get_by_test_id("contact-form").get_by_role("button").click()
    page.get_by_test_id("qualify").click()
    convert = page.get_by_test_id("convert-form")
    convert.locator("select[name=product]").select_option(label="稳盈理财R2 (WM-R2)")
    convert.locator("input[name=amount]").fill("200000")
    page.get_by_test_id("convert").click()

    expect(page.get_by_test_id("lead-opportunity")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/leads/{lead.pk}/$"))  # htmx swapped the lead, not the page
    lead.refresh_from_db()
    assert lead.status == Lead.Status.CONVERTED
    customer = Customer.objects.get(pk=lead.customer_id)
    assert (customer.name, customer.lifecycle_status, customer.primary_rm.username) == ("孙悦", "prospect", "rm1")
    opportunity = Opportunity.objects.get(lead=lead)
    assert (opportunity.customer_id, opportunity.amount, opportunity.owner.username) == (customer.pk, 200000, "rm1")
    page.screenshot(path="var/screenshots/lead-converted-rm1-zh.png", full_page=True)

    page.get_by_test_id("lead-customer").click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/$"))
    expect(page.get_by_test_id("panel-leads")).to_contain_text(f"#{lead.pk}")
