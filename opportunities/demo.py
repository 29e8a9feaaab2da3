"""Demo opportunities, so `make run` shows each demo RM a board with cards, history and a funnel."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from customers.models import Customer, Product

from . import services
from .models import Opportunity, Pipeline

PER_RM = 24
# Where each demo opportunity ends: a stage code, or "won" / "lost".
ENDS = ["initial_contact", "initial_contact", "needs_analysis", "needs_analysis", "proposal", "proposal",
        "product_pitch", "negotiation", "won", "won", "lost", "lost"]
LOST_REASONS = ["客户选择他行产品", "收益预期不符", "资金另有安排", "客户暂无需求"]
NEXT_STEPS = ["电话跟进产品意向", "预约网点面谈", "发送产品说明书", "确认资金到账时间", "协助完成风险测评"]
CATEGORIES = (Product.Category.WEALTH, Product.Category.TIME_DEPOSIT, Product.Category.FUND,
              Product.Category.INSURANCE)


@transaction.atomic
def seed_opportunities(*, users: dict, seed: int = 2026) -> int:
    """For each demo RM with no opportunities yet: a pipeline of dated opportunities over the last 60 days.

    Deterministic (seeded) and idempotent. Opportunities that go past the proposal stage are for
    suitable products; one unsuitable opportunity per RM waits at the proposal stage for an override."""
    products = {category: list(Product.objects.filter(category=category, is_active=True).order_by("code"))
                for category in CATEGORIES}
    pipelines = {p.category: p for p in Pipeline.objects.filter(is_active=True)}
    now = timezone.now()
    created = 0
    for index, username in enumerate(("rm1", "rm2", "rm3")):
        rm = users.get(username)
        if rm is None or Opportunity.objects.filter(owner=rm).exists():
            continue
        rng = random.Random(seed * 100 + index)
        customers = list(Customer.objects.filter(primary_rm=rm, lifecycle_status=Customer.Lifecycle.ACTIVE,
                                                 merged_into__isnull=True).order_by("-aum", "id")[:PER_RM])
        blocked_done = False
        for n, customer in enumerate(customers):
            category = CATEGORIES[n % len(CATEGORIES)]
            if not products.get(category) or category not in pipelines:
                continue
            end = ENDS[n % len(ENDS)]
            suitable = [p for p in products[category] if services.suitable(customer=customer, product=p)]
            unsuitable = [p for p in products[category] if p not in suitable]
            if end == "proposal" and unsuitable and not blocked_done:
                product, blocked_done = unsuitable[0], True
            elif suitable:
                product = rng.choice(suitable)
            else:
                continue
            start = now - dt.timedelta(days=rng.randint(20, 60), hours=rng.randint(0, 8))
            amount = Decimal(rng.choice([50, 100, 200, 300, 500, 800, 1000]) * 1000)
            opp = services.opportunity_create(
                customer=customer, product=product, actor=rm, amount=amount,
                expected_close_on=(now + dt.timedelta(days=rng.randint(-5, 75))).date(),
                next_step=rng.choice(NEXT_STEPS), now=start)
            created += 1
            stages = [s for s in pipelines[category].stages.order_by("order") if not s.is_won and not s.is_lost]
            target = {"won": len(stages) - 1, "lost": rng.randint(0, 2)}.get(
                end, next((i for i, s in enumerate(stages) if s.code == end), 0))
            when = start
            for stage in stages[1: target + 1]:
                when += dt.timedelta(days=rng.randint(1, 5), hours=rng.randint(0, 6))
                services.opportunity_advance(opportunity=opp, actor=rm, to_stage=stage, now=min(when, now))
            if end in ("won", "lost"):
                when = min(when + dt.timedelta(days=rng.randint(1, 4)), now)
                services.opportunity_close(opportunity=opp, actor=rm, won=end == "won",
                                           reason="客户已签约" if end == "won" else rng.choice(LOST_REASONS), now=when)
    return created
