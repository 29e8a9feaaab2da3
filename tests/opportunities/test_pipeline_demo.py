"""seed_demo's opportunities: every demo RM gets a board with history; a second run adds nothing."""

import datetime as dt

import pytest
from django.utils import timezone

from opportunities.defaults import create_default_pipelines
from opportunities.demo import seed_opportunities
from opportunities.models import Opportunity, Pipeline, Stage, StageChange
from tests.factories import CustomerFactory

from .pipeline_helpers import product

pytestmark = pytest.mark.django_db


def test_demo_opportunities_are_seeded_once_with_their_history(org):
    create_default_pipelines(Pipeline, Stage)  # a transactional test elsewhere may have flushed them
    today = timezone.localdate()
    for rm in ("rm1", "rm2"):
        for _ in range(12):
            CustomerFactory(home_branch=org[rm].branch, primary_rm=org[rm], risk_tolerance="C3",
                            risk_assessed_on=today, risk_expires_on=today + dt.timedelta(days=300))
    product("WM-R2", risk_level="R2")
    product("FD-R3", category="fund", risk_level="R3")
    product("TD12", category="time_deposit")
    product("INS-1", category="insurance")

    created = seed_opportunities(users=org)

    assert created == 24
    assert set(Opportunity.objects.values_list("owner__username", flat=True)) == {"rm1", "rm2"}
    assert set(Opportunity.objects.values_list("status", flat=True)) == {"open", "won", "lost"}
    assert StageChange.objects.count() > created  # every opportunity opened, most moved on
    assert seed_opportunities(users=org) == 0
    assert Opportunity.objects.count() == 24
