"""Opportunities open in their pipeline's first stage and every move is stored (who, when, from, to, time in stage)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from interactions.models import TimelineEvent
from opportunities import services
from opportunities.models import Opportunity, StageChange
from org.models import AuditEntry

from . import pipeline_helpers
from .pipeline_helpers import open_opportunity, stage

book = pipeline_helpers.book

pytestmark = pytest.mark.django_db


def test_a_new_opportunity_opens_in_initial_contact_with_its_probability_and_one_history_row(book):
    opp = open_opportunity(book["org"], book["wang"], book["wealth_r2"])

    assert opp.pipeline == book["wealth"]
    assert opp.stage.code == "initial_contact"
    assert opp.probability == 10
    assert opp.owner == book["org"]["rm1"]
    assert opp.branch_id == book["wang"].home_branch_id
    history = list(opp.stage_changes.values_list("from_stage", "to_stage__code", "changed_by__username"))
    assert history == [(None, "initial_contact", "rm1")]
    assert TimelineEvent.objects.filter(customer=book["wang"], kind="opportunity").count() == 1


def test_every_move_is_stored_with_who_when_from_to_and_seconds_in_the_previous_stage(book):
    org = book["org"]
    start = timezone.now() - dt.timedelta(days=10)
    opp = open_opportunity(org, book["wang"], book["wealth_r2"], now=start)
    pipeline = book["wealth"]

    services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(pipeline, "needs_analysis"),
                                 now=start + dt.timedelta(days=2))
    services.opportunity_advance(opportunity=opp, actor=org["manager1"], to_stage=stage(pipeline, "proposal"),
                                 now=start + dt.timedelta(days=5, hours=6))
    services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(pipeline, "needs_analysis"),
                                 now=start + dt.timedelta(days=6, hours=6))

    rows = list(StageChange.objects.filter(opportunity=opp).order_by("changed_at")
                .values_list("from_stage__code", "to_stage__code", "changed_by__username", "seconds_in_from_stage"))
    assert rows == [
        (None, "initial_contact", "rm1", None),
        ("initial_contact", "needs_analysis", "rm1", 2 * 86400),
        ("needs_analysis", "proposal", "manager1", 3 * 86400 + 6 * 3600),
        ("proposal", "needs_analysis", "rm1", 86400),
    ]
    opp.refresh_from_db()
    assert opp.stage.code == "needs_analysis"
    assert opp.probability == 20
    assert opp.stage_entered_at == start + dt.timedelta(days=6, hours=6)
    assert TimelineEvent.objects.filter(customer=book["wang"], kind="opportunity").count() == 4


def test_moving_to_the_stage_it_is_in_or_to_another_pipelines_stage_is_refused_and_changes_nothing(book):
    org = book["org"]
    opp = open_opportunity(org, book["wang"], book["td"])
    with pytest.raises(ValidationError, match="already in the stage"):
        services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=opp.stage)
    with pytest.raises(ValidationError, match="another pipeline"):
        services.opportunity_advance(opportunity=opp, actor=org["rm1"],
                                     to_stage=stage(book["wealth"], "needs_analysis"))
    assert opp.stage_changes.count() == 1


def test_closing_as_lost_needs_a_reason_and_then_stops_every_move(book):
    org = book["org"]
    opp = open_opportunity(org, book["wang"], book["td"])

    with pytest.raises(ValidationError) as refused:
        services.opportunity_close(opportunity=opp, actor=org["rm1"], won=False, reason=" ")
    assert refused.value.message_dict == {"reason": ["Say why the opportunity was lost."]}

    services.opportunity_close(opportunity=opp, actor=org["rm1"], won=False, reason="客户选择他行产品")
    opp.refresh_from_db()
    assert (opp.status, opp.stage.code, opp.close_reason, opp.probability) == ("lost", "lost", "客户选择他行产品", 0)
    assert opp.closed_at is not None
    with pytest.raises(ValidationError, match="closed as lost"):
        services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(opp.pipeline, "proposal"))
    assert opp.stage_changes.count() == 2


def test_winning_sets_status_closed_at_and_only_won_stages_remain_reachable(book):
    org = book["org"]
    opp = open_opportunity(org, book["wang"], book["td"])
    services.opportunity_close(opportunity=opp, actor=org["rm1"], won=True, reason="续作成功")
    opp.refresh_from_db()
    assert (opp.status, opp.stage.code, opp.probability) == (Opportunity.Status.WON, "signed", 100)

    services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(opp.pipeline, "after_sales"))
    opp.refresh_from_db()
    assert (opp.status, opp.stage.code) == ("won", "after_sales")
    with pytest.raises(ValidationError, match="is won"):
        services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(opp.pipeline, "proposal"))


def test_an_opportunity_and_its_moves_reach_the_audit_trail(book):
    org = book["org"]
    opp = open_opportunity(org, book["wang"], book["td"])
    services.opportunity_advance(opportunity=opp, actor=org["rm1"], to_stage=stage(opp.pipeline, "needs_analysis"))

    entries = AuditEntry.objects.filter(object_type="opportunities.opportunity", object_id=str(opp.pk))
    assert set(entries.values_list("action", flat=True)) == {"create", "update"}
    assert "stage" in entries.get(action="update").fields or "stage_id" in entries.get(action="update").fields
