"""Suitability (投资者适当性): an unsuitable opportunity stops at the proposal stage, the page says why and what
to do, and only a branch manager's recorded approval lets it through."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from opportunities import services
from opportunities.models import Opportunity, SuitabilityOverride
from org.models import AuditEntry

from . import pipeline_helpers
from .pipeline_helpers import client_as, open_opportunity, stage

book = pipeline_helpers.book
pytestmark = pytest.mark.django_db


def to_proposal(org, opp):
    for code in ("needs_analysis", "proposal"):
        services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(opp.pipeline, code))
    opp.refresh_from_db()
    return opp


def test_the_check_names_each_reason_and_what_to_do(book):
    wang, li = book["wang"], book["li"]
    assert services.suitability_check(customer=wang, product=book["wealth_r2"]) == []
    assert services.suitability_check(customer=wang, product=book["td"]) == []

    [exceeds] = services.suitability_check(customer=wang, product=book["wealth_r4"])
    assert exceeds.code == "risk_exceeds"
    assert exceeds.message == "The product's risk level R4 is above the customer's risk tolerance C3."
    assert exceeds.remedy.startswith("Offer a product of risk level R3 or lower, or reassess")

    [expired] = services.suitability_check(customer=li, product=book["wealth_r2"])
    assert expired.code == "assessment_expired"
    assert expired.message == f"The customer's risk assessment expired on {li.risk_expires_on:%Y-%m-%d}."
    assert expired.remedy == "Reassess the customer's risk tolerance before presenting the product."

    li.risk_tolerance = ""
    assert [f.code for f in services.suitability_check(customer=li, product=book["fund_r5"])] == ["no_assessment"]


def test_an_unsuitable_opportunity_cannot_advance_past_proposal_and_nothing_changes(book):
    org = book["org"]
    opp = to_proposal(org, open_opportunity(org, book["wang"], book["wealth_r4"]))

    with pytest.raises(services.Unsuitable) as blocked:
        services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(opp.pipeline, "product_pitch"))
    assert blocked.value.messages == [
        "This opportunity cannot advance past the proposal stage: The product's risk level R4 is above the "
        "customer's risk tolerance C3. What to do: Offer a product of risk level R3 or lower, or reassess the "
        "customer if their situation has changed."]
    with pytest.raises(ValidationError):
        services.opportunity_close(opportunity=opp, actor=org["rm1"], won=True, reason="")
    opp.refresh_from_db()
    assert (opp.stage.code, opp.status, opp.stage_changes.count()) == ("proposal", "open", 3)


def test_an_expired_assessment_blocks_until_the_customer_is_reassessed(book):
    org = book["org"]
    li = book["li"]
    opp = to_proposal(org, open_opportunity(org, li, book["wealth_r2"]))
    with pytest.raises(ValidationError, match="expired"):
        services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(opp.pipeline, "product_pitch"))

    li.risk_assessed_on, li.risk_expires_on = timezone.localdate(), timezone.localdate() + dt.timedelta(days=365)
    li.save(update_fields=["risk_assessed_on", "risk_expires_on"])
    opp = Opportunity.objects.get(pk=opp.pk)
    services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(opp.pipeline, "product_pitch"))
    assert Opportunity.objects.get(pk=opp.pk).stage.code == "product_pitch"


def test_a_branch_managers_approved_override_lets_it_through_and_is_recorded(book):
    org = book["org"]
    opp = to_proposal(org, open_opportunity(org, book["wang"], book["wealth_r4"]))

    request = services.override_request(opportunity=opp, actor=org["rm1"], reason="客户书面确认了解产品风险")
    assert request.status == "pending"
    assert [f["code"] for f in request.reasons] == ["risk_exceeds"]
    with pytest.raises(ValidationError, match="already waiting"):
        services.override_request(opportunity=opp, actor=org["rm1"], reason="again")
    # Pending is not approved: still blocked.
    with pytest.raises(ValidationError):
        services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(opp.pipeline, "product_pitch"))

    services.override_decide(override=request, actor=org["manager1"], approve=True, note="同意，已核实")
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.decision_note) == ("approved", org["manager1"], "同意，已核实")
    entry = AuditEntry.objects.get(object_type="opportunities.suitabilityoverride", object_id=str(request.pk),
                                   actor_username="manager1", detail__event="suitability_override_approved")
    assert entry.detail["findings"] == ["risk_exceeds"]

    services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(opp.pipeline, "product_pitch"))
    assert Opportunity.objects.get(pk=opp.pk).stage.code == "product_pitch"


def test_only_a_branch_manager_other_than_the_requester_decides_and_a_rejection_needs_a_reason(book):
    org = book["org"]
    opp = to_proposal(org, open_opportunity(org, book["wang"], book["wealth_r4"]))
    request = services.override_request(opportunity=opp, actor=org["rm1"], reason="客户坚持")

    with pytest.raises(PermissionDenied):
        services.override_decide(override=request, actor=org["rm1"], approve=True)
    with pytest.raises(ValidationError) as no_note:
        services.override_decide(override=request, actor=org["manager1"], approve=False, note="")
    assert no_note.value.message_dict == {"note": ["Say why the override is rejected."]}
    services.override_decide(override=request, actor=org["manager1"], approve=False, note="风险不匹配")
    assert SuitabilityOverride.objects.get(pk=request.pk).status == "rejected"
    with pytest.raises(ValidationError, match="cannot advance past the proposal stage"):
        services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(opp.pipeline, "product_pitch"))


def test_no_override_is_requested_for_a_suitable_product(book):
    org = book["org"]
    opp = open_opportunity(org, book["wang"], book["wealth_r2"])
    with pytest.raises(ValidationError, match="no override is needed"):
        services.override_request(opportunity=opp, actor=org["rm1"], reason="x")
    assert not SuitabilityOverride.objects.exists()


def test_the_page_says_why_and_what_to_do_and_the_manager_approves_there(book):
    org = book["org"]
    opp = to_proposal(org, open_opportunity(org, book["wang"], book["wealth_r4"]))
    rm = client_as(org, "rm1")

    response = rm.post(f"/opportunities/{opp.pk}/advance/", {"to_stage": stage(opp.pipeline, "product_pitch").pk},
                       follow=True)
    page = response.content.decode()
    assert "cannot advance past the proposal stage" in page
    assert "What to do:" in page
    assert "reassess" in page
    assert 'data-testid="override-form"' in page

    rm.post(f"/opportunities/{opp.pk}/override/", {"reason": "客户书面确认了解产品风险"})
    override = SuitabilityOverride.objects.get(opportunity=opp)
    manager = client_as(org, "manager1")
    assert f"/opportunities/{opp.pk}/" in manager.get("/opportunities/overrides/").content.decode()
    response = manager.post(f"/opportunities/overrides/{override.pk}/decide/", {"decision": "approve", "note": "ok"})
    assert response.status_code == 302
    response = rm.post(f"/opportunities/{opp.pk}/advance/", {"to_stage": stage(opp.pipeline, "product_pitch").pk},
                       follow=True)
    assert "Moved to Product pitch." in response.content.decode()
    assert Opportunity.objects.get(pk=opp.pk).stage.code == "product_pitch"


def test_an_rm_cannot_decide_an_override_over_http_and_nothing_changes(book):
    org = book["org"]
    opp = to_proposal(org, open_opportunity(org, book["wang"], book["wealth_r4"]))
    override = services.override_request(opportunity=opp, actor=org["rm1"], reason="x")
    response = client_as(org, "rm1").post(f"/opportunities/overrides/{override.pk}/decide/", {"decision": "approve"})
    assert response.status_code == 403
    assert SuitabilityOverride.objects.get(pk=override.pk).status == "pending"
