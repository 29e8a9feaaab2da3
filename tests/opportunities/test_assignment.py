"""Assignment rules: round robin is fair, least-open respects capacity, specialists get their area, rule order
and branch nesting decide, the job is idempotent and warns the branch manager once per missed first contact."""

import datetime as dt
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm_site.jobs import get_job
from interactions.models import Notification
from opportunities import lead_services as services
from opportunities.models import AssignmentRule, Lead, LeadAssignment, ProductSpecialist
from org.models import Branch

from .lead_helpers import rm_in

pytestmark = pytest.mark.django_db


def _new_leads(org, n, *, interest="wealth", branch="BJ01", start=0):
    branch = Branch.objects.get(code=branch)
    return [services.lead_create(actor=org["ops1"], name=f"客户{i}", channel="walk_in",
                                 product_interest=interest, branch=branch, phone=f"1361234{i:04d}")
            for i in range(start, start + n)]


def _rule(branch="BJ01", **values):
    members = values.pop("members", [])
    rule = AssignmentRule.objects.create(branch=Branch.objects.get(code=branch),
                                         name=values.pop("name", "rule"), **values)
    rule.members.set(members)
    return rule


def _holders():
    return Counter(Lead.objects.exclude(assigned_to=None).values_list("assigned_to__username", flat=True))


def test_round_robin_over_n_leads_gives_each_member_n_over_k(org):
    _rule(strategy="round_robin", members=[org["rm1"], org["rm3"]])
    _new_leads(org, 10)

    assert services.leads_assign_pending() == 10

    assert _holders() == {"rm1": 5, "rm3": 5}
    order = list(Lead.objects.order_by("pk").values_list("assigned_to__username", flat=True))
    assert order == ["rm1", "rm3"] * 5


def test_round_robin_continues_where_it_stopped_across_runs(org):
    _rule(strategy="round_robin", members=[org["rm1"], org["rm3"]])
    _new_leads(org, 3)
    services.leads_assign_pending()
    _new_leads(org, 3, start=3)
    services.leads_assign_pending()

    order = list(Lead.objects.order_by("pk").values_list("assigned_to__username", flat=True))
    assert order == ["rm1", "rm3", "rm1", "rm3", "rm1", "rm3"]


def test_round_robin_without_members_uses_the_branchs_active_rms(org):
    extra = rm_in("BJ01", "rm9")
    _rule(strategy="round_robin")
    _new_leads(org, 6)

    services.leads_assign_pending()

    assert _holders() == {"rm1": 2, "rm3": 2, extra.username: 2}


def test_least_open_fills_the_emptiest_first_and_stops_at_capacity(org):
    _new_leads(org, 2, start=100)
    for lead in Lead.objects.all():
        services.lead_assign(lead=lead, to_user=org["rm1"], actor=org["manager1"])
    _rule(strategy="least_open", members=[org["rm1"], org["rm3"]], capacity=3)
    _new_leads(org, 6)

    assigned = services.leads_assign_pending()

    # rm3 catches up from 0 to 2, then they alternate up to the capacity of 3 each; 2 leads are left over.
    assert assigned == 4
    assert _holders() == {"rm1": 3, "rm3": 3}
    assert Lead.objects.filter(status="new", assigned_to=None).count() == 2


def test_when_the_first_rule_is_full_the_next_rule_in_order_takes_the_lead(org):
    _rule(strategy="least_open", members=[org["rm1"]], capacity=1, position=1, name="first")
    second = _rule(strategy="round_robin", members=[org["rm3"]], position=2, name="second")
    _new_leads(org, 3)

    services.leads_assign_pending()

    assert _holders() == {"rm1": 1, "rm3": 2}
    assert LeadAssignment.objects.filter(rule=second).count() == 2


def test_the_specialist_rule_gives_a_lead_to_a_specialist_of_its_area(org):
    loans = rm_in("BJ01", "loans1")
    ProductSpecialist.objects.create(user=loans, area="loans")
    ProductSpecialist.objects.create(user=org["rm3"], area="insurance")
    _rule(strategy="specialist", product_interest="loans", position=1)
    _rule(strategy="round_robin", members=[org["rm1"]], position=2)
    _new_leads(org, 2, interest="loans")
    _new_leads(org, 1, interest="wealth", start=50)

    services.leads_assign_pending()

    assert set(Lead.objects.filter(product_interest="loans").values_list("assigned_to__username", flat=True)) == {
        "loans1"}
    assert Lead.objects.get(product_interest="wealth").assigned_to == org["rm1"]


def test_the_nearest_branchs_rules_come_before_the_parents(org):
    _rule(branch="BJ", strategy="round_robin", members=[org["rm2"]], position=1)
    _rule(branch="BJ01", strategy="round_robin", members=[org["rm1"]], position=9)
    _new_leads(org, 1)
    _new_leads(org, 1, branch="BJ02", start=10)

    services.leads_assign_pending()

    assert Lead.objects.get(branch__code="BJ01").assigned_to == org["rm1"]
    assert Lead.objects.get(branch__code="BJ02").assigned_to == org["rm2"]


