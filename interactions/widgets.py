"""The workbench: a registry of widgets, each person's arrangement of them, and the figures they show.

A widget is a template plus a context function `context(data: WorkbenchData) -> dict`. Later apps
register theirs in their AppConfig.ready() (pipeline, alerts, tickets):

    from interactions.widgets import Widget, register_widget
    register_widget(Widget(key="pipeline", title=_("My pipeline"), template="opportunities/widgets/_pipeline.html",
                           context=pipeline_widget, order=60, permission="opportunities.view_opportunity"))

The whole workbench has a budget of 12 SQL queries (sign-in and navigation included), so the
figures several widgets share come from `WorkbenchData`, which runs each query at most once per
request, and hidden widgets run none.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db import connection
from django.db.models import IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_site.masking import mask_name
from customers.models import Account, Customer
from org import scoping

from . import selectors
from .models import Interaction, Task

MATURING_DAYS = 14
QUIET_DAYS = 90
TOP_TIERS = (Customer.Tier.WEALTH, Customer.Tier.PRIVATE)
LIST_SIZE = 10
TASKS_SHOWN = 15


class SubqueryCount(Subquery):
    """COUNT(*) of a subquery's rows as a scalar: no GROUP BY games, one index range each."""

    template = "(SELECT count(*) FROM (%(subquery)s) _count)"
    output_field = IntegerField()


@dataclass(frozen=True)
class Widget:
    key: str
    title: Any
    template: str
    context: Callable[..., dict]
    order: int = 100
    permission: str | None = None
    # Team widgets show only to people who lead a team (branch managers).
    team_only: bool = False
    wide: bool = False


WIDGETS: dict[str, Widget] = {}


def register_widget(widget: Widget) -> None:
    WIDGETS[widget.key] = widget


def available(user: Any) -> list[Widget]:
    team = user.has_perm("interactions.view_team_work")
    return [w for w in sorted(WIDGETS.values(), key=lambda w: w.order)
            if (w.permission is None or user.has_perm(w.permission)) and (team or not w.team_only)]


def arranged(user: Any, saved: list | None) -> list[tuple[Widget, bool, bool]]:
    """(widget, hidden, pinned) in the user's order: pinned first, then the rest; widgets registered
    after the user last arranged theirs join at their default place at the end."""
    allowed = {w.key: w for w in available(user)}
    saved = [item for item in (saved or []) if isinstance(item, dict) and item.get("key") in allowed]
    seen = {item["key"] for item in saved}
    rows = [(allowed[item["key"]], bool(item.get("hidden")), bool(item.get("pinned"))) for item in saved]
    rows += [(widget, False, False) for key, widget in allowed.items() if key not in seen]
    return sorted(rows, key=lambda row: not row[2])  # stable: keeps the order within each group


