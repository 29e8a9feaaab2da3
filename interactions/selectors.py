"""Reads of the contact log, timeline, tasks, notifications and the data dictionary.

Every list of a customer's children starts from org.scoping; a confidential note's text is shown
only to the owner's team (`interaction_readable`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone, translation

from crm_site.pagination import keyset_page
from customers.models import Customer
from org import scoping
from org.models import User
from org.roles import Role

from .models import Interaction, Notification, NotificationPreference, Task, TimelineEvent

TIMELINE_PAGE = 20
TASK_PAGE = 50
NOTIFICATION_PAGE = 30


# --- interactions and the timeline ------------------------------------------------------------------------

def interaction_readable(user: Any, interaction: Interaction, customer: Customer | None = None) -> bool:
    """May `user` read this note's text? Everyone who sees the customer may, unless it is confidential:
    then only the author, the customer's relationship manager and branch-level staff of its home branch."""
    if not interaction.confidential:
        return True
    customer = customer or interaction.customer
    if user.pk in (interaction.actor_id, customer.primary_rm_id):
        return True
    reach = scoping.reach_of(user)
    return reach.branch is not None and user.branch_id == customer.home_branch_id


def interaction_detail(*, user: Any, interaction_id: int) -> Interaction:
    """One interaction the user may see (404 otherwise), with its customer and author."""
    return scoping.access(
        user, Interaction.objects.select_related("customer", "actor", "outbound_message", "voided_by"), interaction_id)


def interaction_history(*, interaction: Interaction) -> list:
    """Earlier versions of a corrected note, newest first."""
    return list(interaction.revisions.select_related("replaced_by").order_by("-version"))


def timeline_page(
    *, user: Any, customer: Customer, kind: str = "", cursor: str | None = None
) -> tuple[list[TimelineEvent], str | None]:
    """One page of the customer's timeline, newest first; each row knows whether its note is readable."""
    qs = scoping.visible(user, TimelineEvent.objects.filter(customer=customer)).select_related(
        "interaction", "actor")
    if kind in TimelineEvent.Kind.values:
        qs = qs.filter(kind=kind)
    rows, next_cursor = keyset_page(qs, fields=("-occurred_at", "-id"), cursor=cursor, size=TIMELINE_PAGE)
    for row in rows:
        row.readable = row.interaction is None or interaction_readable(user, row.interaction, customer)
    return rows, next_cursor


def timeline_panel(request, customer: Customer) -> dict:
    """The 360° page's contact log: the log form and the newest entries.

    On the full page the panel arrives empty and loads itself over htmx, so the page's own query
    count and time do not grow with the timeline."""
    from .forms import InteractionLogForm

    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name == "customers:customer-detail":
        return {"lazy": True}
    kind = request.GET.get("kind", "")
    kind = kind if kind in TimelineEvent.Kind.values else ""
    events, next_cursor = timeline_page(user=request.user, customer=customer, kind=kind)
    return {"events": events, "next_cursor": next_cursor, "kind": kind, "kinds": TimelineEvent.Kind.choices,
            "form": InteractionLogForm(), "lazy": False}


# --- tasks ------------------------------------------------------------------------------------------------

def task_queryset(*, user: Any) -> QuerySet[Task]:
    """Tasks the user may see: their own, those they created, those of customers they see, and (branch
    managers) those of staff in the branches they manage."""
    base = Task.objects.all()
    customers = scoping.visible(user, Customer.objects.all()).values("pk")
    return scoping.visible(user, base) | base.filter(created_by=user.pk) | base.filter(customer__in=customers)


def task_detail(*, user: Any, task_id: int) -> Task:
    """One task the user may see, or 404."""
    return scoping.access(user, task_queryset(user=user).select_related(
        "customer", "assignee", "created_by", "completed_by", "source_interaction"), task_id)


def manages(user: Any, staff: Any) -> bool:
    """Does `user` lead the branch `staff` works in (a branch manager over their branch subtree)?"""
    if not user.has_perm("interactions.view_team_work"):
        return False
    reach = scoping.reach_of(user)
    if reach.everything:
        return True
    if reach.branch is None or staff.branch_id is None:
        return False
    return staff.branch.path.startswith(reach.branch.path)


def can_change_task(user: Any, task: Task) -> bool:
    """The assignee, the creator and the assignee's branch manager may change or close a task."""
    if not user.has_perm("interactions.change_task"):
        return False
    return user.pk in (task.assignee_id, task.created_by_id) or manages(user, task.assignee)


