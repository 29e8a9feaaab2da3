"""Authorisation matrix over every pipeline route: anonymous → sign-in, no permission → 403, another branch's
RM → 404 (and a denied write changes nothing), the customer's RM → allowed."""

import pytest

from opportunities import services
from opportunities.models import Opportunity, StageChange, SuitabilityOverride

from . import pipeline_helpers
from .pipeline_helpers import client_as, open_opportunity, stage

book = pipeline_helpers.book
pytestmark = pytest.mark.django_db


@pytest.fixture
def world(book):
    org = book["org"]
    opp = open_opportunity(org, book["wang"], book["wealth_r4"])
    for code in ("needs_analysis", "proposal"):
        services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(opp.pipeline, code))
    override = services.override_request(opportunity=opp, actor=org["rm1"], reason="客户坚持")
    return {**book, "opp": opp, "override": override}


def routes(w):
    opp, pipeline, customer = w["opp"], w["wealth"], w["wang"]
    return {
        "list": ("get", "/opportunities/", {}),
        "board-home": ("get", "/opportunities/board/", {}),
        "board": ("get", f"/opportunities/board/{pipeline.pk}/", {}),
        "detail": ("get", f"/opportunities/{opp.pk}/", {}),
        "edit": ("get", f"/opportunities/{opp.pk}/edit/", {}),
        "create-form": ("get", f"/opportunities/new/?customer={customer.pk}", {}),
        "create": ("post", f"/opportunities/new/?customer={customer.pk}",
                   {"product": w["td"].pk, "amount": "1000", "expected_close_on": "2030-01-31"}),
        "edit-save": ("post", f"/opportunities/{opp.pk}/edit/",
                      {"amount": "1", "expected_close_on": "2030-01-31", "probability": "5", "next_step": "x"}),
        "advance": ("post", f"/opportunities/{opp.pk}/advance/", {"to_stage": stage(pipeline, "needs_analysis").pk}),
        "close": ("post", f"/opportunities/{opp.pk}/close/", {"outcome": "lost", "reason": "x"}),
        "override-request": ("post", f"/opportunities/{opp.pk}/override/", {"reason": "x"}),
        "recommendation-accept": ("post", f"/opportunities/recommendations/{customer.pk}/accept/",
                                  {"rule": "tier_credit_card", "product": w["td"].pk}),
    }


MANAGER_ROUTES = {"override-list", "override-decide", "funnel"}
ALL = ["list", "board-home", "board", "detail", "edit", "create-form", "create", "edit-save", "advance", "close",
       "override-request", "recommendation-accept"]
OBJECT_ROUTES = [name for name in ALL if name not in ("list", "board-home", "board")]


def snapshot(w):
    opp = Opportunity.objects.get(pk=w["opp"].pk)
    return (Opportunity.objects.count(), opp.stage_id, opp.status, opp.amount, StageChange.objects.count(),
            SuitabilityOverride.objects.count(), list(SuitabilityOverride.objects.values_list("status", flat=True)))


def call(client, method, url, data):
    return getattr(client, method)(url, data)


@pytest.mark.parametrize("name", ALL)
def test_anonymous_is_sent_to_sign_in(world, name):
    method, url, data = routes(world)[name]
    response = call(client_as(world["org"], "anonymous"), method, url, data)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("name", ALL)
def test_staff_without_the_permission_get_403_and_nothing_changes(world, name):
    before = snapshot(world)
    method, url, data = routes(world)[name]
    response = call(client_as(world["org"], "service1"), method, url, data)  # same branch, no opportunity rights
    assert response.status_code == 403
    assert snapshot(world) == before


@pytest.mark.parametrize("name", OBJECT_ROUTES)
def test_an_rm_of_another_branch_gets_404_and_nothing_changes(world, name):
    before = snapshot(world)
    method, url, data = routes(world)[name]
    response = call(client_as(world["org"], "rm2"), method, url, data)
    assert response.status_code == 404
    assert snapshot(world) == before


@pytest.mark.parametrize("name", ["list", "board"])
def test_lists_of_another_branchs_rm_do_not_show_the_opportunity(world, name):
    method, url, data = routes(world)[name]
    page = call(client_as(world["org"], "rm2"), method, url, data).content.decode()
    assert f"/opportunities/{world['opp'].pk}/" not in page


@pytest.mark.parametrize("name", ALL)
def test_the_customers_rm_may_use_every_route(world, name):
    method, url, data = routes(world)[name]
    response = call(client_as(world["org"], "rm1"), method, url, data)
    assert response.status_code in (200, 302)


@pytest.mark.parametrize("username", ["rm1", "rm2", "service1"])
def test_only_branch_managers_see_the_override_queue_funnel_and_decide(world, username):
    org, override = world["org"], world["override"]
    client = client_as(org, username)
    assert client.get("/opportunities/overrides/").status_code == 403
    assert client.get("/opportunities/funnel/").status_code == 403
    response = client.post(f"/opportunities/overrides/{override.pk}/decide/", {"decision": "approve"})
    assert response.status_code == 403
    assert SuitabilityOverride.objects.get(pk=override.pk).status == "pending"


def test_a_manager_of_another_branch_gets_404_on_the_decision(world, django_user_model):
    from org.models import Branch
    from org.roles import Role
    from tests.factories import UserFactory

    other = UserFactory(username="manager_sh", branch=Branch.objects.get(code="SH01"), roles=[Role.BRANCH_MANAGER])
    client = client_as({"manager_sh": other}, "manager_sh")
    response = client.post(f"/opportunities/overrides/{world['override'].pk}/decide/", {"decision": "approve"})
    assert response.status_code == 404
    assert SuitabilityOverride.objects.get(pk=world["override"].pk).status == "pending"
    assert f"/opportunities/{world['opp'].pk}/" not in client.get("/opportunities/overrides/").content.decode()