class WorkbenchData:
    """What the widgets show, for one person (or their team), each query run at most once."""

    def __init__(self, user: Any, *, now: dt.datetime | None = None) -> None:
        self.user = user
        self.now = now or timezone.now()
        self.team = user.has_perm("interactions.view_team_work")
        local = timezone.localtime(self.now)
        self.today = local.date()
        self.day = selectors.local_day(self.now)
        self.month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        previous = (self.month_start - dt.timedelta(days=1)).replace(day=1)
        self.last_month_start = previous
        # Last month up to the same point in the month, for a fair "vs last month".
        self.last_month_same_point = min(previous + (local - self.month_start), self.month_start)

    def members(self, field: str) -> Q:
        """Whose work: the person, or a team lead's relationship managers and the lead."""
        if not self.team:
            return Q(**{field: self.user.pk})
        return Q(**{field: self.user.pk}) | Q(**{f"{field}__in": selectors.team_members(user=self.user).values("pk")})

    @cached_property
    def _managed(self):
        return self._managed_customers()

    def managed_customers(self):
        """The scoped book (built once per request; querysets clone cheaply)."""
        return self._managed.all()

    def _managed_customers(self):
        """Customers under management, closed ones left out: an RM's own book (customers shared with
        them for cover stay in the customer list); a team lead's whole reach. Starts from scoping; the
        RM's own condition lets PostgreSQL read the book through the (primary_rm, …) index."""
        qs = Customer.objects.exclude(lifecycle_status=Customer.Lifecycle.CLOSED)
        if not self.team:
            qs = qs.filter(primary_rm=self.user.pk)
        return scoping.visible(self.user, qs)

    def full_name_shown(self, primary_rm_id: int | None, home_branch_id: int | None, kind: str) -> bool:
        return (kind == Customer.Kind.CORPORATE or primary_rm_id == self.user.pk
                or home_branch_id == self.user.branch_id)

    @cached_property
    def book_sql(self) -> tuple[str, list]:
        """The scoped book as SQL (`SELECT id …`), compiled once and reused by the raw statements below."""
        sql, params = self.managed_customers().order_by().values("id").query.sql_with_params()
        return sql, list(params)

    def members_sql(self) -> tuple[str, list]:
        if not self.team:
            return "SELECT %s", [self.user.pk]
        sql, params = selectors.team_members(user=self.user).order_by().values("id").query.sql_with_params()
        return f"SELECT %s UNION {sql}", [self.user.pk, *params]

    @cached_property
    def figures(self) -> dict:
        """The saved layout and every figure the KPI tiles show, in one statement that always returns one
        row: the book's size, AUM and new customers, and the contacts the person (or team) logged — their
        own work, counted whoever the customer is with now."""
        book, book_params = self.book_sql
        members, member_params = self.members_sql()
        sql = f"""
            SELECT (SELECT widgets FROM interactions_workbenchlayout WHERE user_id = %s),
                   b.customers, b.aum, b.new_customers, i.this_month, i.last_month, i.last_month_so_far
            FROM (SELECT count(*) AS customers, COALESCE(sum(aum), 0) AS aum,
                         count(*) FILTER (WHERE created_at >= %s) AS new_customers
                  FROM customers_customer WHERE id IN ({book})) AS b,
                 (SELECT count(*) FILTER (WHERE occurred_at >= %s) AS this_month,
                         count(*) FILTER (WHERE occurred_at < %s) AS last_month,
                         count(*) FILTER (WHERE occurred_at < %s) AS last_month_so_far
                  FROM interactions_interaction
                  WHERE actor_id IN ({members}) AND occurred_at >= %s AND occurred_at <= %s
                    AND voided_at IS NULL) AS i
        """  # noqa: S608 - the fragments are Django-compiled querysets; values travel as parameters
        params = [self.user.pk, self.month_start, *book_params, self.month_start, self.month_start,
                  self.last_month_same_point, *member_params, self.last_month_start, self.now]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            layout, customers, aum, new, this_month, last_month, so_far = cursor.fetchone()
        if isinstance(layout, str):
            layout = json.loads(layout)
        return {"layout": layout, "book_customers": customers, "book_aum": aum, "book_new": new,
                "this_month": this_month, "last_month": last_month, "last_month_so_far": so_far}

    @cached_property
    def tasks(self) -> dict:
        """Open tasks due by the end of today, oldest due first, with the totals behind the list."""
        due = Task.objects.filter(self.members("assignee"), status=Task.Status.OPEN, due_at__lt=self.day.end)
        # The list walks the (assignee, due_at, id) index and stops at 15; the totals are scalar subqueries.
        rows = list(due.select_related("customer", "assignee")
                    .annotate(overdue_total=SubqueryCount(due.filter(due_at__lt=self.now).order_by().values("id")),
                              all_total=SubqueryCount(due.order_by().values("id")))
                    .order_by("due_at", "id")[:TASKS_SHOWN])
        overdue_total = rows[0].overdue_total if rows else 0
        all_total = rows[0].all_total if rows else 0
        return {"overdue": [t for t in rows if t.due_at < self.now], "today": [t for t in rows if t.due_at >= self.now],
                "overdue_total": overdue_total, "today_total": all_total - overdue_total,
                "more": max(0, all_total - len(rows))}

    @cached_property
    def key_customers(self) -> list:
        """The book's largest customers by AUM."""
        rows = list(self.managed_customers()
                    .only("id", "customer_no", "name", "kind", "tier", "aum", "primary_rm_id", "home_branch_id")
                    .order_by("-aum", "-id")[:LIST_SIZE])
        for row in rows:
            row.full_name = self.full_name_shown(row.primary_rm_id, row.home_branch_id, row.kind)
        return rows

    @cached_property
    def recent(self) -> list:
        """The latest contacts the person (or team) logged since last month began, on customers the
        viewer sees."""
        rows = list(scoping.visible(self.user, Interaction.objects.filter(
                        self.members("actor"), occurred_at__gte=self.last_month_start, voided_at__isnull=True))
                    .select_related("customer", "actor").order_by("-occurred_at", "-id")[:LIST_SIZE])
        for row in rows:
            row.readable = selectors.interaction_readable(self.user, row, row.customer)
            row.full_name = self.full_name_shown(row.customer.primary_rm_id, row.customer.home_branch_id,
                                                 row.customer.kind)
        return rows

    @cached_property
    def to_contact(self) -> dict:
        """Customers to contact: holdings maturing in 14 days, birthdays this week, top-tier customers
        not contacted for 90 days — three short lists of the scoped book in one UNION ALL statement."""
        book, book_params = self.book_sql
        week_start = self.today - dt.timedelta(days=self.today.weekday())
        days = [week_start + dt.timedelta(days=n) for n in range(7)]
        month_days = {d.month * 100 + d.day for d in days}
        if 228 in month_days and not _is_leap(week_start.year if week_start.month <= 2 else week_start.year + 1):
            month_days.add(229)  # born on 29 February: celebrated on the 28th in other years
        columns = "c.id, c.customer_no, c.name, c.kind, c.primary_rm_id, c.home_branch_id, c.tier"
        sql = f"""
            (SELECT {columns}, 'maturing', a.matures_on, a.balance, p.name
               FROM customers_account AS a
               JOIN customers_customer AS c ON c.id = a.customer_id
               JOIN customers_product AS p ON p.id = a.product_id
              WHERE a.customer_id IN ({book}) AND a.status = %s AND a.matures_on BETWEEN %s AND %s
              ORDER BY a.matures_on, a.id LIMIT %s)
            UNION ALL
            (SELECT {columns}, 'birthday', c.birth_date, c.aum, ''
               FROM customers_customer AS c
              WHERE c.id IN ({book}) AND c.birth_date IS NOT NULL
                AND (extract(month FROM c.birth_date) * 100 + extract(day FROM c.birth_date))::int = ANY(%s)
              ORDER BY extract(month FROM c.birth_date), extract(day FROM c.birth_date), c.id LIMIT %s)
            UNION ALL
            (SELECT {columns}, 'quiet', NULL::date, c.aum, ''
               FROM customers_customer AS c
              WHERE c.id IN ({book}) AND c.tier = ANY(%s)
                AND NOT EXISTS (SELECT 1 FROM interactions_interaction AS i
                                 WHERE i.customer_id = c.id AND i.occurred_at >= %s AND i.voided_at IS NULL)
              ORDER BY c.aum DESC, c.id DESC LIMIT %s)
        """  # noqa: S608 - the fragments are Django-compiled querysets; values travel as parameters
        params = [*book_params, Account.Status.ACTIVE, self.today, self.today + dt.timedelta(days=MATURING_DAYS),
                  LIST_SIZE, *book_params, sorted(month_days), LIST_SIZE, *book_params, list(TOP_TIERS),
                  self.now - dt.timedelta(days=QUIET_DAYS), LIST_SIZE]
        names = ("c_id", "c_no", "c_name", "c_kind", "c_rm", "c_branch", "c_tier", "reason", "on_date", "amount",
                 "detail")
        lists: dict[str, list[dict]] = {"maturing": [], "birthday": [], "quiet": []}
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        for row in rows:
            entry = dict(zip(names, row, strict=True))
            entry["full_name"] = self.full_name_shown(entry["c_rm"], entry["c_branch"], entry["c_kind"])
            entry["display_name"] = entry["c_name"] if entry["full_name"] else mask_name(entry["c_name"])
            if entry["reason"] == "birthday":
                entry["on_date"] = _birthday_in(entry["on_date"], days)
            lists[entry["reason"]].append(entry)
        lists["birthday"].sort(key=lambda e: (e["on_date"], e["c_id"]))
        return {**lists, "maturing_days": MATURING_DAYS, "quiet_days": QUIET_DAYS, "today": self.today}

    @cached_property
    def team_table(self) -> list:
        """Per relationship manager of the team: book, AUM, open and overdue tasks, contacts this month."""
        if not self.team:
            return []

        open_tasks = Task.objects.filter(assignee=OuterRef("pk"), status=Task.Status.OPEN)
        book = Customer.objects.filter(primary_rm=OuterRef("pk")).exclude(lifecycle_status=Customer.Lifecycle.CLOSED)
        return list(
            selectors.team_members(user=self.user).select_related("branch")
            .annotate(
                open_tasks=SubqueryCount(open_tasks.order_by().values("id")),
                overdue_tasks=SubqueryCount(open_tasks.filter(due_at__lt=self.now).order_by().values("id")),
                contacts_month=SubqueryCount(Interaction.objects.filter(
                    actor=OuterRef("pk"), occurred_at__gte=self.month_start, voided_at__isnull=True)
                    .order_by().values("id")),
                book_size=SubqueryCount(book.order_by().values("id")),
                book_aum=Coalesce(Subquery(book.order_by().values("primary_rm").annotate(s=Sum("aum")).values("s")[:1]),
                             Value(Decimal("0"))),
            ).order_by("full_name", "username"))


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _birthday_in(born: dt.date, days: list[dt.date]) -> dt.date:
    """The day of this week on which the birthday falls."""
    for day in days:
        if (day.month, day.day) == (born.month, born.day):
            return day
    return next(day for day in days if (day.month, day.day) == (2, 28))


