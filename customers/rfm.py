"""RFM scoring: recency, frequency and monetary value per customer, scored 1–5, as a dated snapshot.

The whole computation is one set-based statement in PostgreSQL (aggregate over the window of
customers_transaction, then rank() window functions), written into a temporary table and merged
into the run's snapshot so that a rerun of the same date changes only rows whose values changed.

Rules (docs/decisions.md, "RFM scoring", says why):

- Window: the `window_days` local calendar days ending with `as_of` (inclusive); transactions after
  the end of `as_of` never count, so a rerun for a past date gives the same snapshot.
- R = whole days from the local date of the latest transaction in the window to `as_of`;
  F = number of transactions in the window; M = sum of absolute amounts in the window.
- Population: every customer not closed and not merged into another.
- Scores over the customers with at least one transaction in the window ("active"):
  score = min(5, 1 + floor(5 × percent_rank)), percent_rank = (rank − 1) / (n − 1) with rank()
  (equal values share a rank, so equal raw values always share a score). F and M rank ascending,
  R ranks by days descending (fewer days = better). Computed in integers, so no rounding edge.
  n = 1 gives percent_rank 0 (PostgreSQL's definition), so score 1.
- Customers without a transaction in the window score 1/1/1, are flagged inactive, labelled Lost.
- Label from R and F (LABEL_GRID below).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import Customer, RfmRun, RfmScore

DEFAULT_WINDOW_DAYS = 365
MAX_WINDOW_DAYS = 3660

L = RfmScore.Label
# The SQL is assembled from constants only (score formulas and the label grid); values go as parameters.
# LABEL_GRID[r][f]: the label of an active customer with R score r and F score f (1–5).
LABEL_GRID: dict[int, dict[int, str]] = {
    1: {1: L.HIBERNATING, 2: L.HIBERNATING, 3: L.AT_RISK, 4: L.AT_RISK, 5: L.CANT_LOSE},
    2: {1: L.HIBERNATING, 2: L.HIBERNATING, 3: L.AT_RISK, 4: L.AT_RISK, 5: L.CANT_LOSE},
    3: {1: L.ABOUT_TO_SLEEP, 2: L.ABOUT_TO_SLEEP, 3: L.NEED_ATTENTION, 4: L.LOYAL, 5: L.LOYAL},
    4: {1: L.PROMISING, 2: L.POTENTIAL_LOYALISTS, 3: L.POTENTIAL_LOYALISTS, 4: L.LOYAL, 5: L.LOYAL},
    5: {1: L.NEW, 2: L.POTENTIAL_LOYALISTS, 3: L.POTENTIAL_LOYALISTS, 4: L.CHAMPIONS, 5: L.CHAMPIONS},
}


@dataclass(frozen=True)
class RfmResult:
    run: RfmRun
    scored: int
    changed: int


def rfm_window(*, as_of: datetime.date, window_days: int) -> tuple[datetime.datetime, datetime.datetime]:
    """The aware [start, end) of the window: local midnight `window_days - 1` days before as_of to the next midnight."""
    start_day = as_of - datetime.timedelta(days=window_days - 1)
    end_day = as_of + datetime.timedelta(days=1)
    return (timezone.make_aware(datetime.datetime.combine(start_day, datetime.time.min)),
            timezone.make_aware(datetime.datetime.combine(end_day, datetime.time.min)))


def parse_params(as_of: Any = None, window_days: Any = None) -> tuple[datetime.date, int]:
    """Job parameters arrive as strings from run_job and JSON; default: yesterday (the last whole day), 365 days."""
    if as_of in (None, ""):
        day = timezone.localdate() - datetime.timedelta(days=1)
    elif isinstance(as_of, datetime.date):
        day = as_of
    else:
        day = datetime.date.fromisoformat(str(as_of).strip())
    days = DEFAULT_WINDOW_DAYS if window_days in (None, "") else int(str(window_days).strip())
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise ValueError(f"window_days must be between 1 and {MAX_WINDOW_DAYS}, got {days}")
    return day, days


def _label_sql() -> str:
    branches = [
        f"WHEN r_score = {r} AND f_score = {f} THEN '{label}'"
        for r, row in LABEL_GRID.items() for f, label in row.items()
    ]
    return "CASE WHEN inactive THEN '{lost}' {whens} END".format(lost=L.LOST, whens=" ".join(branches))


def _score_sql(rank: str) -> str:
    # min(5, 1 + floor(5 * percent_rank)) in integer arithmetic; percent_rank = (rank - 1) / (n - 1).
    return f"CASE WHEN inactive THEN 1 ELSE LEAST(5, 1 + (5 * ({rank} - 1)) / GREATEST(n - 1, 1)) END"


SCORING_SQL = """
CREATE TEMP TABLE rfm_new ON COMMIT DROP AS
WITH txn AS (
    SELECT t.customer_id, max(t.occurred_at) AS last_at, count(*) AS frequency, sum(abs(t.amount)) AS monetary
    FROM customers_transaction t
    WHERE t.occurred_at >= %(start)s AND t.occurred_at < %(end)s
    GROUP BY t.customer_id
), population AS (
    SELECT c.id AS customer_id,
           (%(as_of)s::date - (txn.last_at AT TIME ZONE %(tz)s)::date) AS recency_days,
           coalesce(txn.frequency, 0) AS frequency,
           coalesce(txn.monetary, 0) AS monetary,
           txn.customer_id IS NULL AS inactive
    FROM customers_customer c
    LEFT JOIN txn ON txn.customer_id = c.id
    WHERE c.merged_into_id IS NULL AND c.lifecycle_status <> %(closed)s
), ranked AS (
    SELECT p.*,
           rank() OVER (PARTITION BY inactive ORDER BY recency_days DESC) AS r_rank,
           rank() OVER (PARTITION BY inactive ORDER BY frequency) AS f_rank,
           rank() OVER (PARTITION BY inactive ORDER BY monetary) AS m_rank,
           count(*) OVER (PARTITION BY inactive) AS n
    FROM population p
), scored AS (
    SELECT customer_id, recency_days, frequency, monetary, inactive,
           {r} AS r_score, {f} AS f_score, {m} AS m_score
    FROM ranked
)
SELECT customer_id, recency_days, frequency, monetary, inactive, r_score, f_score, m_score,
       ({label})::varchar AS label
