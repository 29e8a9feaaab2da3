"""Funnel arithmetic against a hand-computed fixture: reached, to next, to won, drop-off, time in stage,
breakdown/league table and the weighted forecast."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from opportunities import selectors, services
from opportunities.models import Opportunity, Pipeline
from opportunities.selectors import Period

from . import pipeline_helpers
from .pipeline_helpers import client_as, create_customer, product, stage

book = pipeline_helpers.book
pytestmark = pytest.mark.django_db
DAY = 86400


@pytest.fixture
def cohort(book):
    """Six time-deposit opportunities (no suitability involved), each move a day apart unless said:

    A  IC →(2d) NA → P → PP → N → S                 won     rm1  ¥300,000
    B  IC → NA → lost                               lost    rm1
    C  IC → P (skips NA)                            open    rm1  ¥100,000, closes next month
    D  IC → lost                                    lost    rm1
    E  IC → NA → P → NA (back)                      open    rm1  ¥50,000, closes next month
    F  IC → NA → P → PP → S (skips N) → AS          won     rm3  ¥200,000
    """
    org = book["org"]
    pipeline = Pipeline.objects.get(category="time_deposit")
    td = product("TD36", category="time_deposit", name="三年期定期存款")
    start = timezone.now() - dt.timedelta(days=30)
    next_month = (timezone.localdate().replace(day=28) + dt.timedelta(days=4)).replace(day=15)
    plans = {
        "A": ("rm1", "300000", ["needs_analysis", "proposal", "product_pitch", "negotiation", "signed"], [2]),
        "B": ("rm1", "10000", ["needs_analysis", "lost"], []),
        "C": ("rm1", "100000", ["proposal"], []),
        "D": ("rm1", "10000", ["lost"], []),
        "E": ("rm1", "50000", ["needs_analysis", "proposal", "needs_analysis"], []),
        "F": ("rm3", "200000", ["needs_analysis", "proposal", "product_pitch", "signed", "after_sales"], []),
    }
    made = {}
    for n, (name, (rm, amount, path, first_gap)) in enumerate(plans.items()):
        customer = create_customer(org, f"C00008000{n:02d}", f"客户{name}", rm=rm)
        opp = services.opportunity_create(customer=customer, product=td, actor=org[rm], amount=Decimal(amount),
                                          expected_close_on=next_month, now=start)
        when = start
        for index, code in enumerate(path):
            when += dt.timedelta(days=first_gap[0] if index == 0 and first_gap else 1)
            if code == "lost":
                services.opportunity_close(opportunity=opp, actor=org[rm], won=False, reason="客户无意向", now=when)
            else:
                services.opportunity_advance(opportunity=opp, actor=org[rm], to_stage=stage(pipeline, code), now=when)
        made[name] = opp
    return {**book, "pipeline": pipeline, "opps": made}


def test_reached_conversion_drop_off_and_open_per_stage_match_the_hand_count(cohort):
    rows = selectors.funnel(user=cohort["org"]["manager1"], pipeline=cohort["pipeline"])

    table = {r.stage.code: (r.reached, r.won, r.dropped, r.open_here) for r in rows}
    assert table == {
        "initial_contact": (6, 2, 1, 0),
        "needs_analysis": (5, 2, 1, 0),
        "proposal": (4, 2, 0, 2),
        "product_pitch": (2, 2, 0, 0),
        "negotiation": (2, 2, 0, 0),
        "signed": (2, 2, 0, 0),
        "after_sales": (1, 1, 0, 0),
    }
    to_next = {r.stage.code: r.to_next for r in rows}
    assert to_next == {"initial_contact": 5 / 6, "needs_analysis": 4 / 5, "proposal": 2 / 4, "product_pitch": 1.0,
                       "negotiation": 1.0, "signed": 1 / 2, "after_sales": None}
    to_won = {r.stage.code: r.to_won for r in rows}
    assert to_won == {"initial_contact": 2 / 6, "needs_analysis": 2 / 5, "proposal": 2 / 4, "product_pitch": 1.0,
                      "negotiation": 1.0, "signed": 1.0, "after_sales": 1.0}


def test_time_in_stage_is_the_average_of_the_stays_that_ended(cohort):
    rows = {r.stage.code: r for r in selectors.funnel(user=cohort["org"]["manager1"], pipeline=cohort["pipeline"])}
    # Left initial contact: A after 2 days, B C D E F after 1 day each.
    assert rows["initial_contact"].moves == 6
    assert rows["initial_contact"].avg_days == pytest.approx(7 / 6)
    # Left needs analysis: A B E F once each (a day each); E's second stay there has not ended.
    assert rows["needs_analysis"].moves == 4
    assert rows["needs_analysis"].avg_days == pytest.approx(1.0)
    assert rows["after_sales"].moves == 0
    assert rows["after_sales"].avg_days is None


def test_the_furthest_stage_kept_by_the_services_matches_the_stage_history(cohort):
    opps = {name: Opportunity.objects.get(pk=opp.pk) for name, opp in cohort["opps"].items()}
    furthest = {name: opp.furthest_stage.code for name, opp in opps.items()}
    assert furthest == {"A": "signed", "B": "needs_analysis", "C": "proposal", "D": "initial_contact",
                        "E": "proposal", "F": "after_sales"}


def test_the_cohort_is_the_opportunities_created_in_the_period_and_an_rm_sees_only_their_own(cohort):
    org = cohort["org"]
    empty = selectors.funnel(user=org["manager1"], pipeline=cohort["pipeline"],
                             period=Period(start=timezone.localdate() + dt.timedelta(days=1)))
    assert [r.reached for r in empty] == [0] * 7
    rm3 = {r.stage.code: r.reached for r in selectors.funnel(user=org["rm3"], pipeline=cohort["pipeline"])}
    assert rm3["initial_contact"] == 1
    assert rm3["after_sales"] == 1


def test_breakdown_by_rm_is_the_league_table_ordered_by_won_amount(cohort):
    org = cohort["org"]
    league = selectors.breakdown(user=org["manager1"], pipeline=cohort["pipeline"], by="owner")
    summary = [(r["rank"], r["key"], r["total"], r["won"], r["lost"], r["open"], r["won_amount"], r["win_rate"])
               for r in league]
    assert summary == [
        (1, org["rm1"].pk, 5, 1, 2, 2, Decimal("300000.00"), 1 / 3),
        (2, org["rm3"].pk, 1, 1, 0, 0, Decimal("200000.00"), 1.0),
    ]
    assert league[0]["open_weighted"] == Decimal("50000")  # C 100,000 × 40% + E 50,000 × 20%
    by_product = selectors.breakdown(user=org["manager1"], pipeline=cohort["pipeline"], by="product")
    assert [(r["label"], r["total"]) for r in by_product] == [("三年期定期存款", 6)]


def test_the_forecast_weighs_open_opportunities_by_probability_per_close_month(cohort):
    months = selectors.forecast(user=cohort["org"]["manager1"], pipeline=cohort["pipeline"], months=3)
    assert [m["count"] for m in months] == [0, 2, 0]
    assert months[1]["amount"] == Decimal("150000.00")
    assert months[1]["weighted"] == Decimal("50000")


def test_the_funnel_page_shows_the_figures_and_rms_may_not_open_it(cohort):
    org = cohort["org"]
    page = client_as(org, "manager1").get("/opportunities/funnel/",
                                          {"pipeline": cohort["pipeline"].pk}).content.decode()
    assert 'data-testid="funnel-initial_contact"' in page
    assert "83%" in page  # initial contact → needs analysis: 5 of 6
    assert client_as(org, "rm1").get("/opportunities/funnel/").status_code == 403

