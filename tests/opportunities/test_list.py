"""The list view: totals and weighted amounts over everything that matches, keyset pages, pinned queries;
pinned query counts of the detail and funnel pages."""

import pytest

from opportunities import services

from . import pipeline_helpers
from .pipeline_helpers import HTMX, client_as, open_opportunity, stage
from .test_board import bulk_cards

book = pipeline_helpers.book
pytestmark = pytest.mark.django_db


def test_totals_and_weighted_amounts_cover_every_matching_opportunity(book):
    org = book["org"]
    a = open_opportunity(org, book["wang"], book["wealth_r2"], amount="200000")  # 10 %
    b = open_opportunity(org, book["li"], book["td"], amount="100000")
    services.opportunity_advance(opportunity=b, actor=org["rm1"], to_stage=stage(b.pipeline, "proposal"))  # 40 %
    lost = open_opportunity(org, book["wang"], book["td"], amount="999000")
    services.opportunity_close(opportunity=lost, actor=org["rm1"], won=False, reason="无需求")

    page = client_as(org, "rm1").get("/opportunities/").content.decode()
    assert 'data-testid="total-count">3<' in page
    assert 'data-testid="total-amount">¥1,299,000<' in page
    assert 'data-testid="total-weighted">¥60,000<' in page  # open only: 20,000 + 40,000
    only_open = client_as(org, "rm1").get("/opportunities/", {"status": "open"}).content.decode()
    assert 'data-testid="total-count">2<' in only_open
    assert f'data-testid="row-{lost.pk}"' not in only_open
    assert f'data-testid="row-{a.pk}"' in only_open


def test_the_list_pages_by_keyset_within_a_pinned_number_of_queries(book, django_assert_max_num_queries):
    org = book["org"]
    bulk_cards(org, book["wealth"], book["wealth_r2"], 120)
    client = client_as(org, "manager1")
    client.get("/opportunities/")
    with django_assert_max_num_queries(12):
        first = client.get("/opportunities/", {"pipeline": book["wealth"].pk}).content.decode()
    assert first.count('data-testid="row-') == 50
    assert 'data-testid="total-count">120<' in first
    cursor = first.split("cursor=")[1].split('"')[0].replace("&amp;", "&")
    from urllib.parse import unquote

    more = client.get("/opportunities/", {"pipeline": book["wealth"].pk, "cursor": unquote(cursor)}, **HTMX)
    rows = more.content.decode()
    assert rows.count('data-testid="row-') == 50
    assert not set(first.split('data-testid="row-')[1:]) & set(rows.split('data-testid="row-')[1:])


def test_the_detail_page_shows_history_and_stays_within_its_queries(book, django_assert_max_num_queries):
    org = book["org"]
    opp = open_opportunity(org, book["wang"], book["wealth_r4"])
    for code in ("needs_analysis", "proposal"):
        services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(opp.pipeline, code))
    client = client_as(org, "rm1")
    client.get(f"/opportunities/{opp.pk}/")
    with django_assert_max_num_queries(14):
        page = client.get(f"/opportunities/{opp.pk}/").content.decode()
    assert page.count("<tr><td>") == 3  # three stage changes in the history
    assert 'data-testid="blocked"' in page


def test_the_funnel_page_stays_within_its_queries(book, django_assert_max_num_queries):
    org = book["org"]
    bulk_cards(org, book["wealth"], book["wealth_r2"], 60)
    client = client_as(org, "manager1")
    client.get("/opportunities/funnel/")
    with django_assert_max_num_queries(18):
        response = client.get("/opportunities/funnel/", {"pipeline": book["wealth"].pk, "by": "product"})
    assert response.status_code == 200
    assert response.context["table"][0]["total"] == 60
