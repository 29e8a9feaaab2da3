"""The nightly tier and lifecycle job: tier from AUM thresholds, dormancy, AUM history, churn-risk episodes.

Every step is one set-based statement whose WHERE clause touches only rows whose value changes, so a
second run on unchanged data writes nothing. Changes to customers are recorded by the row-audit
trigger on customers_customer (the job's name is in the audit context); churn-risk episodes are
audited by the trigger on their own table.

Churn risk (docs/decisions.md, "Tier, lifecycle and churn risk"): AUM now below (1 − share) × the
AUM 90 days before as_of (share default 30 %), or the R score of the latest RFM run two or more
levels below the run before it. A customer at risk without an open episode gets one (once per
episode); an open episode closes on the first run in which neither sign holds.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .models import Customer

DEFAULT_DORMANT_DAYS = 180
DEFAULT_AUM_DROP_SHARE = Decimal("0.30")
AUM_LOOKBACK_DAYS = 90
CLOSED = Customer.Lifecycle.CLOSED


@dataclass(frozen=True)
class LifecycleResult:
    tiers_changed: int
    made_dormant: int
    reactivated: int
    snapshots_written: int
    episodes_opened: list[int]
    episodes_closed: int

    @property
    def changed(self) -> int:
        return (self.tiers_changed + self.made_dormant + self.reactivated + self.snapshots_written
                + len(self.episodes_opened) + self.episodes_closed)


def parse_params(as_of: Any = None, dormant_days: Any = None, aum_drop_share: Any = None,
                 ) -> tuple[datetime.date, int, Decimal]:
    """Job parameters arrive as strings; defaults: today, 180 days, 0.30."""
    if as_of in (None, ""):
        day = timezone.localdate()
    elif isinstance(as_of, datetime.date):
        day = as_of
    else:
        day = datetime.date.fromisoformat(str(as_of).strip())
    days = DEFAULT_DORMANT_DAYS if dormant_days in (None, "") else int(str(dormant_days).strip())
    share = DEFAULT_AUM_DROP_SHARE if aum_drop_share in (None, "") else Decimal(str(aum_drop_share).strip())
    if days < 1:
        raise ValueError(f"dormant_days must be at least 1, got {days}")
    if not Decimal(0) < share < Decimal(1):
        raise ValueError(f"aum_drop_share must be between 0 and 1, got {share}")
    return day, days, share


def _midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


TIER_SQL = """
UPDATE customers_customer c SET tier = t.tier, updated_at = now()
FROM (
    SELECT c2.id, coalesce((SELECT th.tier FROM customers_tierthreshold th WHERE th.min_aum <= c2.aum
                            ORDER BY th.min_aum DESC LIMIT 1), %(mass)s) AS tier
    FROM customers_customer c2
) t
WHERE c.id = t.id AND c.tier <> t.tier
"""

DORMANT_SQL = """
UPDATE customers_customer c SET lifecycle_status = %(dormant)s, updated_at = now()
WHERE c.lifecycle_status = %(active)s AND c.merged_into_id IS NULL AND c.created_at < %(start)s
  AND NOT EXISTS (SELECT 1 FROM customers_transaction t
                  WHERE t.customer_id = c.id AND t.occurred_at >= %(start)s AND t.occurred_at < %(end)s)
"""

REACTIVATE_SQL = """
UPDATE customers_customer c SET lifecycle_status = %(active)s, updated_at = now()
WHERE c.lifecycle_status = %(dormant)s AND c.merged_into_id IS NULL
  AND EXISTS (SELECT 1 FROM customers_transaction t
              WHERE t.customer_id = c.id AND t.occurred_at >= %(start)s AND t.occurred_at < %(end)s)
"""

# A change log: a row only when the AUM differs from the customer's latest snapshot. The latest
# snapshots are read once as a set (DISTINCT ON, then a hash join): a per-customer LATERAL probe was
# planned as a scan of the table being filled and went quadratic on a first run over 1M customers.
SNAPSHOT_SQL = """
WITH last AS (
    SELECT DISTINCT ON (customer_id) customer_id, aum FROM customers_customeraumsnapshot
    WHERE taken_on <= %(as_of)s ORDER BY customer_id, taken_on DESC
)
INSERT INTO customers_customeraumsnapshot (customer_id, taken_on, aum)
SELECT c.id, %(as_of)s, c.aum
FROM customers_customer c
LEFT JOIN last ON last.customer_id = c.id
WHERE c.merged_into_id IS NULL AND c.lifecycle_status <> %(closed)s AND (last.aum IS NULL OR last.aum <> c.aum)
ON CONFLICT (customer_id, taken_on) DO UPDATE SET aum = EXCLUDED.aum
"""

# A snapshot older than the look-back point is needed only while no later one is also that old.
PRUNE_SQL = """
DELETE FROM customers_customeraumsnapshot s
WHERE s.taken_on < %(lookback)s AND EXISTS (
    SELECT 1 FROM customers_customeraumsnapshot later
    WHERE later.customer_id = s.customer_id AND later.taken_on > s.taken_on AND later.taken_on <= %(lookback)s)
