"""The demo leads: every status shows up, rules and specialists exist, and a second run changes nothing."""

import pytest

from opportunities.lead_demo import LEADS, seed_leads
from opportunities.models import AssignmentRule, Lead, Referral

from .lead_helpers import create_customer

pytestmark = pytest.mark.django_db


def test_demo_leads_are_seeded_once_in_every_status(org):
    for i in range(3):
        create_customer(org, f"C00009900{i:02d}", f"演示{i}", personal={"phone": f"1350000{i:04d}"})

    first = seed_leads(users=org)
    snapshot = sorted(Lead.objects.values_list("name", "status", "assigned_to__username"))
    second = seed_leads(users=org)

    assert first == len(LEADS) + 2
    assert second == 0
    assert sorted(Lead.objects.values_list("name", "status", "assigned_to__username")) == snapshot
    statuses = set(Lead.objects.values_list("status", flat=True))
    assert statuses == {"new", "assigned", "contacted", "qualified", "disqualified"}
    assert Lead.objects.filter(name="孙悦", status="qualified", assigned_to=org["rm1"]).exists()
    assert AssignmentRule.objects.count() == 3
    assert Referral.objects.filter(referrer=org["service1"]).count() == 2