FROM scored
""".format(r=_score_sql("r_rank"), f=_score_sql("f_rank"), m=_score_sql("m_rank"), label=_label_sql())  # noqa: S608

COLUMNS = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "label", "inactive")

MERGE_SQL = """
INSERT INTO customers_rfmscore (run_id, customer_id, {cols})
SELECT %(run)s, customer_id, {cols} FROM rfm_new
ON CONFLICT (customer_id, run_id) DO UPDATE SET {sets}
WHERE ({target}) IS DISTINCT FROM ({excluded})
""".format(
    cols=", ".join(COLUMNS),
    sets=", ".join(f"{col} = EXCLUDED.{col}" for col in COLUMNS),
    target=", ".join(f"customers_rfmscore.{col}" for col in COLUMNS),
    excluded=", ".join(f"EXCLUDED.{col}" for col in COLUMNS),
)

PRUNE_SQL = """
DELETE FROM customers_rfmscore s
WHERE s.run_id = %(run)s AND NOT EXISTS (SELECT 1 FROM rfm_new n WHERE n.customer_id = s.customer_id)
"""


def rfm_score_all(*, as_of: datetime.date, window_days: int = DEFAULT_WINDOW_DAYS) -> RfmResult:
    """Score every customer as of `as_of` into that date's snapshot (new or brought up to date), in one transaction."""
    start, end = rfm_window(as_of=as_of, window_days=window_days)
    started_at = timezone.now()
    with transaction.atomic():
        run, _created = RfmRun.objects.select_for_update().get_or_create(
            as_of=as_of, defaults={"window_days": window_days}
        )
        with connection.cursor() as cursor:
            # Sorting 1M rows three times for rank(): in memory instead of on disk (docs/benchmarks.md).
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute(SCORING_SQL, {"start": start, "end": end, "as_of": as_of, "tz": settings.TIME_ZONE,
                                         "closed": Customer.Lifecycle.CLOSED})
            scored = cursor.rowcount
            cursor.execute(PRUNE_SQL, {"run": run.pk})
            changed = cursor.rowcount
            cursor.execute(MERGE_SQL, {"run": run.pk})
            changed += cursor.rowcount
            cursor.execute("SELECT count(*) FILTER (WHERE NOT inactive) FROM rfm_new")
            active = cursor.fetchone()[0]
            # ON COMMIT DROP alone would leave it in a caller's outer transaction (savepoint).
            cursor.execute("DROP TABLE rfm_new")
        RfmRun.objects.filter(pk=run.pk).update(
            window_days=window_days, started_at=started_at, finished_at=timezone.now(),
            customers_scored=scored, active_customers=active,
        )
        run.refresh_from_db()
    return RfmResult(run=run, scored=scored, changed=changed)


