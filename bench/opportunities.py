"""Opportunity benchmarks: the funnel over 100,000 opportunities and 600,000 stage changes, and the board's queries.

- Load: 100,000 opportunities of the wealth pipeline on the first 100,000 customers (owner = the
  customer's RM, branch = their home branch, created over the last 180 days) and exactly six stage
  changes each (the opening one, forward moves to a furthest stage, back-and-forth moves to make up
  six, and a last move to "lost" for a share of them), written with COPY. The load runs with
  `session_replication_role = replica`, so neither the audit trigger nor per-row foreign-key checks
  run during it: the generated rows are consistent by construction, and the load is not what is measured.
- `funnel_ms`: `opportunities.selectors.funnel()` (three queries: stages, the cohort by furthest stage and
  status, the cohort's stage changes by the stage they left) for the whole bank (a head-office user, no branch
  filter), warm, median of 7 runs; `funnel_branch_ms` the same for manager1 (BJ01); `funnel_page_ms` the
  whole funnel page (funnel, breakdown, league table, forecast) through Django's test client, median of 5.
- `board_queries`: queries of the board page as manager1 with 500 cards on it (the board shows at most
  500; the load gives BJ01 far more), warm; `board_ms` its median time over 5 requests.
- Afterwards every generated row is deleted again (same replica mode, so no audit rows either) and
  the id sequence is left where it was, so the database is as the run found it.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

OPPORTUNITIES = 100_000
CHANGES_PER_OPPORTUNITY = 6
MARK = "bench"  # Opportunity.source_rule of every generated row


def _copy(cursor, table: str, columns: tuple[str, ...], rows) -> None:
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _paths(rng: random.Random, stages: list[int], won_from: int, lost_stage: int) -> list[int]:
    """The six stages one opportunity enters, the opening one first: forward to a furthest stage, then
    back and forth (re-work) to make up six, the last one "lost" for about a third of those still open."""
    furthest = max(1, min(int(rng.expovariate(0.4)), len(stages) - 1))
    lost = furthest < won_from and rng.random() < 0.35
    size = CHANGES_PER_OPPORTUNITY - (1 if lost else 0)
    path = stages[: furthest + 1][:size]
    # A won opportunity moves only between the won stages; an open one goes back a stage and returns.
    pair = (stages[won_from], stages[won_from + 1]) if furthest >= won_from else (stages[furthest - 1],
                                                                                  stages[furthest])
    while len(path) < size:
        path.append(pair[0] if path[-1] == pair[1] else pair[1])
    return [*path, lost_stage] if lost else path


def load(rng: random.Random, customers: list | None = None) -> tuple[int, int]:
    """COPY the opportunities and their stage changes; returns (first id, last id).

    `customers` ((id, branch id, owner id) rows) replaces the first 100,000 customers of the database."""
    from customers.models import Product
    from opportunities.models import Opportunity, Pipeline
    from org.models import User

    pipeline = Pipeline.objects.get(category="wealth")
    stages = list(pipeline.stages.order_by("order"))
    open_or_won = [s for s in stages if not s.is_lost]
    lost = next(s for s in stages if s.is_lost)
    by_id = {s.pk: s for s in stages}
    won_from = next(i for i, s in enumerate(open_or_won) if s.is_won)
    product, _created = Product.objects.get_or_create(code="BENCH-WM-R2", defaults={
        "name": "基准理财R2", "category": Product.Category.WEALTH, "risk_level": "R2"})
    fallback_owner = User.objects.get(username="rm1").pk
    with connection.cursor() as cursor:
        if customers is None:
            cursor.execute("SELECT id, home_branch_id, coalesce(primary_rm_id, %s) FROM customers_customer "
                           "WHERE merged_into_id IS NULL ORDER BY id LIMIT %s", [fallback_owner, OPPORTUNITIES])
            customers = cursor.fetchall()
        cursor.execute("SELECT coalesce(max(id), 0) FROM opportunities_opportunity")
        first = cursor.fetchone()[0] + 1
    now = timezone.now()
    opportunities, changes = [], []
    for offset, (customer_id, branch_id, owner_id) in enumerate(customers):
        pk = first + offset
        path = _paths(rng, [s.pk for s in open_or_won], won_from, lost.pk)
        created = now - dt.timedelta(days=rng.uniform(1, 180))
        when, previous = created, None
        for stage_id in path:
            seconds = None
            if previous is not None:
                step = dt.timedelta(hours=rng.uniform(2, 24 * 12))
                seconds = int(step.total_seconds())
                when += step
            changes.append((pk, previous, stage_id, owner_id, when, seconds))
            previous = stage_id
        final = by_id[path[-1]]
        furthest = max((by_id[stage_id] for stage_id in path if not by_id[stage_id].is_lost), key=lambda s: s.order)
        status = "won" if final.is_won else "lost" if final.is_lost else "open"
        opportunities.append((
            pk, customer_id, product.pk, pipeline.pk, final.pk, rng.choice((50, 100, 200, 500, 1000)) * 1000,
            (created + dt.timedelta(days=rng.randint(10, 120))).date(), owner_id, branch_id, final.probability,
            "", status, "", when if status != "open" else None, when, furthest.pk, Opportunity.Source.MANUAL, MARK,
            owner_id, created, when))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        _copy(cursor, "opportunities_opportunity", (
            "id", "customer_id", "product_id", "pipeline_id", "stage_id", "amount", "expected_close_on", "owner_id",
            "branch_id", "probability", "next_step", "status", "close_reason", "closed_at", "stage_entered_at",
            "furthest_stage_id", "source", "source_rule", "created_by_id", "created_at", "updated_at"), opportunities)
        _copy(cursor, "opportunities_stagechange", (
            "opportunity_id", "from_stage_id", "to_stage_id", "changed_by_id", "changed_at", "seconds_in_from_stage"),
            changes)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE opportunities_opportunity")
        cursor.execute("ANALYZE opportunities_stagechange")
    return first, first + len(opportunities) - 1


def unload(first: int, last: int) -> None:
    """Delete what load() wrote (stage changes first: the cascade is Django's, not the database's)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM opportunities_stagechange WHERE opportunity_id BETWEEN %s AND %s", [first, last])
        cursor.execute("DELETE FROM opportunities_opportunity WHERE id BETWEEN %s AND %s AND source_rule = %s",
                       [first, last, MARK])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE opportunities_opportunity")
        cursor.execute("ANALYZE opportunities_stagechange")


