"""rm1 moves an opportunity across the board (button and drag-and-drop), is blocked by suitability at the
proposal stage, asks for an override; manager1 approves it; rm1 advances the opportunity."""

import datetime as dt
import re

import pytest
from django.apps import apps as django_apps
from django.utils import timezone
from playwright.sync_api import expect

from customers import services as customer_services
from customers.models import Product
from opportunities import services
from opportunities.defaults import create_default_pipelines
from opportunities.models import Opportunity, Pipeline, SuitabilityOverride

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def opportunity(org):
    # A transactional test's flush removes what data migrations wrote: the pipelines come back here.
    create_default_pipelines(django_apps.get_model("opportunities", "Pipeline"),
                             django_apps.get_model("opportunities", "Stage"))
    today = timezone.localdate()
    wang = customer_services.customer_create(
        actor=org["rm1"],
        data={"customer_no": "C9000000071", "kind": "individual", "name": "王秀英",
              "home_branch": org["rm1"].branch, "primary_rm": org["rm1"], "risk_tolerance": "C3",
              "risk_assessed_on": today, "risk_expires_on": today + dt.timedelta(days=300)},
        personal={})
    growth = Product.objects.create(code="WM-R4", name="进取理财R4", category="wealth", risk_level="R4")
    return services.opportunity_create(customer=wang, product=growth, actor=org["rm1"], amount=500000,
                                       expected_close_on=today + dt.timedelta(days=30))


def sign_out(page):
    page.context.clear_cookies()


def test_rm1_is_blocked_by_suitability_and_advances_after_manager1_approves(page, live_server, sign_in, opportunity):
    pipeline = Pipeline.objects.get(category="wealth")
    board_url = f"{live_server.url}/opportunities/board/{pipeline.pk}/"
    card = f"card-{opportunity.pk}"

    sign_in("rm1")
    page.goto(board_url)
    board = page.get_by_test_id("board")
    expect(board.get_by_test_id("column-initial_contact").get_by_test_id(card)).to_be_visible()

    # A button moves the card one stage on, over htmx: the address stays the board's.
    page.get_by_test_id(f"forward-{opportunity.pk}").click()
    expect(board.get_by_test_id("column-needs_analysis").get_by_test_id(card)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/opportunities/board/{pipeline.pk}/$"))

    # Drag-and-drop onto the proposal column.
    page.get_by_test_id(card).drag_to(page.get_by_test_id("column-proposal"))
    expect(page.get_by_test_id("column-proposal").get_by_test_id(card)).to_be_visible()
    assert Opportunity.objects.get(pk=opportunity.pk).stage.code == "proposal"

    # Past the proposal stage: refused, with the reason and the way to the fix.
    page.get_by_test_id(card).drag_to(page.get_by_test_id("column-product_pitch"))
    problem = page.get_by_test_id("board-problem")
    expect(problem).to_contain_text("R4")
    expect(problem).to_contain_text("C3")
    expect(page.get_by_test_id("column-proposal").get_by_test_id(card)).to_be_visible()
    page.screenshot(path="var/screenshots/board-blocked-rm1-zh.png", full_page=True)
    assert Opportunity.objects.get(pk=opportunity.pk).stage.code == "proposal"

    page.get_by_test_id("problem-open").click()
    expect(page.get_by_test_id("blocked")).to_be_visible()
    expect(page.get_by_test_id("findings")).to_contain_text("R4")
    page.get_by_test_id("override-form").locator("textarea[name=reason]").fill("客户书面确认了解并接受R4产品风险")
    page.get_by_test_id("override-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("override-pending")).to_be_visible()
    assert SuitabilityOverride.objects.get().status == "pending"

    sign_out(page)
    sign_in("manager1")
    page.goto(f"{live_server.url}/opportunities/overrides/")
    page.get_by_test_id(f"override-{SuitabilityOverride.objects.get().pk}").click()
    page.get_by_test_id("decision-form").locator("input[name=note]").fill("已核实客户确认书")
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("override-approved")).to_be_visible()
    page.screenshot(path="var/screenshots/override-approved-manager1-zh.png", full_page=True)
    override = SuitabilityOverride.objects.get()
    assert (override.status, override.decided_by.username) == ("approved", "manager1")

    sign_out(page)
    sign_in("rm1")
    page.goto(board_url)
    page.get_by_test_id(f"forward-{opportunity.pk}").click()
    expect(page.get_by_test_id("column-product_pitch").get_by_test_id(card)).to_be_visible()
    assert Opportunity.objects.get(pk=opportunity.pk).stage.code == "product_pitch"
    history = list(Opportunity.objects.get(pk=opportunity.pk).stage_changes.order_by("changed_at", "id")
                   .values_list("to_stage__code", flat=True))
    assert history == ["initial_contact", "needs_analysis", "proposal", "product_pitch"]
