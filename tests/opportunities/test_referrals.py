"""Referrals: a teller or service agent refers a customer to a specialist; the credit follows referral → lead →
opportunity → won and the per-referrer report counts it."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from opportunities import lead_selectors as selectors
from opportunities import lead_services as services
from opportunities.models import AssignmentRule, Lead, Opportunity, ProductSpecialist, Referral
from org.models import Branch

from .lead_helpers import PHONE, create_customer, make_product, rm_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(org):
    customer = create_customer(org, "C0000800001", "钱芳", personal={"phone": PHONE})
    wealth = rm_in("BJ01", "wealth1")
    ProductSpecialist.objects.create(user=wealth, area="wealth")
    return {"org": org, "customer": customer, "wealth1": wealth, "product": make_product()}


def _win(opportunity):
    """Close an opportunity as won the way the pipeline does it (H4's service when present)."""
    from django.utils import timezone

    Opportunity.objects.filter(pk=opportunity.pk).update(status="won", closed_at=timezone.now())


def _work_to_conversion(lead, actor, product, amount=100000):
    services.lead_record_contact(lead=lead, actor=actor)
    services.lead_qualify(lead=lead, actor=actor)
    return services.lead_convert(lead=lead, actor=actor, product=product, amount=amount,
                                 expected_close_on=dt.date(2026, 12, 31))


def test_a_service_agent_refers_a_customer_to_a_named_specialist(scene):
    org = scene["org"]
    referral = services.referral_create(customer=scene["customer"], actor=org["service1"], area="wealth",
                                        note="定期下月到期，想了解理财", specialist=scene["wealth1"])

    lead = referral.lead
    assert (lead.channel, lead.product_interest, lead.customer, lead.matched_customer) == (
        "referral", "wealth", scene["customer"], True)
    assert lead.assigned_to == scene["wealth1"]
    assert lead.phone_bidx == scene["customer"].phone_bidx
    assert lead.assignments.get().assigned_by == org["service1"]


def test_a_referral_without_a_specialist_goes_through_the_branch_rules(scene):
    org = scene["org"]
    AssignmentRule.objects.create(branch=Branch.objects.get(code="BJ01"), name="专家", strategy="specialist")
    referral = services.referral_create(customer=scene["customer"], actor=org["service1"], area="wealth",
                                        note="理财")

    services.leads_assign_pending()

    assert Lead.objects.get(referral=referral).assigned_to == scene["wealth1"]


def test_a_referral_needs_a_note_and_a_specialist_of_that_area(scene):
    org = scene["org"]
    with pytest.raises(ValidationError) as refused:
        services.referral_create(customer=scene["customer"], actor=org["service1"], area="loans", note="",
                                 specialist=scene["wealth1"])
    assert set(refused.value.message_dict) == {"note", "specialist"}
    assert not Referral.objects.exists()


def test_roles_without_the_permission_cannot_refer(scene):
    with pytest.raises(PermissionDenied):
        services.referral_create(customer=scene["customer"], actor=scene["org"]["risk1"], area="wealth", note="x")
    assert not Referral.objects.exists()


def test_the_referrers_credit_follows_the_referral_to_the_won_opportunity(scene):
    org, specialist = scene["org"], scene["wealth1"]
    referral = services.referral_create(customer=scene["customer"], actor=org["service1"], area="wealth",
                                        note="理财", specialist=specialist)
    # The specialist converts the customer's lead; the customer is rm1's, shared with the specialist's branch.
    lead = _work_to_conversion(referral.lead, org["manager1"], scene["product"], amount=300000)
    opportunity = Opportunity.objects.get(lead=lead)
    assert opportunity.source == "referral"

    report = selectors.referral_report(user=org["manager1"])
    assert [(r["referrer__username"], r["referrals"], r["converted"], r["won"]) for r in report] == [
        ("service1", 1, 1, 0)]

    _win(opportunity)
    row = selectors.referral_report(user=org["manager1"])[0]
    assert (row["won"], row["won_amount"], row["conversion"]) == (1, 300000, 100.0)


def test_the_report_counts_per_referrer_and_ranks_by_wins(scene):
    org = scene["org"]
    other = create_customer(org, "C0000800002", "李明", personal={"phone": "13911112222"})
    third = create_customer(org, "C0000800003", "赵亮", personal={"phone": "13911113333"})
    won = services.referral_create(customer=scene["customer"], actor=org["rm1"], area="wealth", note="a")
    services.referral_create(customer=other, actor=org["service1"], area="loans", note="b")
    services.referral_create(customer=third, actor=org["service1"], area="insurance", note="c")
    lead = _work_to_conversion(won.lead, org["manager1"], scene["product"])
    _win(lead.opportunity)

    rows = [(r["referrer__username"], r["referrals"], r["converted"], r["won"], r["conversion"])
            for r in selectors.referral_report(user=org["manager1"])]

    assert rows == [("rm1", 1, 1, 1, 100.0), ("service1", 2, 0, 0, 0.0)]


def test_a_second_referral_while_a_lead_is_open_is_refused(scene):
    org = scene["org"]
    services.referral_create(customer=scene["customer"], actor=org["service1"], area="wealth", note="a")
    with pytest.raises(ValidationError, match="open lead"):
        services.referral_create(customer=scene["customer"], actor=org["rm1"], area="loans", note="b")
    assert Referral.objects.count() == 1


def test_the_report_page_and_its_query_count(scene, client_for, django_assert_max_num_queries):
    org = scene["org"]
    for i in range(5):
        customer = create_customer(org, f"C00008001{i:02d}", f"客户{i}", personal={"phone": f"1390000{i:04d}"})
        services.referral_create(customer=customer, actor=org["service1" if i % 2 else "rm1"], area="wealth",
                                 note="n")
    client = client_for("manager1")

    with django_assert_max_num_queries(7):
        response = client.get(reverse("leads:referral-report"))

    assert response.status_code == 200
    assert response.content.decode().count('data-testid="referrer-row"') == 2


def test_the_referral_form_from_the_customer_page(scene, client_for):
    client = client_for("service1")
    response = client.post(reverse("leads:referral-create", args=[scene["customer"].pk]),
                           {"area": "wealth", "specialist": scene["wealth1"].pk, "note": "想买理财"})

    assert response.status_code == 302
    referral = Referral.objects.get()
    assert (referral.referrer.username, referral.lead.assigned_to.username) == ("service1", "wealth1")


def test_the_360_page_shows_the_panel_with_the_refer_button_to_a_teller(scene, client_for):
    services.referral_create(customer=scene["customer"], actor=scene["org"]["service1"], area="wealth", note="x")

    client = client_for("service1")
    page = client.get(scene["customer"].get_absolute_url()).content.decode()
    panel = client.get(reverse("customers:customer-panel", args=[scene["customer"].pk, "leads"])).content.decode()

    assert 'data-testid="panel-leads"' in page
    assert reverse("leads:referral-create", args=[scene["customer"].pk]) in page
    assert "Referred by" in panel


def test_a_manager_names_and_removes_a_specialist_on_the_rules_page(scene, client_for):
    client = client_for("manager1")
    org = scene["org"]

    client.post(reverse("leads:rule-list"), {"user": org["rm1"].pk, "area": "loans", "on": "1"})
    assert ProductSpecialist.objects.filter(user=org["rm1"], area="loans").exists()
    client.post(reverse("leads:rule-list"), {"user": org["rm1"].pk, "area": "loans", "on": "0"})
    assert not ProductSpecialist.objects.filter(user=org["rm1"], area="loans").exists()
    refused = client_for("rm1").post(reverse("leads:rule-list"), {"user": org["rm1"].pk, "area": "loans", "on": "1"})
    assert refused.status_code == 403
    assert not ProductSpecialist.objects.filter(user=org["rm1"], area="loans").exists()


def test_the_specialist_given_another_rms_customer_can_open_it_and_convert_the_lead(scene):
    org, specialist = scene["org"], scene["wealth1"]
    from org import scoping
    from org.models import AuditEntry

    assert not scoping.can_see(specialist, scene["customer"])
    referral = services.referral_create(customer=scene["customer"], actor=org["service1"], area="wealth",
                                        note="理财", specialist=specialist)

    specialist = type(specialist).objects.get(pk=specialist.pk)  # a fresh reach
    assert scoping.can_see(specialist, scene["customer"])
    grant = AuditEntry.objects.get(action="permission_change", object_type="customers.customer",
                                   detail__granted_to="wealth1")
    assert grant.detail["lead"] == referral.lead.pk
    lead = _work_to_conversion(referral.lead, specialist, scene["product"])
    assert Opportunity.objects.get(lead=lead).owner == specialist


def test_a_referral_shows_on_the_customers_timeline(scene):
    from interactions.models import TimelineEvent

    referral = services.referral_create(customer=scene["customer"], actor=scene["org"]["service1"], area="loans",
                                        note="房贷")

    event = TimelineEvent.objects.get(customer=scene["customer"], source_key=f"referral:{referral.pk}")
    assert (event.title, event.actor, event.url) == ("Referred to a specialist of Loans", scene["org"]["service1"],
                                                     referral.lead.get_absolute_url())