def label_for(*, r_score: int, f_score: int, inactive: bool = False) -> str:
    """The label the snapshot stores for these scores (the same grid the SQL uses)."""
    return L.LOST if inactive else LABEL_GRID[r_score][f_score]


@dataclass(frozen=True)
class RfmReport:
    run: RfmRun | None
    previous: RfmRun | None
    labels: list[tuple[str, Any]]
    # (branch, [count per label in `labels` order], total)
    branches: list[tuple[Any, list[int], int]]
    totals: list[int]
    # (previous label or None, its display, [(count, stayed in the label) per current label], total)
    transitions: list[tuple[str | None, Any, list[tuple[int, bool]], int]]
    chart: dict


def rfm_report(*, user: Any, run: RfmRun | None = None) -> RfmReport:
    """Label counts per home branch in `run` (default the latest) and label moves since the run before it, scoped."""
    from django.db.models import Count, OuterRef, Subquery

    from org import scoping
    from org.models import Branch

    labels = list(RfmScore.Label.choices)
    codes = [code for code, _label in labels]
    run = run or RfmRun.objects.order_by("-as_of").first()
    if run is None:
        return RfmReport(None, None, labels, [], [0] * len(codes), [], {})
    previous = RfmRun.objects.filter(as_of__lt=run.as_of).order_by("-as_of").first()
    scores = scoping.visible(user, RfmScore.objects.filter(run=run))

    per_branch: dict[int, list[int]] = {}
    for row in scores.values("customer__home_branch_id", "label").annotate(n=Count("pk")).order_by():
        counts = per_branch.setdefault(row["customer__home_branch_id"], [0] * len(codes))
        counts[codes.index(row["label"])] = row["n"]
    branch_rows = [(branch, per_branch[branch.pk], sum(per_branch[branch.pk]))
                   for branch in Branch.objects.filter(pk__in=per_branch).order_by("path")]
    totals = [sum(counts[i] for counts in per_branch.values()) for i in range(len(codes))]

    transitions: list[tuple[str | None, Any, list[tuple[int, bool]], int]] = []
    if previous is not None:
        before = RfmScore.objects.filter(run=previous, customer_id=OuterRef("customer_id")).values("label")[:1]
        moves: dict[str | None, list[int]] = {}
        for row in (scores.annotate(before=Subquery(before)).values("before", "label")
                    .annotate(n=Count("pk")).order_by()):
            counts = moves.setdefault(row["before"], [0] * len(codes))
            counts[codes.index(row["label"])] = row["n"]
        display = dict(labels)
        for code in [*codes, None]:
            if code in moves:
                cells = [(n, codes[i] == code) for i, n in enumerate(moves[code])]
                transitions.append((code, display.get(code), cells, sum(moves[code])))

    chart = {
        "type": "bar",
        "labels": [branch.name for branch, _counts, _total in branch_rows],
        "datasets": [{"label": str(label), "data": [counts[i] for _b, counts, _t in branch_rows]}
                     for i, (_code, label) in enumerate(labels)],
        "options": {"scales": {"x": {"stacked": True}, "y": {"stacked": True, "beginAtZero": True}}},
    }
    return RfmReport(run, previous, labels, branch_rows, totals, transitions, chart)
