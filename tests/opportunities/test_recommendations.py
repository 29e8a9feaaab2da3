"""Recommendations on the 360° page: rules over holdings, tier, segment and maturities, each with its reason;
unsuitable products never appear; accepting one opens an opportunity. Also the opportunities panel and the
workbench's "my pipeline"."""

import pytest

from opportunities.models import Opportunity
from opportunities.recommendations import recommendations_for

from . import pipeline_helpers
from .pipeline_helpers import HTMX, client_as, holding, open_opportunity, product

book = pipeline_helpers.book
pytestmark = pytest.mark.django_db


def test_a_time_deposit_maturing_within_30_days_brings_the_best_suitable_wealth_product(book):
    wang = book["wang"]  # C3, assessment current
    product("WM-R3", risk_level="R3", name="平衡理财R3")
    holding(wang, book["td"], number="6222000000000001", balance="800000", matures_in=12)

    [first, *_rest] = recommendations_for(customer=wang)
    assert first.rule == "maturing_time_deposit"
    assert first.product.code == "WM-R3"  # the highest risk level within C3; R4 is not offered
    assert first.amount == 800000
    assert "Time deposit 6222000000000001 of ¥800,000 matures on" in first.reason
    assert all(r.product.risk_level in ("", "R1", "R2", "R3") for r in recommendations_for(customer=wang))


def test_a_customer_with_an_expired_assessment_is_offered_no_investment_product(book):
    li = book["li"]  # C4 expired
    holding(li, book["td"], number="6222000000000002", balance="800000", matures_in=5)
    found = recommendations_for(customer=li)
    assert all(not r.product.risk_level for r in found)
    assert "maturing_time_deposit" not in [r.rule for r in found]


def test_a_maturity_beyond_30_days_or_a_product_already_in_an_open_opportunity_is_not_recommended(book):
    org, wang = book["org"], book["wang"]
    holding(wang, book["td"], number="6222000000000003", balance="800000", matures_in=45)
    assert "maturing_time_deposit" not in [r.rule for r in recommendations_for(customer=wang)]

    holding(wang, book["td"], number="6222000000000004", balance="300000", matures_in=3)
    [maturing] = [r for r in recommendations_for(customer=wang) if r.rule == "maturing_time_deposit"]
    open_opportunity(org, wang, maturing.product)
    assert maturing.product not in [r.product for r in recommendations_for(customer=wang)]


def test_tier_rules_offer_card_and_insurance_to_an_affluent_customer(book):
    wang = book["wang"]
    product("CC-GOLD", category="credit_card", name="金卡")
    product("INS-1", category="insurance", name="安心保")
    holding(wang, book["td"], number="6222000000000005", balance="900000")  # affluent from 500,000
    wang.refresh_from_db()
    assert wang.tier == "affluent"
    rules = {r.rule: r.product.code for r in recommendations_for(customer=wang)}
    assert rules["tier_credit_card"] == "CC-GOLD"
    assert rules["tier_insurance"] == "INS-1"


def test_accepting_a_recommendation_opens_an_opportunity_and_refreshes_the_panel(book):
    org, wang = book["org"], book["wang"]
    holding(wang, book["td"], number="6222000000000006", balance="800000", matures_in=12)
    [maturing] = [r for r in recommendations_for(customer=wang) if r.rule == "maturing_time_deposit"]

    response = client_as(org, "rm1").post(f"/opportunities/recommendations/{wang.pk}/accept/",
                                         {"rule": "maturing_time_deposit", "product": maturing.product.pk}, **HTMX)

    assert response.status_code == 200
    assert "Opportunity opened from the recommendation." in response.content.decode()
    opp = Opportunity.objects.get(customer=wang)
    assert (opp.source, opp.source_rule, opp.product, opp.amount, opp.stage.code) == (
        "recommendation", "maturing_time_deposit", maturing.product, 800000, "initial_contact")


def test_a_forged_recommendation_for_an_unsuitable_product_opens_nothing(book):
    org, wang = book["org"], book["wang"]
    holding(wang, book["td"], number="6222000000000007", balance="800000", matures_in=12)
    response = client_as(org, "rm1").post(f"/opportunities/recommendations/{wang.pk}/accept/",
                                         {"rule": "maturing_time_deposit", "product": book["wealth_r4"].pk},
                                         follow=True)
    assert "That recommendation no longer applies." in response.content.decode()
    assert not Opportunity.objects.exists()


def test_the_360_page_loads_both_panels_lazily_and_each_panel_lists_its_rows(book, django_assert_max_num_queries):
    org, wang = book["org"], book["wang"]
    opp = open_opportunity(org, wang, book["wealth_r2"])
    client = client_as(org, "rm1")
    page = client.get(f"/customers/{wang.pk}/").content.decode()
    assert f'hx-get="/customers/{wang.pk}/panels/opportunities/"' in page
    assert f'hx-get="/customers/{wang.pk}/panels/recommendations/"' in page

    with django_assert_max_num_queries(12):
        panel = client.get(f"/customers/{wang.pk}/panels/opportunities/", **HTMX).content.decode()
    assert f'data-testid="customer-opportunity-{opp.pk}"' in panel
    assert client_as(org, "rm2").get(f"/customers/{wang.pk}/panels/opportunities/").status_code == 404


def test_the_workbench_shows_my_pipeline_per_stage(book):
    org = book["org"]
    open_opportunity(org, book["wang"], book["wealth_r2"], amount="200000")
    open_opportunity(org, book["li"], book["td"], amount="100000")
    client = client_as(org, "rm1")
    page = client.get("/workbench/").content.decode()
    assert 'data-testid="widget-pipeline"' in page
    assert 'hx-get="/opportunities/widgets/pipeline/"' in page
    page = client.get("/opportunities/widgets/pipeline/", **HTMX).content.decode()
    assert "2 open opportunities" in page
    assert "weighted ¥30,000" in page
