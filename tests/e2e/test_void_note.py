"""rm1 voids a note logged on the wrong customer: it stays on the timeline, struck through, with the reason."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers import services as customer_services
from interactions import services

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_rm1_voids_a_note_logged_on_the_wrong_customer(page, live_server, sign_in, org):
    wang = customer_services.customer_create(
        actor=org["rm1"], personal={},
        data={"customer_no": "C9000000081", "kind": "individual", "name": "王秀英",
              "home_branch": org["rm1"].branch, "primary_rm": org["rm1"]})
    note = services.interaction_log(customer=wang, actor=org["rm1"], channel="phone",
                                    occurred_at=timezone.now() - dt.timedelta(minutes=30), summary="客户咨询理财到期")
    sign_in("rm1")
    page.goto(f"{live_server.url}{note.get_absolute_url()}")
    page.get_by_test_id("void").click()
    page.locator("input[name=reason]").fill("记到了别的客户上")
    page.get_by_test_id("void-confirm").click()

    expect(page.get_by_test_id("void-notice")).to_contain_text("记到了别的客户上")
    page.goto(f"{live_server.url}{wang.get_absolute_url()}")
    entry = page.get_by_test_id("timeline-entry").first  # the contact log loads itself after the page
    expect(entry.get_by_test_id("voided")).to_contain_text("记到了别的客户上")
    expect(entry.locator(".text-decoration-line-through")).to_contain_text("客户咨询理财到期")
