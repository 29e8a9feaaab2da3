"""Customer benchmarks: the 360° page, search, deep list pages, segment refresh."""

from __future__ import annotations

import random
import statistics
import time

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]


def _timed_ms(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        begin = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - begin) * 1000)
    return samples


def customer360(results: dict, *, rng: random.Random) -> None:
    """Server time of the whole 360° page (all panels) for the owning RM, warm, and its query count."""
    from customers.models import Customer
    from org.models import User

    rm = User.objects.get(username="rm1")
    ids = list(Customer.objects.filter(primary_rm=rm).order_by("id").values_list("pk", flat=True)[:5000])
    sample = rng.sample(ids, min(40, len(ids)))
    client = Client(HTTP_HOST="localhost")  # outside the test runner ALLOWED_HOSTS applies
    client.force_login(rm)
    for pk in sample:  # warm: the page, the plan cache, the buffers
        client.get(f"/customers/{pk}/")
    samples = []
    for _ in range(5):
        for pk in sample:
            begin = time.perf_counter()
            response = client.get(f"/customers/{pk}/")
            samples.append((time.perf_counter() - begin) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"customer page {pk} answered {response.status_code}")
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/customers/{sample[0]}/")
    results["customer360_p95_ms"] = round(p95(samples), 2)
    results["customer360_queries"] = len(queries)


def search(results: dict, *, rng: random.Random) -> None:
    """Exact phone / ID search through the blind index, and name fragments, as risk1 (sees all)."""
    from customers import pii
    from customers.models import Customer
    from customers.selectors import customer_list
    from org.models import User

    viewer = User.objects.get(username="risk1")
    # A fixed sample (every 33,333rd customer), so runs compare like with like.
    step = max(1, Customer.objects.count() // 30)
    rows = list(Customer.objects.exclude(phone_enc="").filter(pk__in=range(1, step * 31, step)))[:30]
    phones = [pii.unseal(c, "phone")[3:] for c in rows]
    ids = [pii.unseal(c, "id_number") for c in rows if c.id_number_enc]
    exact = []
    for value in phones + ids:
        exact += _timed_ms(lambda v=value: customer_list(user=viewer, filters={"q": v}), 3)
    results["search_exact_p95_ms"] = round(p95(exact), 2)
    names = [c.name for c in rows if c.kind == Customer.Kind.INDIVIDUAL]
    fragments = [n[:2] for n in names] + [n[-2:] for n in names] + [n for n in names if len(n) >= 3]
    fragments += [c.name_initials for c in rows if len(c.name_initials) >= 2]
    by_name = []
    for fragment in fragments:
        by_name += _timed_ms(lambda f=fragment: customer_list(user=viewer, filters={"q": f}), 3)
    results["search_name_p95_ms"] = round(p95(by_name), 2)


def list_pages(results: dict) -> None:
    """Keyset pagination: page 10,000 (or the deepest page this scale has) against page 1."""
    from crm_site.pagination import cursor_for
    from customers.models import Customer
    from customers.selectors import PAGE_SIZE, customer_list
    from org.models import User

    viewer = User.objects.get(username="risk1")
    total = Customer.objects.count()
    target_page = 10_000 if total > 10_000 * PAGE_SIZE else max(2, total // PAGE_SIZE - 1)
    last_of_previous = Customer.objects.order_by("name", "id")[(target_page - 1) * PAGE_SIZE - 1]
    deep_cursor = cursor_for(last_of_previous, ("name", "id"))
    first = p95(_timed_ms(lambda: customer_list(user=viewer, filters={}), 30))
    deep = p95(_timed_ms(lambda: customer_list(user=viewer, filters={}, cursor=deep_cursor), 30))
    key = "list_page_10000_ratio" if target_page == 10_000 else "list_page_deepest_ratio"
    results[key] = round(deep / first, 3)
    results["list_page_deepest"] = target_page


def segment_refresh(results: dict) -> None:
    """Refresh of the issue's example segment over every customer."""
    from customers import segments
    from customers.models import Segment

    segment, _created = Segment.objects.update_or_create(name="bench: wealth, ≤C3, quiet 90 days", defaults={
        "rules": [{"field": "aum", "op": "gte", "value": "6000000"},
                  {"field": "risk_tolerance", "op": "lte", "value": "C3"},
                  {"field": "no_transaction_in_days", "op": "gte", "value": 90}]})
    begin = time.perf_counter()
    segments.segment_refresh(segment=segment)
    results["segment_refresh_s"] = round(time.perf_counter() - begin, 3)
    results["segment_refresh_members"] = Segment.objects.get(pk=segment.pk).member_count
