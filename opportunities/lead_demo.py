"""Demo leads, assignment rules, specialists and referrals (seed_demo calls this; deterministic and idempotent)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from crm_site import crypto
from customers import pii
from customers.models import Customer
from org.models import Branch

from . import lead_services as services
from .models_leads import AssignmentRule, Lead, ProductSpecialist, Referral

# (name, phone, channel, interest, branch code, who records it, then: "new" | "assigned" | "overdue" |
#  "contacted" | "qualified" | "disqualified")
LEADS = [
    ("孙悦", "17700010001", Lead.Channel.WALK_IN, "wealth", "BJ01", "rm1", "qualified"),
    ("周杰", "17700010002", Lead.Channel.WEB_FORM, "loans", "BJ01", "manager1", "new"),
    ("吴婷", "17700010003", Lead.Channel.PHONE, "insurance", "BJ01", "manager1", "new"),
    ("郑浩", "17700010004", Lead.Channel.WALK_IN, "wealth", "BJ01", "rm1", "contacted"),
    ("冯雪", "17700010005", Lead.Channel.CAMPAIGN, "cards", "BJ01", "rm1", "overdue"),
    ("陈晨", "17700010006", Lead.Channel.WEB_FORM, "deposits", "BJ01", "rm1", "assigned"),
    ("褚楠", "17700010007", Lead.Channel.WALK_IN, "loans", "BJ01", "rm1", "disqualified"),
    ("卫东", "17700010008", Lead.Channel.WALK_IN, "wealth", "BJ02", "rm2", "assigned"),
    ("蒋琳", "17700010009", Lead.Channel.PHONE, "deposits", "BJ02", "rm2", "qualified"),
    ("沈阳", "17700010010", Lead.Channel.WEB_FORM, "wealth", "BJ02", "ops1", "new"),
]


def _already_seeded() -> bool:
    first = crypto.blind_index("phone", pii.normalise_phone(LEADS[0][1]))
    return Lead.objects.filter(phone_bidx=first).exists() or Lead.objects.filter(
        channel=Lead.Channel.REFERRAL, referral__referrer__username="service1").exists()


@transaction.atomic
def seed_leads(*, users: dict) -> int:
    """Rules, specialists, ten leads in every status and two referrals from service1; returns leads made.

    A second run changes nothing (the first demo lead's blind index marks a seeded database)."""
    if _already_seeded() or "manager1" not in users:
        return 0
    branches = {b.code: b for b in Branch.objects.filter(code__in=("BJ", "BJ01", "BJ02"))}
    ProductSpecialist.objects.get_or_create(user=users["rm3"], area="wealth")
    ProductSpecialist.objects.get_or_create(user=users["rm1"], area="insurance")
    specialist_rule, _created = AssignmentRule.objects.get_or_create(
        branch=branches["BJ01"], name="专家优先：理财与保险",
        defaults={"position": 10, "strategy": AssignmentRule.Strategy.SPECIALIST, "first_contact_hours": 24})
    rr, created = AssignmentRule.objects.get_or_create(
        branch=branches["BJ01"], name="海淀轮询",
        defaults={"position": 20, "strategy": AssignmentRule.Strategy.ROUND_ROBIN, "first_contact_hours": 24})
    if created:
        rr.members.set([users["rm1"], users["rm3"]])
    AssignmentRule.objects.get_or_create(
        branch=branches["BJ"], name="北京分行兜底：最少在办",
        defaults={"position": 90, "strategy": AssignmentRule.Strategy.LEAST_OPEN, "capacity": 30,
                  "first_contact_hours": 48})
    made = 0
    now = timezone.now()
    for name, phone, channel, interest, branch, who, state in LEADS:
        lead = services.lead_create(actor=users[who], name=name, channel=channel, product_interest=interest,
                                    branch=branches[branch], phone=phone, note="演示线索")
        made += 1
        if state == "new":
            continue
        if lead.assigned_to_id is None:
            services.lead_assign(lead=lead, to_user=users["rm1"], actor=users["manager1"])
        actor = lead.assigned_to
        if state == "overdue":
            Lead.objects.filter(pk=lead.pk).update(first_contact_due_at=now - dt.timedelta(hours=3))
        if state in ("contacted", "qualified"):
            services.lead_record_contact(lead=lead, actor=actor, note="已电话联系，客户有意向。")
        if state == "qualified":
            services.lead_qualify(lead=lead, actor=actor)
        if state == "disqualified":
            services.lead_disqualify(lead=lead, actor=actor, reason=Lead.DisqualifyReason.NOT_INTERESTED,
                                     note="暂无需求")
    # service1 (a teller) refers two of rm1's customers: one to the wealth specialist by name, one to the rules.
    customers = list(Customer.objects.filter(primary_rm=users["rm1"], lifecycle_status=Customer.Lifecycle.ACTIVE)
                     .exclude(leads__status__in=Lead.OPEN_STATUSES).order_by("-aum", "pk")[:2])
    for customer, specialist in zip(customers, (users["rm3"], None), strict=False):
        if not Referral.objects.filter(customer=customer).exists():
            services.referral_create(customer=customer, actor=users["service1"], area="wealth",
                                     note="客户定期即将到期，想了解稳健理财。", specialist=specialist)
            made += 1
    # The "new" leads stay for the lead_assignment job (every minute under `make run`) to place by the rules.
    return made