def team_members(*, user: Any) -> QuerySet[User]:
    """The relationship managers in the branches a team lead manages (none for anyone else)."""
    rms = User.objects.filter(is_active=True, groups__name=Role.RELATIONSHIP_MANAGER)
    if not user.has_perm("interactions.view_team_work"):
        return rms.none()
    reach = scoping.reach_of(user)
    if reach.everything:
        return rms
    if reach.branch is None:
        return rms.none()
    return rms.filter(branch__in=scoping.branch_subtree_ids(reach.branch))


def assignable_users(*, user: Any) -> QuerySet[User]:
    """Whom the user may give a task to: themselves, and (with the assign permission) their team."""
    mine = User.objects.filter(pk=user.pk)
    if user.has_perm("interactions.assign_task"):
        team = team_members(user=user).values("pk")
        return User.objects.filter(Q(pk=user.pk) | Q(pk__in=team)).order_by("full_name", "username")
    return mine


@dataclass(frozen=True)
class Day:
    start: dt.datetime
    end: dt.datetime


def local_day(moment: dt.datetime | None = None) -> Day:
    """Today (in the bank's time zone) as [start, end)."""
    local = timezone.localtime(moment or timezone.now())
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return Day(start=start, end=start + dt.timedelta(days=1))


def _task_scope(*, user: Any, who: str) -> QuerySet[Task]:
    qs = task_queryset(user=user).select_related("customer", "assignee")
    if who == "team":
        return qs.filter(Q(assignee__in=team_members(user=user).values("pk")) | Q(assignee=user.pk))
    if who.isdigit():
        return qs.filter(assignee=int(who))
    return qs.filter(assignee=user.pk)


def task_board(*, user: Any, who: str = "me", status: str = Task.Status.OPEN, now: dt.datetime | None = None,
               cursor: str | None = None) -> dict:
    """"My tasks": overdue, due today and upcoming (open), or the closed ones; keyset paged upcoming."""
    now = now or timezone.now()
    day = local_day(now)
    qs = _task_scope(user=user, who=who)
    if status != Task.Status.OPEN:
        closed = qs.filter(status=status if status in Task.Status.values else Task.Status.DONE)
        rows, next_cursor = keyset_page(closed, fields=("-completed_at", "-id"), cursor=cursor, size=TASK_PAGE)
        return {"closed": rows, "next_cursor": next_cursor}
    qs = qs.filter(status=Task.Status.OPEN)
    upcoming, next_cursor = keyset_page(qs.filter(due_at__gte=day.end), fields=("due_at", "id"), cursor=cursor,
                                        size=TASK_PAGE)
    if cursor:
        return {"upcoming": upcoming, "next_cursor": next_cursor}
    current = list(qs.filter(due_at__lt=day.end).order_by("due_at", "id")[:500])
    return {
        "overdue": [task for task in current if task.due_at < now],
        "today": [task for task in current if task.due_at >= now],
        "upcoming": upcoming,
        "next_cursor": next_cursor,
    }


def task_agenda(*, user: Any, week_start: dt.date, who: str = "me") -> list[dict]:
    """The week from `week_start` (a Monday): each day with the tasks due on it, open or closed."""
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(week_start, dt.time.min, tzinfo=tz)
    end = start + dt.timedelta(days=7)
    tasks = list(_task_scope(user=user, who=who).filter(due_at__gte=start, due_at__lt=end)
                 .exclude(status=Task.Status.CANCELLED).order_by("due_at", "id")[:1000])
    days = [{"date": week_start + dt.timedelta(days=n), "tasks": []} for n in range(7)]
    for task in tasks:
        days[(timezone.localtime(task.due_at).date() - week_start).days]["tasks"].append(task)
    return days


# --- notifications --------------------------------------------------------------------------------------

# Counts are dropped whenever a notice is created or read; the expiry only bounds a missed drop.
UNREAD_TTL = 600


def unread_cache_key(user_id: int) -> str:
    # The database name keeps a development server and the tests on one Redis apart.
    return f"interactions:unread:{connection.settings_dict['NAME']}:{user_id}"


def _stamp(user: Any) -> float:
    # Ties a cached count to this user row, not to a user id a test database reused.
    return user.date_joined.timestamp() if user.date_joined else 0.0


def cached_unread_count(*, user: Any) -> int | None:
    """The unread count if the cache has it (no SQL); None otherwise."""
    try:
        cached = cache.get(unread_cache_key(user.pk))
    except Exception:  # noqa: BLE001 - a cache outage must not break every page's header
        return None
    if cached is not None and cached[0] == _stamp(user):
        return cached[1]
    return None


def unread_count(*, user: Any) -> int:
    """Unread notices in the user's centre: one COUNT on the partial unread index, then cached."""
    count = Notification.objects.filter(recipient=user.pk, in_app=True, read_at__isnull=True).count()
    with contextlib.suppress(Exception):  # see above
        cache.set(unread_cache_key(user.pk), (_stamp(user), count), UNREAD_TTL)
    return count


