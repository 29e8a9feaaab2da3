"""The board: columns per stage, cards moved by buttons or drag-and-drop over htmx, filters, a pinned query budget."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer
from opportunities.models import Opportunity, StageChange
from tests.factories import CustomerFactory

from . import pipeline_helpers
from .pipeline_helpers import HTMX, client_as, open_opportunity, stage

book = pipeline_helpers.book
pytestmark = pytest.mark.django_db


def bulk_cards(org, pipeline, product, n, *, rm="rm1"):
    """n open opportunities of rm's customers spread over the open stages (written in bulk, like an import)."""
    user = org[rm]
    customers = [CustomerFactory(home_branch=user.branch, primary_rm=user) for _ in range(50)]
    stages = list(pipeline.stages.filter(is_won=False, is_lost=False).order_by("order"))
    now = timezone.now()
    Opportunity.objects.bulk_create([
        Opportunity(customer=customers[i % 50], product=product, pipeline=pipeline, stage=stages[i % len(stages)],
                    amount=Decimal(1000 * (i + 1)), expected_close_on=timezone.localdate() + dt.timedelta(days=i % 60),
                    owner=user, branch_id=user.branch_id, probability=stages[i % len(stages)].probability,
                    stage_entered_at=now, furthest_stage=stages[i % len(stages)], created_by=user)
        for i in range(n)])


def test_the_board_shows_a_column_per_stage_with_the_cards_totals_and_weighted_amounts(book):
    org = book["org"]
    open_opportunity(org, book["wang"], book["wealth_r2"], amount="200000")
    open_opportunity(org, book["li"], book["wealth_r4"], amount="50000")

    page = client_as(org, "rm1").get(f"/opportunities/board/{book['wealth'].pk}/").content.decode()

    for code in ("initial_contact", "needs_analysis", "proposal", "product_pitch", "negotiation", "signed",
                 "after_sales"):
        assert f'data-testid="column-{code}"' in page
    assert 'data-testid="column-lost"' not in page
    assert "¥250,000 · weighted ¥25,000" in page
    assert "王秀英" in page  # rm1's own customer: the full name


def test_a_forward_button_moves_the_card_and_answers_with_the_board_partial(book):
    org = book["org"]
    opp = open_opportunity(org, book["wang"], book["wealth_r2"])
    target = stage(opp.pipeline, "needs_analysis")

    response = client_as(org, "rm1").post(f"/opportunities/{opp.pk}/advance/",
                                         {"to_stage": target.pk, "from": "board"}, **HTMX)

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="board"')  # the partial, not a page
    assert "Moved to Needs analysis." in body
    assert Opportunity.objects.get(pk=opp.pk).stage == target
    assert StageChange.objects.filter(opportunity=opp, to_stage=target, changed_by=org["rm1"]).count() == 1


def test_a_blocked_drop_answers_with_the_reason_and_a_link_to_what_to_do(book):
    org = book["org"]
    opp = open_opportunity(org, book["wang"], book["wealth_r4"])
    response = client_as(org, "rm1").post(f"/opportunities/{opp.pk}/advance/",
                                         {"to_stage": stage(opp.pipeline, "negotiation").pk, "from": "board"}, **HTMX)
    body = response.content.decode()
    assert 'data-testid="board-problem"' in body
    assert "The product&#x27;s risk level R4 is above the customer&#x27;s risk tolerance C3." in body
    assert f'href="/opportunities/{opp.pk}/" data-testid="problem-open"' in body
    assert Opportunity.objects.get(pk=opp.pk).stage.code == "initial_contact"


def test_filters_narrow_the_board_by_owner_product_and_close_month(book):
    org = book["org"]
    a = open_opportunity(org, book["wang"], book["wealth_r2"])
    b = open_opportunity(org, book["li"], book["wealth_r4"])
    Opportunity.objects.filter(pk=b.pk).update(expected_close_on=dt.date(2031, 3, 15))
    manager = client_as(org, "manager1")
    url = f"/opportunities/board/{book['wealth'].pk}/"

    by_product = manager.get(url, {"product": book["wealth_r4"].pk}, **HTMX).content.decode()
    assert f'data-testid="card-{b.pk}"' in by_product
    assert f'data-testid="card-{a.pk}"' not in by_product
    by_month = manager.get(url, {"close_month": "2031-03"}, **HTMX).content.decode()
    assert f'data-testid="card-{b.pk}"' in by_month
    assert f'data-testid="card-{a.pk}"' not in by_month
    by_owner = manager.get(url, {"owner": org["rm3"].pk}, **HTMX).content.decode()
    assert 'data-testid="card-' not in by_owner
    # rm2 works in another sub-branch: not a choice for manager1, and asking shows nothing, not everything.
    outside = manager.get(url, {"owner": org["rm2"].pk})
    assert 'data-testid="card-' not in outside.content.decode()
    assert "Select a valid choice." in outside.content.decode()


def test_the_board_with_500_cards_stays_within_12_queries(book, django_assert_max_num_queries):
    org = book["org"]
    bulk_cards(org, book["wealth"], book["wealth_r2"], 500)
    client = client_as(org, "manager1")
    url = f"/opportunities/board/{book['wealth'].pk}/"
    client.get(url)  # warm the session and caches the way a second page view finds them

    with django_assert_max_num_queries(12):
        response = client.get(url)
    assert response.content.decode().count('data-testid="card-') == 500
    assert 'data-testid="board-truncated"' not in response.content.decode()


def test_more_than_500_cards_are_cut_with_a_note_to_narrow_the_filters(book):
    org = book["org"]
    bulk_cards(org, book["wealth"], book["wealth_r2"], 501)
    page = client_as(org, "rm1").get(f"/opportunities/board/{book['wealth'].pk}/").content.decode()
    assert page.count('data-testid="card-') == 500
    assert "Showing the first 500 cards; narrow the filters to see the rest." in page


def test_an_rm_sees_only_their_customers_cards_and_names_of_others_are_masked_for_the_manager(book):
    org = book["org"]
    mine = open_opportunity(org, book["wang"], book["wealth_r2"])
    theirs = open_opportunity(org, book["zhao"], book["wealth_r2"], rm="rm2")
    url = f"/opportunities/board/{book['wealth'].pk}/"

    rm1 = client_as(org, "rm1").get(url).content.decode()
    assert f'data-testid="card-{mine.pk}"' in rm1
    assert f'data-testid="card-{theirs.pk}"' not in rm1
    # manager1 manages rm1's sub-branch only: rm2's card is out of reach.
    manager = client_as(org, "manager1").get(url).content.decode()
    assert f'data-testid="card-{mine.pk}"' in manager
    assert f'data-testid="card-{theirs.pk}"' not in manager
    assert Customer.objects.count() == 3
