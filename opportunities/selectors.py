"""Reads of opportunities: scoped querysets, the board, the list with totals, the funnel and its reports.

Every read starts from org.scoping, so a relationship manager sees the opportunities of their own
customers only. The funnel and the reports are set-based SQL over the scoped opportunities and their
stage changes (no per-row Python), so they stay fast at 100,000 opportunities.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, DateField, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from crm_site.masking import mask_name
from crm_site.pagination import keyset_page
from customers.models import Customer, Product
from org import scoping
from org.models import Branch, User

from .defaults import STAGE_LABELS
from .models import Opportunity, Pipeline, Stage, StageChange, SuitabilityOverride

BOARD_LIMIT = 500
WON_SHOWN_DAYS = 30
LIST_PAGE = 50


def opportunity_queryset(*, user: Any) -> QuerySet[Opportunity]:
    """The opportunities the user may see (exactly those of the customers they see)."""
    return scoping.visible(user, Opportunity.objects.all())


def access_opportunity(user: Any, pk: Any) -> Opportunity:
    """One visible opportunity with what its page shows, or 404."""
    return scoping.access(user, Opportunity.objects.select_related(
        "customer", "customer__home_branch", "product", "pipeline", "stage", "owner", "branch"), pk)


def access_override(user: Any, pk: Any) -> SuitabilityOverride:
    return scoping.access(user, SuitabilityOverride.objects.select_related(
        "opportunity", "opportunity__customer", "opportunity__product", "opportunity__stage"), pk)


def customer_label(user: Any, customer: Customer) -> str:
    """The customer's name in full for their RM and their home branch's staff, masked for others."""
    if customer.kind == Customer.Kind.CORPORATE or customer.primary_rm_id == user.pk \
            or (user.branch_id and customer.home_branch_id == user.branch_id):
        return customer.name
    return mask_name(customer.name)


def _weighted():
    return ExpressionWrapper(F("amount") * F("probability") / 100,
                             output_field=DecimalField(max_digits=20, decimal_places=2))


# --- filters -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    owner: int | None = None
    branch: int | None = None
    product: int | None = None
    close_month: dt.date | None = None  # the first day of the month
    status: str = ""
    # An invalid filter shows nothing rather than everything: a filter never widens what a list shows.
    invalid: bool = False

    def apply(self, qs: QuerySet[Opportunity]) -> QuerySet[Opportunity]:
        if self.invalid:
            return qs.none()
        if self.owner:
            qs = qs.filter(owner=self.owner)
        if self.branch:
            qs = qs.filter(branch__in=Branch.objects.filter(
                path__startswith=Branch.objects.filter(pk=self.branch).values("path")[:1]).values("pk"))
        if self.product:
            qs = qs.filter(product=self.product)
        if self.close_month:
            start = self.close_month
            end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            qs = qs.filter(expected_close_on__gte=start, expected_close_on__lt=end)
        if self.status:
            qs = qs.filter(status=self.status)
        return qs


def filter_choices(*, user: Any, pipeline: Pipeline | None) -> dict:
    """The owners, branches and products a filter offers: only what the user can reach."""
    reach = scoping.reach_of(user)
    if reach.everything:
        owners = User.objects.filter(is_active=True, groups__name="relationship_manager")
        branches = Branch.objects.all()
    elif reach.branch is not None:
        owners = User.objects.filter(is_active=True, groups__name="relationship_manager",
                                     branch__in=scoping.branch_subtree_ids(reach.branch))
        branches = Branch.objects.filter(path__startswith=reach.branch.path)
    else:
        owners = User.objects.filter(pk=user.pk)
        branches = Branch.objects.none()
    products = Product.objects.filter(category=pipeline.category) if pipeline else Product.objects.all()
    return {
        "owners": list(owners.order_by("full_name", "username").values_list("pk", "full_name", "username")),
        "branches": list(branches.order_by("path").values_list("pk", "name")),
        "products": list(products.order_by("code").values_list("pk", "name")),
    }


# --- board -------------------------------------------------------------------------------------------------

@dataclass
class Column:
    stage: Stage
    cards: list = field(default_factory=list)
    amount: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)


@dataclass
class Board:
    pipeline: Pipeline
    columns: list[Column]
    truncated: bool
    card_count: int


def board(*, user: Any, pipeline: Pipeline, filters: Filters, now: dt.datetime | None = None) -> Board:
    """The kanban of one pipeline: open opportunities and those won lately, one column per stage.

    Two queries whatever the number of cards: the stages, then the cards with customer, product and
    owner joined. At most BOARD_LIMIT cards; the page says when filters should narrow it."""
    now = now or timezone.now()
    stages = list(pipeline.stages.filter(is_lost=False).order_by("order"))
    columns = {stage.pk: Column(stage) for stage in stages}
    qs = filters.apply(opportunity_queryset(user=user).filter(pipeline=pipeline)).filter(
        Q(status=Opportunity.Status.OPEN)
        | Q(status=Opportunity.Status.WON, closed_at__gte=now - dt.timedelta(days=WON_SHOWN_DAYS)))
    cards = list(qs.select_related("customer", "product", "owner")
                 .only("id", "amount", "probability", "expected_close_on", "next_step", "status", "stage_id",
                       "pipeline_id", "customer__id", "customer__name", "customer__kind", "customer__primary_rm_id",
                       "customer__home_branch_id", "customer__customer_no", "product__id", "product__name",
                       "product__risk_level", "owner__id", "owner__full_name", "owner__username")
                 .order_by("expected_close_on", "id")[: BOARD_LIMIT + 1])
    truncated = len(cards) > BOARD_LIMIT
    cards = cards[:BOARD_LIMIT]
    order = [stage.pk for stage in stages]
    for card in cards:
        column = columns.get(card.stage_id)
        if column is None:
            continue
        card.customer_label = customer_label(user, card.customer)
        position = order.index(card.stage_id)
        card.previous_stage = stages[position - 1] if position > 0 else None
        card.next_stage = stages[position + 1] if position + 1 < len(stages) else None
        column.cards.append(card)
        column.amount += card.amount
        column.weighted += card.weighted_amount
    return Board(pipeline=pipeline, columns=list(columns.values()), truncated=truncated, card_count=len(cards))


# --- list --------------------------------------------------------------------------------------------------

def opportunity_list(*, user: Any, filters: Filters, pipeline: Pipeline | None, cursor: str | None,
                     size: int = LIST_PAGE) -> tuple[list[Opportunity], str | None, dict]:
    """A keyset page of opportunities and the totals of all that match (count, amount, weighted amount)."""
    qs = filters.apply(opportunity_queryset(user=user))
    if pipeline is not None:
        qs = qs.filter(pipeline=pipeline)
    totals = qs.aggregate(total_count=Count("id"), total_amount=Coalesce(Sum("amount"), Decimal(0)),
                          total_weighted=Coalesce(Sum(_weighted()), Decimal(0)),
                          open_weighted=Coalesce(Sum(_weighted(), filter=Q(status=Opportunity.Status.OPEN)),
                                                 Decimal(0)))
    rows, next_cursor = keyset_page(qs.select_related("customer", "product", "stage", "owner"),
                                    fields=("expected_close_on", "id"), cursor=cursor, size=size)
    for row in rows:
        row.customer_label = customer_label(user, row.customer)
    return rows, next_cursor, totals


# --- detail ------------------------------------------------------------------------------------------------

def stage_history(*, opportunity: Opportunity) -> list[StageChange]:
    return list(opportunity.stage_changes.select_related("from_stage", "to_stage", "changed_by")
                .order_by("changed_at", "id"))


def customer_opportunities(*, user: Any, customer: Customer) -> list[Opportunity]:
    return list(opportunity_queryset(user=user).filter(customer=customer)
                .select_related("product", "stage", "owner").order_by("-status", "expected_close_on", "id")[:20])


def pending_overrides(*, user: Any) -> QuerySet[SuitabilityOverride]:
    """Requests waiting for a decision that the user may see (branch managers see their branch's)."""
    return scoping.visible(user, SuitabilityOverride.objects.filter(status=SuitabilityOverride.Status.PENDING)) \
        .select_related("opportunity__customer", "opportunity__product", "requested_by").order_by("requested_at")


# --- funnel and performance ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    start: dt.date | None = None
    end: dt.date | None = None  # inclusive


def _scoped_sql(user: Any, pipeline: Pipeline | None, filters: Filters, period: Period) -> tuple[str, list]:
    sql, params = _cohort(user, pipeline, filters, period).values(
        "id", "status", "amount", "probability", "owner_id", "branch_id", "product_id").query.sql_with_params()
    return sql, list(params)


@dataclass
class FunnelRow:
    stage: Stage
    reached: int
    won: int
    dropped: int
    open_here: int
    moves: int
    avg_days: float | None
    to_next: float | None = None  # share of those that reached this stage that reached the next
    to_won: float | None = None


def _cohort(user: Any, pipeline: Pipeline | None, filters: Filters, period: Period) -> QuerySet[Opportunity]:
    qs = filters.apply(opportunity_queryset(user=user))
    if pipeline is not None:
        qs = qs.filter(pipeline=pipeline)
    if period.start:
        qs = qs.filter(created_at__date__gte=period.start)
    if period.end:
        qs = qs.filter(created_at__date__lte=period.end)
    return qs.order_by()


def funnel(*, user: Any, pipeline: Pipeline, filters: Filters = Filters(),
           period: Period = Period()) -> list[FunnelRow]:
    """Per stage: how many opportunities reached it, went on to the next and to won, dropped out there
    (lost with this as their furthest stage), and how long they stayed in it.

    "Reached" counts an opportunity in every stage up to the furthest non-lost stage it entered, so
    a stage skipped on the board still counts as passed. The cohort is the opportunities created in
    the period. Three queries whatever the size: the stages; the cohort grouped by furthest stage and
    status (Opportunity.furthest_stage, kept by the services from the stage changes); the cohort's
    stage changes grouped by the stage they left (time in stage)."""
    stages = [stage for stage in pipeline.stages.order_by("order") if not stage.is_lost]
    order = {stage.pk: stage.order for stage in stages}
    cohort = _cohort(user, pipeline, filters, period)
    groups = list(cohort.values_list("furthest_stage", "status").annotate(n=Count("id")).order_by())
    times = {row["from_stage"]: row for row in StageChange.objects.filter(
        opportunity__in=cohort.values("id"), from_stage__isnull=False).order_by()
        .values("from_stage").annotate(moves=Count("seconds_in_from_stage"), seconds=Sum("seconds_in_from_stage"))}
    rows = []
    for stage in stages:
        reached = won = dropped = open_here = 0
        for furthest, status, n in groups:
            furthest_order = order.get(furthest)
            if furthest_order is None:
                continue
            if furthest_order >= stage.order:
                reached += n
                won += n if status == Opportunity.Status.WON else 0
            if furthest == stage.pk:
                dropped += n if status == Opportunity.Status.LOST else 0
                open_here += n if status == Opportunity.Status.OPEN else 0
        spent = times.get(stage.pk, {})
        moves = spent.get("moves") or 0
        rows.append(FunnelRow(stage=stage, reached=reached, won=won, dropped=dropped, open_here=open_here,
                              moves=moves, avg_days=spent["seconds"] / moves / 86400 if moves else None))
    for index, row in enumerate(rows):
        if row.reached:
            row.to_won = row.won / row.reached
            if index + 1 < len(rows):
                row.to_next = rows[index + 1].reached / row.reached
    return rows


BREAKDOWN_COLUMNS = {"owner": "owner_id", "branch": "branch_id", "product": "product_id"}

BREAKDOWN_SQL = """
WITH o AS ({scoped})
SELECT {column} AS key, count(*) AS total,
       count(*) FILTER (WHERE status = 'won') AS won,
       count(*) FILTER (WHERE status = 'lost') AS lost,
       count(*) FILTER (WHERE status = 'open') AS open,
       coalesce(sum(amount) FILTER (WHERE status = 'won'), 0) AS won_amount,
       coalesce(sum(amount * probability / 100) FILTER (WHERE status = 'open'), 0) AS open_weighted
FROM o GROUP BY {column} ORDER BY won_amount DESC, total DESC, key
"""


def breakdown(*, user: Any, pipeline: Pipeline | None, by: str, filters: Filters = Filters(),
              period: Period = Period()) -> list[dict]:
    """Opportunities, won, lost, open, win rate and amounts per RM, branch or product (cohort: created in the
    period). With by="owner" this is the RM league table, best won amount first."""
    column = BREAKDOWN_COLUMNS[by]
    scoped, params = _scoped_sql(user, pipeline, filters, period)
    with connection.cursor() as cursor:
        cursor.execute(BREAKDOWN_SQL.format(scoped=scoped, column=column), params)
        names = [c.name for c in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    model = {"owner": User, "branch": Branch, "product": Product}[by]
    labels = {obj.pk: (obj.get_full_name() if by == "owner" else obj.name)
              for obj in model.objects.filter(pk__in=[row["key"] for row in rows])}
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
        row["label"] = labels.get(row["key"], "—")
        decided = row["won"] + row["lost"]
        row["win_rate"] = row["won"] / decided if decided else None
    return rows


def forecast(*, user: Any, pipeline: Pipeline | None, filters: Filters = Filters(), months: int = 6,
             today: dt.date | None = None) -> list[dict]:
    """Open opportunities by expected close month: count, amount and amount weighted by probability.

    Months already past are folded into the current one (they are overdue but still open)."""
    today = today or timezone.localdate()
    first = today.replace(day=1)
    qs = filters.apply(opportunity_queryset(user=user)).filter(status=Opportunity.Status.OPEN)
    if pipeline is not None:
        qs = qs.filter(pipeline=pipeline)
    month_starts = [first]
    for _i in range(months - 1):
        month_starts.append((month_starts[-1].replace(day=28) + dt.timedelta(days=4)).replace(day=1))
    end = (month_starts[-1].replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    rows = (qs.filter(expected_close_on__lt=end)
            .annotate(month=TruncMonth("expected_close_on", output_field=DateField()))
            .values("month").annotate(count=Count("id"), total=Sum("amount"), weighted=Sum(_weighted()))
            .order_by("month"))
    by_month = {start: {"month": start, "count": 0, "amount": Decimal(0), "weighted": Decimal(0)}
                for start in month_starts}
    for row in rows:
        entry = by_month[max(row["month"], first)]
        entry["count"] += row["count"]
        entry["amount"] += row["total"] or 0
        entry["weighted"] += row["weighted"] or 0
    return list(by_month.values())


# --- workbench -------------------------------------------------------------------------------------------

def my_pipeline(*, user: Any, today: dt.date | None = None) -> dict:
    """The user's own open opportunities: count, amount and weighted amount per stage, and the overdue ones.

    One query: the workbench has a budget of 12 for everything on it."""
    today = today or timezone.localdate()
    rows = list(Opportunity.objects.filter(owner=user.pk, status=Opportunity.Status.OPEN)
                .values("stage__name", "stage__order", "pipeline_id")
                .annotate(count=Count("id"), total=Sum("amount"), weighted=Sum(_weighted()),
                          overdue=Count("id", filter=Q(expected_close_on__lt=today)))
                .order_by("stage__order", "stage__name"))
    stages: dict[str, dict] = {}
    for row in rows:
        entry = stages.setdefault(row["stage__name"], {"name": row["stage__name"], "order": row["stage__order"],
                                                        "count": 0, "amount": Decimal(0), "weighted": Decimal(0)})
        entry["count"] += row["count"]
        entry["amount"] += row["total"] or 0
        entry["weighted"] += row["weighted"] or 0
    lines = sorted(stages.values(), key=lambda e: (e["order"], e["name"]))
    for line in lines:
        line["label"] = STAGE_LABELS.get(line["name"], line["name"])
    return {"stages": lines, "count": sum(r["count"] for r in rows),
            "amount": sum((r["total"] or 0 for r in rows), Decimal(0)),
            "weighted": sum((r["weighted"] or 0 for r in rows), Decimal(0)),
            "overdue": sum(r["overdue"] for r in rows)}
