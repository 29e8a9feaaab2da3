"""Demo customers: deterministic (seeded) Chinese names spread over the demo RMs and sub-branches."""

from __future__ import annotations

import random

from django.db import transaction

from org.models import Branch, User

from .models import Customer

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国文博宇浩然子涵欣怡梓轩雨萱思远晨曦嘉怡"
COMPANY_WORDS = ["华信", "嘉禾", "东方", "恒通", "瑞丰", "中科", "金桥", "宏达", "远航", "新元"]
COMPANY_KINDS = ["科技有限公司", "贸易有限公司", "制造有限公司", "物流有限公司"]


def _name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


@transaction.atomic
def seed_customers(*, count: int, users: dict[str, User], seed: int = 2026) -> int:
    """Create customers C0000000001… up to `count`; existing numbers are left as they are."""
    rng = random.Random(seed)
    owners = [
        (users["rm1"], users["rm1"].branch),
        (users["rm3"], users["rm3"].branch),
        (users["rm2"], users["rm2"].branch),
    ]
    shanghai = Branch.objects.get(code="SH01")
    rows = []
    for number in range(1, count + 1):
        slot = number % 4
        rm, branch = owners[slot] if slot < 3 else (None, shanghai)
        corporate = rng.random() < 0.1
        name = (rng.choice(COMPANY_WORDS) + rng.choice(COMPANY_KINDS)) if corporate else _name(rng)
        lifecycle = rng.choices(
            [Customer.Lifecycle.ACTIVE, Customer.Lifecycle.PROSPECT, Customer.Lifecycle.DORMANT],
            weights=[80, 12, 8],
        )[0]
        rows.append(Customer(
            customer_no=f"C{number:010d}",
            kind=Customer.Kind.CORPORATE if corporate else Customer.Kind.INDIVIDUAL,
            name=name, home_branch=branch, primary_rm=rm, lifecycle_status=lifecycle,
        ))
    created = Customer.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(created)