"""

AT_RISK_SQL = """
CREATE TEMP TABLE churn_now ON COMMIT DROP AS
WITH runs AS (
    SELECT id, row_number() OVER (ORDER BY as_of DESC) AS n FROM customers_rfmrun WHERE as_of <= %(as_of)s
), rdrop AS (
    SELECT now_s.customer_id, prev_s.r_score AS r_before, now_s.r_score AS r_now
    FROM customers_rfmscore now_s
    JOIN customers_rfmscore prev_s ON prev_s.customer_id = now_s.customer_id
    WHERE now_s.run_id = (SELECT id FROM runs WHERE n = 1) AND prev_s.run_id = (SELECT id FROM runs WHERE n = 2)
      AND prev_s.r_score - now_s.r_score >= 2
), base AS (
    SELECT DISTINCT ON (customer_id) customer_id, aum FROM customers_customeraumsnapshot
    WHERE taken_on <= %(lookback)s ORDER BY customer_id, taken_on DESC
), adrop AS (
    SELECT c.id AS customer_id, base.aum AS aum_before, c.aum AS aum_now
    FROM customers_customer c
    JOIN base ON base.customer_id = c.id
    WHERE base.aum > 0 AND c.aum < base.aum * (1 - %(share)s)
)
SELECT c.id AS customer_id,
       adrop.customer_id IS NOT NULL AS aum_drop, rdrop.customer_id IS NOT NULL AS recency_drop,
       adrop.aum_before, coalesce(adrop.aum_now, c.aum) AS aum_now, rdrop.r_before, rdrop.r_now
FROM customers_customer c
LEFT JOIN adrop ON adrop.customer_id = c.id
LEFT JOIN rdrop ON rdrop.customer_id = c.id
WHERE (adrop.customer_id IS NOT NULL OR rdrop.customer_id IS NOT NULL)
  AND c.merged_into_id IS NULL AND c.lifecycle_status <> %(closed)s
"""

OPEN_SQL = """
INSERT INTO customers_churnriskepisode
    (customer_id, opened_on, closed_on, aum_drop, recency_drop, aum_before, aum_now, r_before, r_now)
SELECT n.customer_id, %(as_of)s, NULL, n.aum_drop, n.recency_drop, n.aum_before, n.aum_now, n.r_before, n.r_now
FROM churn_now n
WHERE NOT EXISTS (SELECT 1 FROM customers_churnriskepisode e
                  WHERE e.customer_id = n.customer_id AND e.closed_on IS NULL)
RETURNING id
"""

CLOSE_SQL = """
UPDATE customers_churnriskepisode e SET closed_on = %(as_of)s
WHERE e.closed_on IS NULL AND e.opened_on < %(as_of)s
  AND NOT EXISTS (SELECT 1 FROM churn_now n WHERE n.customer_id = e.customer_id)
"""


def lifecycle_refresh(*, as_of: datetime.date, dormant_days: int = DEFAULT_DORMANT_DAYS,
                      aum_drop_share: Decimal = DEFAULT_AUM_DROP_SHARE) -> LifecycleResult:
    """Tier, dormancy, AUM history and churn-risk episodes as of `as_of`; one transaction per step."""
    dormant_start = _midnight(as_of - datetime.timedelta(days=dormant_days - 1))
    end = _midnight(as_of + datetime.timedelta(days=1))
    lookback = as_of - datetime.timedelta(days=AUM_LOOKBACK_DAYS)
    statuses = {"active": Customer.Lifecycle.ACTIVE, "dormant": Customer.Lifecycle.DORMANT}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(TIER_SQL, {"mass": Customer.Tier.MASS})
        tiers = cursor.rowcount
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(DORMANT_SQL, {**statuses, "start": dormant_start, "end": end})
        dormant = cursor.rowcount
        cursor.execute(REACTIVATE_SQL, {**statuses, "start": dormant_start, "end": end})
        reactivated = cursor.rowcount
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(SNAPSHOT_SQL, {"as_of": as_of, "closed": CLOSED})
        snapshots = cursor.rowcount
        cursor.execute(PRUNE_SQL, {"lookback": lookback})
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(AT_RISK_SQL, {"as_of": as_of, "lookback": lookback, "share": aum_drop_share,
                                     "closed": CLOSED})
        cursor.execute(OPEN_SQL, {"as_of": as_of})
        opened = [row[0] for row in cursor.fetchall()]
        cursor.execute(CLOSE_SQL, {"as_of": as_of})
        closed = cursor.rowcount
        # ON COMMIT DROP alone would leave it in a caller's outer transaction (savepoint).
        cursor.execute("DROP TABLE churn_now")
        churn_tasks_create(episode_ids=opened)
    return LifecycleResult(tiers, dormant, reactivated, snapshots, opened, closed)


def churn_tasks_create(*, episode_ids: list[int]) -> int:
    """A task for the owning RM of each newly opened episode (interactions' task service); returns how many.

    Called in the transaction that opened the episodes, so an episode and its task commit together and a
    rerun (which opens no episode) creates none. Customers without an RM get no task: the open episode
    and its audit entry are the flag.
    """
    from django.apps import apps
    from django.utils.translation import gettext as _

    from .models import ChurnRiskEpisode

    if not episode_ids or not apps.is_installed("interactions"):
        return 0
    from interactions.models import Task
    from interactions.services import task_create

    made = 0
    episodes = (ChurnRiskEpisode.objects.filter(pk__in=episode_ids, customer__primary_rm__isnull=False)
                .select_related("customer", "customer__primary_rm").order_by("pk"))
    due = timezone.now() + datetime.timedelta(days=3)
    for episode in episodes:
        reasons = []
        if episode.aum_drop:
            reasons.append(_("AUM fell from %(before)s to %(now)s in 90 days.") % {
                "before": episode.aum_before, "now": episode.aum_now})
        if episode.recency_drop:
            reasons.append(_("RFM recency score fell from %(before)s to %(now)s.") % {
                "before": episode.r_before, "now": episode.r_now})
        rm = episode.customer.primary_rm
        task_create(actor=rm, assignee=rm, customer=episode.customer, due_at=due, priority=Task.Priority.HIGH,
                    title=_("Churn risk: contact %(customer)s") % {"customer": episode.customer},
                    description=" ".join(reasons))
        made += 1
    return made
