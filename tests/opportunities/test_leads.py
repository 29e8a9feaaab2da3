"""Leads: recording (sealed contact data), duplicate detection by blind index, working a lead, conversion."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import Customer
from opportunities import lead_services as services
from opportunities.models import Lead, LeadAssignment, Opportunity
from org.models import AuditEntry

from .lead_helpers import OTHER_PHONE, PHONE, RESIDENT_ID, create_customer, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def wealth_product(db):
    return make_product()


def _lead(org, actor="manager1", **extra):
    values = {"name": "孙悦", "channel": "walk_in", "product_interest": "wealth", "branch": org["rm1"].branch,
              "phone": PHONE, **extra}
    return services.lead_create(actor=org[actor], **values)


def test_lead_contact_data_is_sealed_masked_and_indexed(org):
    lead = _lead(org, id_type="resident_id", id_number=RESIDENT_ID)

    row = Lead.objects.filter(pk=lead.pk).values("phone_enc", "phone_masked", "phone_bidx", "id_number_enc",
                                                 "id_number_masked").get()
    assert PHONE not in row["phone_enc"]
    assert RESIDENT_ID not in row["id_number_enc"]
    assert row["phone_masked"] == "138****5678"
    assert row["id_number_masked"] == "110***********002X"
    assert len(row["phone_bidx"]) > 10
    assert lead.status == Lead.Status.NEW
    assert lead.assigned_to is None


def test_a_lead_needs_a_phone_or_an_id_number_and_bad_ones_are_named(org):
    with pytest.raises(ValidationError) as no_contact:
        _lead(org, phone="")
    assert "phone" in no_contact.value.message_dict

    with pytest.raises(ValidationError) as bad:
        _lead(org, phone="12345", id_type="resident_id", id_number="110105194912310021")
    assert set(bad.value.message_dict) == {"phone", "id_number"}
    assert not Lead.objects.exists()


def test_a_lead_matching_a_customer_by_phone_is_linked_and_flagged_not_duplicated(org):
    customer = create_customer(org, "C0000700001", "孙悦", personal={"phone": PHONE})
    customers_before = Customer.objects.count()

    lead = _lead(org, phone="138 1234 5678")

    assert lead.matched_customer is True
    assert lead.customer == customer
    assert Customer.objects.count() == customers_before


def test_an_id_number_match_wins_over_a_phone_match(org):
    by_phone = create_customer(org, "C0000700001", "孙悦", personal={"phone": PHONE})
    by_id = create_customer(org, "C0000700002", "孙悦", id_type="resident_id", birth_date=dt.date(1949, 12, 31),
                            gender="F", personal={"id_number": RESIDENT_ID})

    lead = _lead(org, id_type="resident_id", id_number=RESIDENT_ID)

    assert lead.customer == by_id != by_phone


def test_a_second_open_lead_for_the_same_phone_is_refused_naming_the_first(org):
    first = _lead(org)

    with pytest.raises(ValidationError) as refused:
        _lead(org, name="孙小悦", phone="+86 138-1234-5678")

    assert str(first.pk) in refused.value.message_dict["phone"][0]
    assert Lead.objects.count() == 1


def test_a_closed_lead_does_not_block_a_new_one(org):
    first = _lead(org)
    services.lead_disqualify(lead=first, actor=org["manager1"], reason="not_interested")

    second = _lead(org)

    assert second.pk != first.pk
    assert second.status == Lead.Status.NEW


def test_the_database_refuses_two_open_leads_with_one_phone_even_past_the_check(org):
    first = _lead(org)
    twin = Lead(name="x", channel="walk_in", product_interest="wealth", branch=first.branch,
                phone_bidx=first.phone_bidx, phone_enc=first.phone_enc, phone_masked=first.phone_masked)

    with pytest.raises(ValidationError):
        services._save_new(twin)
    assert Lead.objects.count() == 1


def test_an_rm_recording_a_lead_gets_it_and_the_assignment_is_recorded(org):
    lead = _lead(org, actor="rm1")

    assert lead.assigned_to == org["rm1"]
    assert lead.status == Lead.Status.ASSIGNED
    assert lead.first_contact_due_at is not None
    record = LeadAssignment.objects.get(lead=lead)
    assert (record.from_user, record.to_user, record.assigned_by) == (None, org["rm1"], org["rm1"])


def test_an_rm_cannot_record_a_lead_for_another_branch(org):
    with pytest.raises(ValidationError) as refused:
        _lead(org, actor="rm1", branch=org["rm2"].branch)
    assert "branch" in refused.value.message_dict


def test_lead_creation_is_in_the_audit_trail(org):
    lead = _lead(org)
    entry = AuditEntry.objects.get(object_type="opportunities.lead", object_id=str(lead.pk), action="create")
    assert "phone_enc" in entry.fields
    assert PHONE not in str(entry.detail)


def test_the_lead_flow_contact_qualify_convert_makes_a_prospect_and_an_opportunity(org, wealth_product):
    lead = _lead(org, actor="rm1", id_type="resident_id", id_number=RESIDENT_ID)
    services.lead_record_contact(lead=lead, actor=org["rm1"], note="约了周五面谈")
    services.lead_qualify(lead=lead, actor=org["rm1"])

    converted = services.lead_convert(lead=lead, actor=org["rm1"], product=wealth_product, amount=200000,
                                      expected_close_on=dt.date(2026, 12, 31))

    customer = converted.customer
    assert converted.status == Lead.Status.CONVERTED
    assert converted.converted_at is not None
    assert customer.lifecycle_status == Customer.Lifecycle.PROSPECT
    assert customer.primary_rm == org["rm1"]
    assert customer.home_branch == lead.branch
    assert customer.phone_bidx == lead.phone_bidx
    assert customer.id_number_bidx == lead.id_number_bidx
    opportunity = Opportunity.objects.get(lead=converted)
    assert (opportunity.customer, opportunity.product, opportunity.owner, opportunity.source) == (
        customer, wealth_product, org["rm1"], "lead")


def test_converting_a_matched_lead_uses_the_existing_customer(org, wealth_product):
    customer = create_customer(org, "C0000700001", "孙悦", personal={"phone": PHONE})
    lead = _lead(org, actor="rm1")
    services.lead_record_contact(lead=lead, actor=org["rm1"])
    services.lead_qualify(lead=lead, actor=org["rm1"])
    before = Customer.objects.count()

    services.lead_convert(lead=lead, actor=org["rm1"], product=wealth_product, amount=1,
                          expected_close_on=dt.date(2026, 12, 31))

    assert Customer.objects.count() == before
    assert Opportunity.objects.get(lead=lead).customer == customer


def test_only_a_qualified_lead_converts(org, wealth_product):
    lead = _lead(org, actor="rm1")
    with pytest.raises(ValidationError, match="qualified"):
        services.lead_convert(lead=lead, actor=org["rm1"], product=wealth_product, amount=1,
                              expected_close_on=dt.date(2026, 12, 31))
    assert not Opportunity.objects.exists()


def test_disqualifying_needs_a_known_reason(org):
    lead = _lead(org)
    with pytest.raises(ValidationError):
        services.lead_disqualify(lead=lead, actor=org["manager1"], reason="")
    lead.refresh_from_db()
    assert lead.status == Lead.Status.NEW


def test_another_rm_cannot_work_a_lead_they_do_not_hold(org):
    lead = _lead(org, actor="rm1")
    from django.http import Http404

    with pytest.raises(Http404):
        services.lead_record_contact(lead=lead, actor=org["rm3"])
    with pytest.raises(PermissionDenied):
        services.lead_record_contact(lead=lead, actor=org["risk1"])
    lead.refresh_from_db()
    assert lead.status == Lead.Status.ASSIGNED


# --- pages ----------------------------------------------------------------------------------------------------

def test_the_lead_list_shows_a_page_in_a_fixed_number_of_queries(org, client_for, django_assert_max_num_queries):
    for i in range(30):
        _lead(org, actor="rm1", phone=f"1391234{i:04d}", name=f"客户{i}")
    client = client_for("rm1")

    with django_assert_max_num_queries(8):
        response = client.get(reverse("leads:lead-list"))

    assert response.status_code == 200
    assert response.content.decode().count('data-testid="lead-row"') == 30


def test_the_lead_list_costs_the_same_for_10_and_40_leads(org, client_for):
    client = client_for("manager1")
    counts = []
    for total in (10, 40):
        while Lead.objects.count() < total:
            n = Lead.objects.count()
            _lead(org, actor="rm1", phone=f"1371234{n:04d}", name=f"客户{n}")
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("leads:lead-list"))
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_rm_creates_a_lead_through_the_form_and_lands_on_it(org, client_for):
    client = client_for("rm1")
    response = client.post(reverse("leads:lead-create"), {
        "name": "周杰", "phone": OTHER_PHONE, "id_type": "", "id_number": "", "channel": "walk_in",
        "product_interest": "loans", "branch": org["rm1"].branch_id, "note": "想了解房贷"})

    lead = Lead.objects.get()
    assert response.status_code == 302
    assert response["Location"] == lead.get_absolute_url()
    assert lead.assigned_to == org["rm1"]


def test_the_form_names_the_duplicate(org, client_for):
    first = _lead(org)
    client = client_for("manager1")
    response = client.post(reverse("leads:lead-create"), {
        "name": "孙悦", "phone": PHONE, "channel": "walk_in", "product_interest": "wealth",
        "branch": org["rm1"].branch_id})

    assert response.status_code == 200
    assert f"open lead (number {first.pk}" in response.content.decode()
    assert Lead.objects.count() == 1


def test_revealing_a_leads_phone_is_audited_and_needs_the_permission(org, client_for):
    lead = _lead(org, actor="rm1")

    response = client_for("rm1").post(reverse("leads:lead-reveal", args=[lead.pk, "phone"]))
    refused = client_for("risk1").post(reverse("leads:lead-reveal", args=[lead.pk, "phone"]))

    assert "+86" + PHONE in response.content.decode()
    entry = AuditEntry.objects.get(action="reveal", object_type="opportunities.lead")
    assert (entry.actor_username, entry.fields) == ("rm1", ["phone"])
    assert refused.status_code == 403


def test_the_lead_page_has_a_fixed_query_count(org, client_for, django_assert_max_num_queries):
    lead = _lead(org, actor="rm1")
    client = client_for("manager1")
    for _i in range(3):
        services.lead_assign(lead=lead, to_user=org["rm3"] if _i % 2 == 0 else org["rm1"], actor=org["manager1"])

    with django_assert_max_num_queries(9):
        response = client.get(lead.get_absolute_url())

    assert response.status_code == 200
    assert response.content.decode().count("<tr><td>") == 4


def test_the_list_opens_on_open_leads_and_all_shows_closed_ones_too(org, client_for):
    kept = _lead(org, actor="rm1")
    closed = _lead(org, actor="rm1", phone=OTHER_PHONE, name="褚楠")
    services.lead_disqualify(lead=closed, actor=org["rm1"], reason="not_interested")
    client = client_for("rm1")

    default = client.get(reverse("leads:lead-list")).content.decode()
    everything = client.get(reverse("leads:lead-list"), {"status": ""}).content.decode()

    assert kept.get_absolute_url() in default
    assert closed.get_absolute_url() not in default
    assert '<option value="open" selected>' in default
    assert closed.get_absolute_url() in everything


def test_the_workbench_widget_lists_my_open_leads_and_counts_missed_first_contacts(org, client_for,
                                                                               django_assert_max_num_queries):
    import datetime as _dt

    from django.utils import timezone

    first = _lead(org, actor="rm1")
    _lead(org, actor="rm1", phone=OTHER_PHONE, name="周杰")
    Lead.objects.filter(pk=first.pk).update(first_contact_due_at=timezone.now() - _dt.timedelta(hours=1))
    client = client_for("rm1")

    workbench = client.get(reverse("workbench:home")).content.decode()
    with django_assert_max_num_queries(6):
        widget = client.get(reverse("leads:leads-widget")).content.decode()

    assert reverse("leads:leads-widget") in workbench
    assert "2 open leads" in widget
    assert "1 first contact overdue" in widget
    assert first.get_absolute_url() in widget


def test_the_list_finds_a_lead_by_phone_id_number_or_the_start_of_its_name(org, client_for):
    wanted = _lead(org, actor="rm1", id_type="resident_id", id_number=RESIDENT_ID)
    other = _lead(org, actor="rm1", phone=OTHER_PHONE, name="周杰")
    client = client_for("rm1")

    def found(query):
        page = client.get(reverse("leads:lead-list"), {"q": query, "status": ""}).content.decode()
        return [lead.pk for lead in (wanted, other) if lead.get_absolute_url() in page]

    assert found("138-1234-5678") == [wanted.pk]
    assert found(RESIDENT_ID.lower()) == [wanted.pk]
    assert found("周") == [other.pk]
    assert found("13900000000") == []


def test_merging_customers_moves_their_leads_and_referrals_to_the_survivor(org):
    from customers.services import customer_merge

    survivor = create_customer(org, "C0000700010", "孙悦", personal={"phone": OTHER_PHONE})
    duplicate = create_customer(org, "C0000700011", "孙悦", personal={"phone": PHONE})
    referral = services.referral_create(customer=duplicate, actor=org["service1"], area="loans", note="房贷")

    customer_merge(survivor=survivor, duplicate=duplicate, actor=org["manager1"])

    referral.refresh_from_db()
    assert referral.customer == survivor
    assert Lead.objects.get(referral=referral).customer == survivor
