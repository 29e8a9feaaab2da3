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
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Sum, Value, Window
from django.db.models.functions import Coalesce, ExtractDay, ExtractMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_site.masking import mask_name
from customers.models import Account, Customer
from org import scoping

from . import selectors
from .models import Interaction, Task, WorkbenchLayout

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


def arranged(user: Any, layout: WorkbenchLayout | None) -> list[tuple[Widget, bool, bool]]:
    """(widget, hidden, pinned) in the user's order: pinned first, then the rest; widgets registered
    after the user last arranged theirs join at their default place at the end."""
    allowed = {w.key: w for w in available(user)}
    saved = [item for item in (layout.widgets if layout else []) if item.get("key") in allowed]
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

    def customers(self):
        """Customers the person may see, closed ones left out (every list starts from scoping)."""
        return scoping.visible(self.user, Customer.objects.exclude(lifecycle_status=Customer.Lifecycle.CLOSED))

    def managed_customers(self):
        """Customers under management: an RM's own book; a team lead's whole reach."""
        qs = self.customers()
        return qs if self.team else qs.filter(primary_rm=self.user.pk)

    def full_name_shown(self, primary_rm_id: int | None, home_branch_id: int | None, kind: str) -> bool:
        return (kind == Customer.Kind.CORPORATE or primary_rm_id == self.user.pk
                or home_branch_id == self.user.branch_id)

    @cached_property
    def tasks(self) -> dict:
        """Open tasks due by the end of today, oldest due first, with the totals behind the list."""
        qs = (Task.objects.filter(self.members("assignee"), status=Task.Status.OPEN, due_at__lt=self.day.end)
              .select_related("customer", "assignee")
              .annotate(overdue_total=Window(Count("id", filter=Q(due_at__lt=self.now))),
                        all_total=Window(Count("id")))
              .order_by("due_at", "id"))
        rows = list(qs[:TASKS_SHOWN])
        overdue_total = rows[0].overdue_total if rows else 0
        all_total = rows[0].all_total if rows else 0
        return {"overdue": [t for t in rows if t.due_at < self.now], "today": [t for t in rows if t.due_at >= self.now],
                "overdue_total": overdue_total, "today_total": all_total - overdue_total,
                "more": max(0, all_total - len(rows))}

    @cached_property
    def book(self) -> dict:
        """Key customers by AUM, and the book's size, AUM and new customers this month — one query."""
        qs = (self.managed_customers()
              .annotate(book_count=Window(Count("id")), book_aum=Window(Sum("aum")),
                        book_new=Window(Count("id", filter=Q(created_at__gte=self.month_start))))
              .only("id", "customer_no", "name", "kind", "tier", "aum", "primary_rm_id", "home_branch_id")
              .order_by("-aum", "-id"))
        rows = list(qs[:LIST_SIZE])
        for row in rows:
            row.full_name = self.full_name_shown(row.primary_rm_id, row.home_branch_id, row.kind)
        first = rows[0] if rows else None
        return {"key_customers": rows, "count": first.book_count if first else 0,
                "aum": first.book_aum if first else Decimal("0"), "new": first.book_new if first else 0}

    @cached_property
    def contacts(self) -> dict:
        """Recent contacts (since the start of last month) and the month's contact counts — one query.

        Counts and list cover the same rows (contacts by the person or team, on customers the viewer
        sees), so an empty list means every count is zero and no second query is needed."""
        mine = scoping.visible(self.user, Interaction.objects.filter(self.members("actor")))

        def counted(start, end):
            return SubqueryCount(mine.filter(occurred_at__gte=start, occurred_at__lt=end).order_by().values("id"))

        # Uncorrelated scalar subqueries: PostgreSQL runs each once, not once per row.
        qs = (mine.filter(occurred_at__gte=self.last_month_start)
              .select_related("customer", "actor")
              .annotate(this_month=counted(self.month_start, self.now + dt.timedelta(days=1)),
                        last_month=counted(self.last_month_start, self.month_start),
                        last_month_so_far=counted(self.last_month_start, self.last_month_same_point))
              .order_by("-occurred_at", "-id"))
        rows = list(qs[:LIST_SIZE])
        for row in rows:
            row.readable = selectors.interaction_readable(self.user, row, row.customer)
            row.full_name = self.full_name_shown(row.customer.primary_rm_id, row.customer.home_branch_id,
                                                 row.customer.kind)
        first = rows[0] if rows else None
        return {"recent": rows, "this_month": first.this_month if first else 0,
                "last_month": first.last_month if first else 0,
                "last_month_so_far": first.last_month_so_far if first else 0}

    @cached_property
    def to_contact(self) -> dict:
        """Customers to contact: holdings maturing in 14 days, birthdays this week, top-tier customers
        not contacted for 90 days — three short lists in one UNION ALL query."""
        columns = ("c_id", "c_no", "c_name", "c_kind", "c_rm", "c_branch", "c_tier", "reason", "on_date", "amount",
                   "detail")
        maturing = (scoping.visible(self.user, Account.objects.filter(
                        status=Account.Status.ACTIVE, matures_on__gte=self.today,
                        matures_on__lte=self.today + dt.timedelta(days=MATURING_DAYS)))
                    .exclude(customer__lifecycle_status=Customer.Lifecycle.CLOSED)
                    .annotate(c_id=F("customer_id"), c_no=F("customer__customer_no"), c_name=F("customer__name"),
                              c_kind=F("customer__kind"), c_rm=F("customer__primary_rm_id"),
                              c_branch=F("customer__home_branch_id"), c_tier=F("customer__tier"),
                              reason=Value("maturing"), on_date=F("matures_on"), amount=F("balance"),
                              detail=F("product__name"))
                    .order_by("matures_on", "id").values_list(*columns)[:LIST_SIZE])
        week_start = self.today - dt.timedelta(days=self.today.weekday())
        days = [week_start + dt.timedelta(days=n) for n in range(7)]
        month_days = {d.month * 100 + d.day for d in days}
        if 228 in month_days and not _is_leap(week_start.year if week_start.month <= 2 else week_start.year + 1):
            month_days.add(229)  # born on 29 February: celebrated on the 28th in other years
        birthdays = (self.customers().filter(birth_date__isnull=False)
                     .annotate(month_day=ExtractMonth("birth_date") * 100 + ExtractDay("birth_date"))
                     .filter(month_day__in=sorted(month_days))
                     .annotate(c_id=F("id"), c_no=F("customer_no"), c_name=F("name"), c_kind=F("kind"),
                               c_rm=F("primary_rm_id"), c_branch=F("home_branch_id"), c_tier=F("tier"),
                               reason=Value("birthday"), on_date=F("birth_date"), amount=F("aum"), detail=Value(""))
                     .order_by("month_day", "id").values_list(*columns)[:LIST_SIZE])
        recently = Interaction.objects.filter(customer=OuterRef("pk"),
                                              occurred_at__gte=self.now - dt.timedelta(days=QUIET_DAYS))
        quiet = (self.customers().filter(tier__in=TOP_TIERS).alias(contacted=Exists(recently))
                 .filter(contacted=False)
                 .annotate(c_id=F("id"), c_no=F("customer_no"), c_name=F("name"), c_kind=F("kind"),
                           c_rm=F("primary_rm_id"), c_branch=F("home_branch_id"), c_tier=F("tier"),
                           reason=Value("quiet"), on_date=Value(None, output_field=Account._meta.get_field(
                               "matures_on")), amount=F("aum"), detail=Value(""))
                 .order_by("-aum", "-id").values_list(*columns)[:LIST_SIZE])
        lists: dict[str, list[dict]] = {"maturing": [], "birthday": [], "quiet": []}
        for row in maturing.union(birthdays, quiet, all=True):
            entry = dict(zip(columns, row, strict=True))
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
                    actor=OuterRef("pk"), occurred_at__gte=self.month_start).order_by().values("id")),
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
    return {"customers": data.book["key_customers"], "team": data.team}


def recent_widget(data: WorkbenchData) -> dict:
    return {"interactions": data.contacts["recent"], "team": data.team, "since": data.last_month_start}


def kpi_widget(data: WorkbenchData) -> dict:
    contacts, book = data.contacts, data.book
    change = contacts["this_month"] - contacts["last_month_so_far"]
    return {"this_month": contacts["this_month"], "last_month": contacts["last_month"],
            "last_month_so_far": contacts["last_month_so_far"], "change": change,
            "customers": book["count"], "aum": book["aum"] or Decimal("0"), "new_customers": book["new"],
            "team": data.team}


def team_widget(data: WorkbenchData) -> dict:
    return {"members": data.team_table}


def register_default_widgets() -> None:
    """The interactions app's own widgets (called from InteractionsConfig.ready)."""
    register_widget(Widget("kpis", _("My figures"), "interactions/widgets/_kpis.html", kpi_widget, order=10,
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