def notification_page(*, user: Any, cursor: str | None = None, unread_only: bool = False):
    """The user's notification centre, newest first."""
    qs = Notification.objects.filter(recipient=user.pk, in_app=True).select_related("task")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return keyset_page(qs, fields=("-id",), cursor=cursor, size=NOTIFICATION_PAGE)


def notification_preferences(*, user: Any) -> list[dict]:
    """Each kind of notice with the user's choice (or the default) for the centre and for e-mail."""
    chosen = {p.kind: p for p in NotificationPreference.objects.filter(user=user.pk)}
    rows = []
    for kind in NotificationPreference.KINDS:
        label = Notification.Kind(kind).label
        in_app, email = NotificationPreference.DEFAULTS[kind]
        if kind in chosen:
            in_app, email = chosen[kind].in_app, chosen[kind].email
        rows.append({"kind": kind, "label": label, "in_app": in_app, "email": email})
    return rows


# --- the data dictionary ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DictionaryModel:
    model: type
    owner: Any
    # Per-field owners where they differ from the model's (e.g. values core banking supplies).
    field_owners: dict


def _dictionary_models() -> list[DictionaryModel]:
    from django.utils.translation import gettext_lazy as _

    from customers.models import Account, Product, Transaction

    core = _("Core banking (bulk feed)")
    return [
        DictionaryModel(Customer, _("Relationship manager; checked by branch operations"),
                        {"customer_no": core, "aum": _("Computed from holdings"), "tier": _("Computed from holdings"),
                         "name_pinyin": _("Computed from the name"), "name_initials": _("Computed from the name")}),
        DictionaryModel(Account, core, {}),
        DictionaryModel(Transaction, core, {}),
        DictionaryModel(Product, _("Administrator (product catalogue)"), {}),
        DictionaryModel(Interaction, _("Author of the note"),
                        {"version": _("Computed on correction"), "corrected_at": _("Computed on correction")}),
        DictionaryModel(Task, _("Assignee and creator"),
                        {"reminded_at": _("Reminder sweep"), "overdue_notified_at": _("Overdue sweep")}),
        DictionaryModel(TimelineEvent, _("The app that publishes the event"), {}),
    ]


def _field_type(field) -> str:
    from django.utils.translation import gettext as _

    kinds = {
        "CharField": _("text"), "TextField": _("long text"), "BooleanField": _("yes / no"),
        "DateField": _("date"), "DateTimeField": _("date and time"), "DecimalField": _("amount"),
        "PositiveIntegerField": _("number"), "BigIntegerField": _("number"), "ForeignKey": _("link"),
        "OneToOneField": _("link"), "JSONField": _("structured data"),
    }
    return kinds.get(field.get_internal_type(), field.get_internal_type())


def data_dictionary(*, languages: tuple[str, ...] = ("zh-hans", "en")) -> list[dict]:
    """Every field of the customer and contact models with its meaning, allowed values and owner, in each
    language — read from the models' own verbose names, help texts and choices, so it cannot drift."""
    tables = []
    for entry in _dictionary_models():
        meta = entry.model._meta
        rows = []
        for field in (f for f in meta.get_fields() if f.concrete and not f.auto_created):
            owner = entry.field_owners.get(field.name) or (None if field.editable else "system")
            texts, owners, types = [], [], []
            choice_labels: dict[Any, list[str]] = {}
            for language in languages:
                with translation.override(language):
                    texts.append({"language": language, "label": str(field.verbose_name),
                                  "help": str(field.help_text or "")})
                    owners.append(_system_owner(language) if owner == "system" else str(owner or entry.owner))
                    related = f" → {field.related_model._meta.verbose_name}" if field.is_relation else ""
                    types.append(_field_type(field) + related)
                    for value, label in field.flatchoices:
                        if value != "":
                            choice_labels.setdefault(value, []).append(str(label))
            rows.append({"name": field.name, "required": not (field.blank or field.null), "texts": texts,
                         "owner": " / ".join(dict.fromkeys(owners)), "type": " / ".join(dict.fromkeys(types)),
                         "choices": [{"value": value, "labels": " / ".join(dict.fromkeys(labels))}
                                     for value, labels in choice_labels.items()]})
        names = []
        for language in languages:
            with translation.override(language):
                names.append(str(meta.verbose_name_plural))
        tables.append({"label": meta.label_lower, "anchor": meta.label_lower.replace(".", "-"),
                       "name": " / ".join(dict.fromkeys(names)), "fields": rows})
    return tables


def _system_owner(language: str) -> str:
    from django.utils.translation import gettext as _

    with translation.override(language):
        return _("System (computed or sealed)")
