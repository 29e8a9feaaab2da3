"""Every leads route against anonymous, rm1 (the assignee), rm2 (another branch), rm3 (same branch, not the
assignee), service1 (same branch, no lead permission) and manager1 (the branch manager); a refused write
changes nothing."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from opportunities import lead_services as services
from opportunities.models import AssignmentRule, Lead, LeadAssignment, ProductSpecialist, Referral
from org.models import Branch

from .lead_helpers import PHONE, create_customer, make_product

pytestmark = pytest.mark.django_db

USERS = ("anonymous", "rm1", "rm2", "rm3", "service1", "manager1")

# route → expected status per user (302 = redirected to sign-in, or after a successful POST).
GET_ROUTES = {
    "lead-list": {"anonymous": 302, "rm1": 200, "rm2": 200, "rm3": 200, "service1": 403, "manager1": 200},
    "lead-create": {"anonymous": 302, "rm1": 200, "rm2": 200, "rm3": 200, "service1": 403, "manager1": 200},
    "lead-detail": {"anonymous": 302, "rm1": 200, "rm2": 404, "rm3": 404, "service1": 403, "manager1": 200},
    "rule-list": {"anonymous": 302, "rm1": 403, "rm2": 403, "rm3": 403, "service1": 403, "manager1": 200},
    "rule-edit": {"anonymous": 302, "rm1": 403, "rm2": 403, "rm3": 403, "service1": 403, "manager1": 200},
    "referral-list": {"anonymous": 302, "rm1": 200, "rm2": 200, "rm3": 200, "service1": 200, "manager1": 200},
    "referral-report": {"anonymous": 302, "rm1": 403, "rm2": 403, "rm3": 403, "service1": 403, "manager1": 200},
    "referral-create": {"anonymous": 302, "rm1": 200, "rm2": 404, "rm3": 404, "service1": 200, "manager1": 200},
    "leads-widget": {"anonymous": 302, "rm1": 200, "rm2": 200, "rm3": 200, "service1": 403, "manager1": 200},
    "rule-create": {"anonymous": 302, "rm1": 403, "rm2": 403, "rm3": 403, "service1": 403, "manager1": 200},
}

POST_ROUTES = {
    "lead-assign": {"anonymous": 302, "rm1": 403, "rm2": 403, "rm3": 403, "service1": 403, "manager1": 302},
    "lead-contacted": {"anonymous": 302, "rm1": 302, "rm2": 404, "rm3": 404, "service1": 403, "manager1": 302},
    "lead-disqualify": {"anonymous": 302, "rm1": 302, "rm2": 404, "rm3": 404, "service1": 403, "manager1": 302},
    "lead-convert": {"anonymous": 302, "rm1": 200, "rm2": 404, "rm3": 404, "service1": 403, "manager1": 200},
    "rule-edit": {"anonymous": 302, "rm1": 403, "rm2": 403, "rm3": 403, "service1": 403, "manager1": 302},
    "referral-create": {"anonymous": 302, "rm1": 302, "rm2": 404, "rm3": 404, "service1": 302, "manager1": 302},
    "lead-qualify": {"anonymous": 302, "rm1": 200, "rm2": 404, "rm3": 404, "service1": 403, "manager1": 200},
    "lead-reveal": {"anonymous": 302, "rm1": 200, "rm2": 404, "rm3": 404, "service1": 403, "manager1": 200},
    "rule-list": {"anonymous": 302, "rm1": 403, "rm2": 403, "rm3": 403, "service1": 403, "manager1": 302},
}


@pytest.fixture
def scene(org):
    customer = create_customer(org, "C0000900001", "孙丽", personal={"phone": PHONE})
    lead = services.lead_create(actor=org["rm1"], name="吴刚", channel="walk_in", product_interest="wealth",
                                branch=org["rm1"].branch, phone="13700001111")
    rule = AssignmentRule.objects.create(branch=Branch.objects.get(code="BJ01"), name="轮询",
                                         strategy="round_robin")
    ProductSpecialist.objects.create(user=org["rm3"], area="wealth")
    return {"org": org, "customer": customer, "lead": lead, "rule": rule, "product": make_product()}


def _client(client_for, username):
    from django.test import Client

    return Client() if username == "anonymous" else client_for(username)


def _url(scene, route):
    if route in ("lead-detail", "lead-assign", "lead-contacted", "lead-disqualify", "lead-convert", "lead-qualify"):
        return reverse(f"leads:{route}", args=[scene["lead"].pk])
    if route == "lead-reveal":
        return reverse("leads:lead-reveal", args=[scene["lead"].pk, "phone"])
    if route == "rule-edit":
        return reverse("leads:rule-edit", args=[scene["rule"].pk])
    if route == "referral-create":
        return reverse("leads:referral-create", args=[scene["customer"].pk])
    return reverse(f"leads:{route}")


def _body(scene, route):
    org = scene["org"]
    return {
        "lead-assign": {"to_user": org["rm3"].pk},
        "lead-contacted": {"note": "已联系"},
        "lead-disqualify": {"reason": "not_interested"},
        "lead-convert": {"product": scene["product"].pk, "amount": "1000",
                         "expected_close_on": (timezone.localdate() + dt.timedelta(days=30)).isoformat()},
        "rule-edit": {"branch": scene["rule"].branch_id, "name": "改名", "position": 3, "strategy": "least_open",
                      "first_contact_hours": 12, "is_active": "on"},
        "referral-create": {"area": "wealth", "note": "想了解理财"},
        "lead-qualify": {},
        "lead-reveal": {},
        "rule-list": {"user": org["rm1"].pk, "area": "loans", "on": "1"},
    }[route]


def _state():
    return (list(Lead.objects.order_by("pk").values_list("status", "assigned_to", "disqualify_reason")),
            LeadAssignment.objects.count(), list(AssignmentRule.objects.values_list("name", "strategy")),
            Referral.objects.count(), ProductSpecialist.objects.count())


def test_the_matrix_covers_every_leads_route():
    from opportunities.lead_urls import urlpatterns

    assert {p.name for p in urlpatterns} == set(GET_ROUTES) | set(POST_ROUTES)


@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize("route", sorted(GET_ROUTES))
def test_get_routes(scene, client_for, route, username):
    response = _client(client_for, username).get(_url(scene, route))
    assert response.status_code == GET_ROUTES[route][username]
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize("route", sorted(POST_ROUTES))
def test_post_routes_refused_change_nothing(scene, client_for, route, username):
    before = _state()

    response = _client(client_for, username).post(_url(scene, route), _body(scene, route))

    assert response.status_code == POST_ROUTES[route][username]
    if response.status_code in (403, 404) or username == "anonymous":
        assert _state() == before
    elif route not in ("lead-convert", "lead-qualify", "lead-reveal"):
        # (convert and qualify answer 200 with the reason: the lead is not yet in the right status)
        assert _state() != before


def test_a_lead_in_another_branch_is_404_for_the_manager_of_this_one(scene, client_for):
    other = services.lead_create(actor=scene["org"]["rm2"], name="郑强", channel="walk_in",
                                 product_interest="loans", branch=scene["org"]["rm2"].branch, phone="13700002222")
    response = client_for("manager1").get(reverse("leads:lead-detail", args=[other.pk]))
    assert response.status_code == 404


def test_the_list_shows_an_rm_only_their_own_leads(scene, client_for):
    services.lead_create(actor=scene["org"]["rm3"], name="冯媛", channel="walk_in", product_interest="loans",
                         branch=scene["org"]["rm3"].branch, phone="13700003333")
    rm1_page = client_for("rm1").get(reverse("leads:lead-list")).content.decode()
    manager_page = client_for("manager1").get(reverse("leads:lead-list")).content.decode()
    assert rm1_page.count('data-testid="lead-row"') == 1
    assert manager_page.count('data-testid="lead-row"') == 2