# --- the widgets ----------------------------------------------------------------------------------------------

def tasks_widget(data: WorkbenchData) -> dict:
    return {**data.tasks, "team": data.team}


def contact_widget(data: WorkbenchData) -> dict:
    return data.to_contact


def key_customers_widget(data: WorkbenchData) -> dict:
    return {"customers": data.key_customers, "team": data.team}


def recent_widget(data: WorkbenchData) -> dict:
    return {"interactions": data.recent, "team": data.team, "since": data.last_month_start}


def kpi_widget(data: WorkbenchData) -> dict:
    figures = data.figures
    return {"this_month": figures["this_month"], "last_month": figures["last_month"],
            "last_month_so_far": figures["last_month_so_far"],
            "change": figures["this_month"] - figures["last_month_so_far"],
            "customers": figures["book_customers"], "aum": figures["book_aum"] or Decimal("0"),
            "new_customers": figures["book_new"], "team": data.team}


def team_widget(data: WorkbenchData) -> dict:
    return {"members": data.team_table}


def register_default_widgets() -> None:
    """The interactions app's own widgets (called from InteractionsConfig.ready)."""
    register_widget(Widget("kpis", _("Figures"), "interactions/widgets/_kpis.html", kpi_widget, order=10,
                           wide=True))
    register_widget(Widget("tasks", _("Tasks due today and overdue"), "interactions/widgets/_tasks.html",
                           tasks_widget, order=20, permission="interactions.view_task"))
    register_widget(Widget("contact", _("Customers to contact"), "interactions/widgets/_contact.html",
                           contact_widget, order=30))
    register_widget(Widget("team", _("My team"), "interactions/widgets/_team.html", team_widget, order=15,
                           team_only=True, wide=True))
    register_widget(Widget("key_customers", _("Key customers by AUM"), "interactions/widgets/_key_customers.html",
                           key_customers_widget, order=40))
    register_widget(Widget("recent", _("Recent contacts"), "interactions/widgets/_recent.html", recent_widget,
                           order=50, permission="interactions.view_interaction"))