def test_a_lead_no_rule_can_place_stays_new(org):
    _rule(strategy="specialist", product_interest="insurance")
    _new_leads(org, 1, interest="insurance")

    assert services.leads_assign_pending() == 0
    assert Lead.objects.get().status == Lead.Status.NEW


def test_every_assignment_is_recorded_with_its_rule_and_the_assignee_is_told(org):
    rule = _rule(strategy="round_robin", members=[org["rm3"]], first_contact_hours=4)
    lead = _new_leads(org, 1)[0]
    now = timezone.now()

    services.leads_assign_pending(now=now)

    lead.refresh_from_db()
    record = LeadAssignment.objects.get(lead=lead)
    assert (record.from_user, record.to_user, record.rule, record.assigned_by) == (None, org["rm3"], rule, None)
    assert lead.first_contact_due_at == now + dt.timedelta(hours=4)
    assert Notification.objects.filter(recipient=org["rm3"], url=lead.get_absolute_url()).count() == 1


def test_reassigning_by_hand_records_from_and_to(org):
    _rule(strategy="round_robin", members=[org["rm1"]])
    lead = _new_leads(org, 1)[0]
    services.leads_assign_pending()

    services.lead_assign(lead=lead, to_user=org["rm3"], actor=org["manager1"], note="rm1 休假")

    history = list(LeadAssignment.objects.filter(lead=lead).values_list("from_user__username", "to_user__username",
                                                                         "assigned_by__username", "note"))
    assert history == [(None, "rm1", None, ""), ("rm1", "rm3", "manager1", "rm1 休假")]


def test_a_manager_cannot_assign_to_staff_of_another_branch(org):
    lead = _new_leads(org, 1)[0]
    with pytest.raises(ValidationError):
        services.lead_assign(lead=lead, to_user=org["rm2"], actor=org["manager1"])
    lead.refresh_from_db()
    assert lead.assigned_to is None
    assert not LeadAssignment.objects.exists()


def test_the_job_is_idempotent(org):
    _rule(strategy="round_robin", members=[org["rm1"], org["rm3"]])
    _new_leads(org, 4)
    job = get_job("lead_assignment")

    class Progress:
        def advance(self, *args, **kwargs):
            pass

    job.func(Progress())
    first = list(Lead.objects.order_by("pk").values_list("assigned_to", "assigned_at"))
    job.func(Progress())

    assert list(Lead.objects.order_by("pk").values_list("assigned_to", "assigned_at")) == first
    assert LeadAssignment.objects.count() == 4


def test_an_overdue_first_contact_warns_the_branch_manager_once(org):
    _rule(strategy="round_robin", members=[org["rm1"]], first_contact_hours=2)
    lead = _new_leads(org, 1)[0]
    start = timezone.now()
    services.leads_assign_pending(now=start)

    assert services.leads_warn_overdue(now=start + dt.timedelta(hours=1)) == 0
    assert services.leads_warn_overdue(now=start + dt.timedelta(hours=3)) == 1
    assert services.leads_warn_overdue(now=start + dt.timedelta(hours=4)) == 0

    warnings = Notification.objects.filter(kind=Notification.Kind.TASK_OVERDUE, url=lead.get_absolute_url())
    assert list(warnings.values_list("recipient__username", flat=True)) == ["manager1"]


def test_a_contacted_lead_is_never_reported_overdue(org):
    _rule(strategy="round_robin", members=[org["rm1"]], first_contact_hours=1)
    lead = _new_leads(org, 1)[0]
    services.leads_assign_pending()
    services.lead_record_contact(lead=lead, actor=org["rm1"])

    assert services.leads_warn_overdue(now=timezone.now() + dt.timedelta(days=2)) == 0


def test_a_manager_edits_rules_only_for_branches_they_manage(org):
    with pytest.raises(ValidationError):
        services.assignment_rule_save(actor=org["manager1"], branch=Branch.objects.get(code="BJ02"), members=[],
                                      values={"name": "x", "strategy": "round_robin", "position": 1})
    rule = services.assignment_rule_save(actor=org["manager1"], branch=Branch.objects.get(code="BJ01"),
                                         members=[org["rm1"]],
                                         values={"name": "海淀轮询", "strategy": "round_robin", "position": 1,
                                                 "first_contact_hours": 8})
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["海淀轮询"]
    assert list(rule.members.all()) == [org["rm1"]]


def test_many_leads_for_one_person_in_one_run_make_one_notice(org):
    _rule(strategy="round_robin", members=[org["rm3"]])
    _new_leads(org, 5)

    services.leads_assign_pending()

    notices = list(Notification.objects.filter(recipient=org["rm3"]).values_list("subject", "url"))
    assert notices == [("5 new leads", "/leads/?who=me")]
