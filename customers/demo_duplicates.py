"""Planted duplicates for `seed_demo --duplicates 2%`: known answers for the duplicate-detection benchmark.

Every `period`-th demo customer (C n with n % period == OFFSET, period = round(1 / share)) gets a second
record D n — the same person registered again, the way it happens at a counter: a new phone, a typo
in the name, two characters swapped, no ID number on a quick prospect record. The truth is in the
numbers themselves: D n is a duplicate of C n and of nothing else, so `planted_pairs()` needs no
extra table, and `variant_of(n)` says which kind of change each got (the draw is seeded per n).

Deterministic and idempotent: D n is written only when missing, so this works on a database seeded
earlier without it (the 1M benchmark database) and a second run changes nothing. The row-audit
trigger is off inside the transaction; one "import" entry records the plant instead.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from org.audit import audit_record
from org.models import AuditEntry

from . import pii
from .demo import GIVEN_FEMALE, GIVEN_MALE, _set_audit_triggers
from .models import Customer

OFFSET = 7
BATCH = 5000
COMPANY_CHARS = "华信嘉禾东方恒通瑞丰中科金桥宏达远航新元博鼎盛"

# (variant, share) for individuals and for corporates; "namesake" keeps only the name and birth date,
# which the detection cannot tell from two people of the same name (the expected misses).
INDIVIDUAL_VARIANTS = [("new_phone", 0.25), ("name_typo", 0.25), ("swapped", 0.20), ("typo_new_phone", 0.25),
                       ("namesake", 0.05)]
CORPORATE_VARIANTS = [("corporate_typo", 0.5), ("corporate_phone", 0.5)]


def parse_share(value: str) -> float:
    """"2%" → 0.02; "0.02" → 0.02. Raises ValueError outside (0, 0.5]."""
    text = str(value).strip()
    share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0 < share <= 0.5:
        raise ValueError("the share of duplicates must be above 0 and at most 50%")
    return share


def period_for(share: float) -> int:
    return max(2, round(1 / share))


def _draw(rng: random.Random, table: list[tuple[str, float]]) -> str:
    x, total = rng.random(), 0.0
    for name, weight in table:
        total += weight
        if x < total:
            return name
    return table[-1][0]


def _rng(seed: int, number: int) -> random.Random:
    return random.Random(seed * 1_000_003 + number * 7 + 424_242)  # noqa: S311 - demo data, reproducible


def variant_of(number: int, *, corporate: bool, seed: int = 2026) -> str:
    return _draw(_rng(seed, number), CORPORATE_VARIANTS if corporate else INDIVIDUAL_VARIANTS)


def _typo(rng: random.Random, name: str, pool: str) -> str:
    position = len(name) - 1 if len(name) <= 3 else rng.randrange(2, len(name) - 1)
    choices = [ch for ch in pool if ch != name[position]]
    return name[:position] + rng.choice(choices) + name[position + 1:]


def _swap(name: str) -> str:
    if len(name) >= 3 and name[-1] != name[-2]:
        return name[:-2] + name[-1] + name[-2]
    return name[1] + name[0] + name[2:]


def _new_phone(phone: str) -> str:
    # "+86" + 3-digit prefix + 8 digits that are a bijection of the customer number: another prefix
    # with the same digits belongs to nobody else.
    prefix = "199" if phone[3:6] != "199" else "198"
    return "+86" + prefix + phone[6:]


@dataclass
class PlantResult:
    planted: int = 0
    already: int = 0


def _originals(count: int, period: int) -> Iterator[list[Customer]]:
    numbers = [f"C{n:010d}" for n in range(OFFSET, count + 1, period)]
    for start in range(0, len(numbers), BATCH):
        chunk = numbers[start:start + BATCH]
        yield list(Customer.objects.filter(customer_no__in=chunk, merged_into__isnull=True)
                   .exclude(lifecycle_status=Customer.Lifecycle.CLOSED).order_by("customer_no"))


def _duplicate_of(original: Customer, *, seed: int, now) -> Customer:
    number = int(original.customer_no[1:])
    rng = _rng(seed, number)
    corporate = original.kind == Customer.Kind.CORPORATE
    variant = _draw(rng, CORPORATE_VARIANTS if corporate else INDIVIDUAL_VARIANTS)
    id_number, phone = pii.unseal(original, "id_number"), pii.unseal(original, "phone")
    address = pii.unseal(original, "address") if original.address_enc else ""
    name, id_type = original.name, original.id_type
    pool = COMPANY_CHARS if corporate else (GIVEN_MALE if original.gender == Customer.Gender.MALE else GIVEN_FEMALE)
    if variant == "new_phone":
        phone = _new_phone(phone)
    elif variant == "name_typo":
        name, id_type, id_number = _typo(rng, name, pool), "", ""
    elif variant == "swapped":
        name, id_type, id_number, phone = _swap(name), "", "", _new_phone(phone)
    elif variant == "typo_new_phone":
        name, phone = _typo(rng, name, pool), _new_phone(phone)
        address = f"{address[:6]}新区{rng.randint(1, 399)}号" if address else ""
    elif variant == "namesake":
        id_type, id_number, phone = "", "", _new_phone(phone)
        address = f"{address[:6]}新区{rng.randint(1, 399)}号" if address else ""
    elif variant == "corporate_typo":
        name, phone = _typo(rng, name, pool), _new_phone(phone)
    else:  # corporate_phone: registered again by phone, without the credit code
        id_type, id_number = "", ""
    duplicate = Customer(
        customer_no=f"D{number:010d}", kind=original.kind, name=name, gender=original.gender,
        birth_date=original.birth_date, id_type=id_type, occupation=original.occupation,
        employer=original.employer, income_band=original.income_band,
        source_channel=Customer.SourceChannel.MOBILE, home_branch_id=original.home_branch_id,
        primary_rm_id=original.primary_rm_id, lifecycle_status=Customer.Lifecycle.PROSPECT,
        kyc_status=Customer.KycStatus.PENDING, created_at=now, updated_at=now,
    )
    duplicate.name_pinyin, duplicate.name_initials = pii.name_keys(name)
    for field, value in (("id_number", id_number), ("phone", phone), ("address", address)):
        if value:
            sealed = pii.seal(field, value)
            setattr(duplicate, f"{field}_enc", sealed.enc)
            setattr(duplicate, f"{field}_masked", sealed.masked)
            if field != "address":
                setattr(duplicate, f"{field}_bidx", sealed.bidx)
    return duplicate


def plant_duplicates(*, count: int, share: float, seed: int = 2026) -> PlantResult:
    """Add the missing D n records for C n (n ≤ count, every period-th number); returns what it wrote."""
    period = period_for(share)
    result = PlantResult()
    now = timezone.now()
    for originals in _originals(count, period):
        wanted = {f"D{o.customer_no[1:]}" for o in originals}
        present = set(Customer.objects.filter(customer_no__in=wanted).values_list("customer_no", flat=True))
        result.already += len(present)
        rows = [_duplicate_of(o, seed=seed, now=now) for o in originals if f"D{o.customer_no[1:]}" not in present]
        if not rows:
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            _set_audit_triggers(cursor, enabled=False, tables=("customers_customer",))
            Customer.objects.bulk_create(rows, batch_size=1000)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            _set_audit_triggers(cursor, enabled=True, tables=("customers_customer",))
        result.planted += len(rows)
    if result.planted:
        audit_record(action=AuditEntry.Action.IMPORT, object_type="customers.customer", username="seed_demo",
                     detail={"seed_demo": True, "planted_duplicates": result.planted, "share": share,
                             "period": period})
    return result


PLANTED_PAIRS_SQL = """
SELECT LEAST(c.id, d.id), GREATEST(c.id, d.id), substr(d.customer_no, 2)::bigint, c.kind
  FROM customers_customer d JOIN customers_customer c ON c.customer_no = 'C' || substr(d.customer_no, 2)
 WHERE d.customer_no LIKE 'D%%' AND d.customer_no ~ '^D[0-9]{10}$'
"""


def planted_pairs() -> list[tuple[int, int, int, str]]:
    """(low id, high id, customer number, kind) of every planted pair on file."""
    with connection.cursor() as cursor:
        cursor.execute(PLANTED_PAIRS_SQL)
        return cursor.fetchall()