def _median_ms(fn, runs: int) -> float:
    fn()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def measure(results: dict, *, rng: random.Random) -> None:
    from opportunities import selectors
    from opportunities.models import Pipeline
    from org.models import User

    first, last = load(rng)
    try:
        pipeline = Pipeline.objects.get(category="wealth")
        head_office = User.objects.get(username="admin")
        manager = User.objects.get(username="manager1")
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM opportunities_stagechange c JOIN opportunities_opportunity o "
                           "ON o.id = c.opportunity_id WHERE o.pipeline_id = %s", [pipeline.pk])
            results["funnel_stage_changes"] = cursor.fetchone()[0]
        results["funnel_opportunities"] = last - first + 1
        results["funnel_ms"] = _median_ms(lambda: selectors.funnel(user=head_office, pipeline=pipeline), 7)
        results["funnel_branch_ms"] = _median_ms(lambda: selectors.funnel(user=manager, pipeline=pipeline), 7)

        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(manager)
        results["funnel_page_ms"] = _median_ms(
            lambda: client.get("/opportunities/funnel/", {"pipeline": pipeline.pk}), 5)
        board_url = f"/opportunities/board/{pipeline.pk}/"
        results["board_ms"] = _median_ms(lambda: client.get(board_url), 5)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(board_url)
        if response.status_code != 200:
            raise RuntimeError(f"board answered {response.status_code}")
        results["board_cards"] = response.content.decode().count('data-testid="card-')
        results["board_queries"] = len(queries)
    finally:
        unload(first, last)
