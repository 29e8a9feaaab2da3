"""Demo contacts and tasks, so the workbench of each demo RM has a day to show (seed_demo calls this)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from customers.models import Customer

from . import services
from .models import Channel, Interaction, Task

# (channel, purpose, summary, days ago)
CONTACTS = [
    (Channel.PHONE, Interaction.Purpose.MATURITY, "电话沟通定期存款到期续作意向，客户倾向稳健型理财。", 3),
    (Channel.VISIT, Interaction.Purpose.PRODUCT, "客户到网点咨询理财产品，已介绍稳盈系列并提供说明书。", 12),
]
# (title, priority, due in days, hour)
TASKS = [
    ("回访理财产品意向", Task.Priority.HIGH, 0, 15),
    ("提醒客户更新风险测评", Task.Priority.NORMAL, 0, 17),
    ("寄送产品说明书", Task.Priority.NORMAL, -1, 10),
    ("到期资金续作沟通", Task.Priority.URGENT, 2, 10),
    ("生日关怀电话", Task.Priority.LOW, 5, 11),
]


@transaction.atomic
def seed_workbench(*, users: dict) -> int:
    """For each demo RM with no tasks yet: contacts with their top customers and a few tasks. Idempotent."""
    created = 0
    now = timezone.now()
    for username in ("rm1", "rm2", "rm3"):
        rm = users.get(username)
        if rm is None or Task.objects.filter(assignee=rm).exists():
            continue
        top = list(Customer.objects.filter(primary_rm=rm).exclude(lifecycle_status=Customer.Lifecycle.CLOSED)
                   .order_by("-aum", "id")[: len(TASKS)])
        for customer, (channel, purpose, summary, days_ago) in zip(top, CONTACTS, strict=False):
            services.interaction_log(customer=customer, actor=rm, channel=channel, purpose=purpose,
                                     occurred_at=now - dt.timedelta(days=days_ago), summary=summary)
        for customer, (title, priority, due_days, hour) in zip(top, TASKS, strict=False):
            due = timezone.localtime(now).replace(hour=hour, minute=0, second=0, microsecond=0)
            services.task_create(actor=rm, title=title, priority=priority, customer=customer,
                                 due_at=due + dt.timedelta(days=due_days))
            created += 1
    return created
