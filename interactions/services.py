"""Business actions of the contact log, tasks, notifications and messages: keyword-only, one transaction each.

Row changes of interactions, their revisions, tasks and messages are written to the audit trail by
the PostgreSQL trigger (migration 0002), with the actor the request or job context names.

Exactly-once notices: the reminder and overdue sweeps claim tasks with one conditional UPDATE …
RETURNING per chunk and insert the notices in the same statement, so a claim and its notices commit
together or not at all; a second sweep, a concurrent one (SKIP LOCKED) or a redelivered job after a
worker died finds nothing left to claim.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from customers import pii
from customers.models import Customer
from org import scoping

from . import selectors
from .gateways import GatewayError, gateway_for
from .models import (
    Channel,
    Interaction,
    InteractionRevision,
    Notification,
    NotificationPreference,
    OutboundMessage,
    Task,
    TimelineEvent,
    WorkbenchLayout,
)

log = logging.getLogger(__name__)

# A contact cannot be logged as happening later than now (a little clock skew is allowed).
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
SWEEP_CHUNK = 20_000
# A backlog (a first chunk that came back full) is claimed by this many connections side by side, each
# taking one range of task ids (ranges, not id parity: lanes writing neighbouring ids would fight over
# the same index pages): the claim's cost is PostgreSQL writing row versions and index entries, which
# one connection does on one core.
SWEEP_LANES = 2


def _require(actor: Any, permission: str) -> None:
    if not actor.has_perm(permission):
        raise PermissionDenied(_("Your role may not do this."))


# --- interactions -----------------------------------------------------------------------------------------

def _visible_customer(actor: Any, customer: Customer, *, lock: bool = False) -> Customer:
    qs = Customer.objects.select_for_update() if lock else Customer.objects.all()
    customer = scoping.access(actor, qs, customer.pk)
    if customer.merged_into_id:
        raise ValidationError(_("This record was merged into another one: log the contact there."))
    return customer


def _check_contact_time(occurred_at: dt.datetime) -> None:
    if occurred_at > timezone.now() + FUTURE_TOLERANCE:
        raise ValidationError({"occurred_at": _("A contact cannot be logged in the future.")})


@transaction.atomic
def interaction_log(
    *,
    customer: Customer,
    actor: Any,
    channel: str,
    occurred_at: dt.datetime,
    summary: str,
    direction: str = Interaction.Direction.OUTBOUND,
    purpose: str = Interaction.Purpose.FOLLOW_UP,
    feedback: str = "",
    sentiment: str = "",
    agreements: str = "",
    next_step: str = "",
    confidential: bool = False,
    related_type: str = "",
    related_id: int | None = None,
    task_due_at: dt.datetime | None = None,
    task_remind_at: dt.datetime | None = None,
) -> Interaction:
    """Log a contact with a customer the actor may see; with `task_due_at`, its next step becomes a task."""
    _require(actor, "interactions.add_interaction")
    customer = _visible_customer(actor, customer)
    _check_contact_time(occurred_at)
    interaction = Interaction(
        customer=customer, actor=actor, channel=channel, direction=direction, occurred_at=occurred_at,
        purpose=purpose, summary=(summary or "").strip(), feedback=feedback.strip(), sentiment=sentiment,
        agreements=agreements.strip(), next_step=next_step.strip(), confidential=confidential,
        related_type=related_type or "", related_id=related_id if related_type else None,
    )
    interaction.full_clean(exclude=["customer", "actor"])
    interaction.save()
    TimelineEvent.objects.create(customer=customer, kind=TimelineEvent.Kind.INTERACTION, occurred_at=occurred_at,
                                 actor=actor, interaction=interaction, url=interaction.get_absolute_url())
    if task_due_at is not None:
        if not interaction.next_step:
            raise ValidationError({"next_step": _("Write the next step to make a task of it.")})
        task_create(actor=actor, title=interaction.next_step, due_at=task_due_at, remind_at=task_remind_at,
                    customer=customer, source_interaction=interaction)
    return interaction


@transaction.atomic
def interaction_correct(*, interaction: Interaction, actor: Any, reason: str, values: dict[str, Any]) -> Interaction:
    """Correct a note: the author only; the text as it was is kept as a revision, and the timeline says
    "corrected". Messages sent to a customer are records of what was sent and cannot be corrected."""
    _require(actor, "interactions.change_interaction")
    interaction = scoping.access(actor, Interaction.objects.select_for_update(of=("self",)).select_related(
        "customer"), interaction.pk)
    if interaction.actor_id != actor.pk:
        raise PermissionDenied(_("Only the author may correct a note."))
    if interaction.voided_at is not None:
        raise ValidationError(_("A voided note cannot be corrected."))
    if OutboundMessage.objects.filter(interaction=interaction).exists():
        raise ValidationError(_("A message sent to the customer is logged as sent and cannot be corrected."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the note is corrected.")})
    unknown = set(values) - set(InteractionRevision.CONTENT_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    changed = [name for name, value in values.items() if getattr(interaction, name) != value]
    if not changed:
        raise ValidationError(_("Nothing was changed."))
    if "occurred_at" in changed:
        _check_contact_time(values["occurred_at"])
    now = timezone.now()
    InteractionRevision.objects.create(
        interaction=interaction, version=interaction.version, replaced_by=actor, replaced_at=now,
        reason=reason[:300], **{name: getattr(interaction, name) for name in InteractionRevision.CONTENT_FIELDS})
    for name in changed:
        setattr(interaction, name, values[name])
    if not interaction.related_type:
        interaction.related_id = None
    interaction.version += 1
    interaction.corrected_at = now
    interaction.full_clean(exclude=["customer", "actor"])
    interaction.save()
    if "occurred_at" in changed:
        TimelineEvent.objects.filter(interaction=interaction).update(occurred_at=interaction.occurred_at)
    return interaction


def interaction_may_void(actor: Any, interaction: Interaction) -> bool:
    """The author (with the right to change notes), or a holder of `void_interaction` — branch managers,
    whose reach is their branches, so only notes of customers in their branches reach them."""
    if interaction.actor_id == actor.pk:
        return actor.has_perm("interactions.change_interaction")
    return actor.has_perm("interactions.void_interaction")


@transaction.atomic
def interaction_void(*, interaction: Interaction, actor: Any, reason: str) -> Interaction:
    """Void a note logged by mistake (on the wrong customer, say): it stays, struck through on the
    timeline, with who voided it, when and why. The row-audit trigger records the change."""
    interaction = scoping.access(actor, Interaction.objects.select_for_update(of=("self",)).select_related(
        "customer"), interaction.pk)
    if not interaction_may_void(actor, interaction):
        raise PermissionDenied(_("Only the author or a branch manager may void a note."))
    if interaction.voided_at is not None:
        raise ValidationError(_("This note is already voided."))
    if OutboundMessage.objects.filter(interaction=interaction).exists():
        raise ValidationError(_("A message sent to the customer is logged as sent and cannot be voided."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the note is voided.")})
    interaction.voided_at = timezone.now()
    interaction.voided_by = actor
    interaction.void_reason = reason[:300]
    interaction.save(update_fields=["voided_at", "voided_by", "void_reason"])
    return interaction


@transaction.atomic
def timeline_publish(
    *,
    customer: Customer,
    kind: str,
    occurred_at: dt.datetime,
    title: str,
    url: str = "",
    actor: Any = None,
    source_key: str = "",
) -> TimelineEvent:
    """Put another app's event on a customer's timeline (ticket opened, stage changed, alert raised …).

    With `source_key` ("ticket:42:opened") publishing the same event twice keeps one entry."""
    if kind not in TimelineEvent.Kind.values or kind == TimelineEvent.Kind.INTERACTION:
        raise ValueError(f"unknown timeline kind {kind!r}; contacts are logged with interaction_log")
    if source_key:
        existing = TimelineEvent.objects.filter(source_key=source_key).first()
        if existing is not None:
            return existing
    return TimelineEvent.objects.create(customer=customer, kind=kind, occurred_at=occurred_at, title=title[:200],
                                        url=url[:300], actor=actor, source_key=source_key[:100])


# --- tasks -----------------------------------------------------------------------------------------------

def _check_assignee(actor: Any, assignee: Any) -> None:
    if assignee.pk == actor.pk:
        return
    if not actor.has_perm("interactions.assign_task"):
        raise ValidationError({"assignee": _("You may only create tasks for yourself.")})
    if not selectors.assignable_users(user=actor).filter(pk=assignee.pk).exists():
        raise ValidationError({"assignee": _("You may assign tasks only to staff of the branches you manage.")})


def _check_times(due_at: dt.datetime, remind_at: dt.datetime | None) -> None:
    if remind_at is not None and remind_at > due_at:
        raise ValidationError({"remind_at": _("The reminder must come before the task is due.")})


@transaction.atomic
def task_create(
    *,
    actor: Any,
    title: str,
    due_at: dt.datetime,
    assignee: Any = None,
    customer: Customer | None = None,
    priority: str = Task.Priority.NORMAL,
    remind_at: dt.datetime | None = None,
    description: str = "",
    source_interaction: Interaction | None = None,
) -> Task:
    """Create a task for oneself, or (a branch manager) for a relationship manager of one's branches."""
    _require(actor, "interactions.add_task")
    assignee = assignee or actor
    _check_assignee(actor, assignee)
    if customer is not None:
        customer = _visible_customer(actor, customer)
        if assignee.pk != actor.pk and not scoping.can_see(assignee, customer):
            raise ValidationError({"assignee": _("%(name)s cannot see this customer.") % {
                "name": assignee.get_full_name()}})
    _check_times(due_at, remind_at)
    task = Task(title=(title or "").strip(), description=description.strip(), customer=customer, assignee=assignee,
                created_by=actor, priority=priority, due_at=due_at, remind_at=remind_at,
                source_interaction=source_interaction)
    task.full_clean(exclude=["customer", "assignee", "created_by", "source_interaction", "completed_by"])
    task.save()
    if assignee.pk != actor.pk:
        notify(recipient=assignee, kind=Notification.Kind.TASK_ASSIGNED, subject=task.title, task=task)
    return task


def _task_for_change(actor: Any, task: Task) -> Task:
    locked = scoping.access(actor, selectors.task_queryset(user=actor).select_for_update(of=("self",)), task.pk)
    if not selectors.can_change_task(actor, locked):
        raise PermissionDenied(_("Only the assignee, the creator or their branch manager may change this task."))
    if locked.status != Task.Status.OPEN:
        raise ValidationError(_("This task is closed."))
    return locked


TASK_EDITABLE = ("title", "description", "priority", "due_at", "remind_at", "assignee")


@transaction.atomic
def task_update(*, task: Task, actor: Any, values: dict[str, Any]) -> Task:
    """Change an open task; a new reminder or due time arms its notice again, a new assignee is told."""
    task = _task_for_change(actor, task)
    unknown = set(values) - set(TASK_EDITABLE)
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    previous_assignee = task.assignee_id
    if "assignee" in values and values["assignee"].pk != task.assignee_id:
        _check_assignee(actor, values["assignee"])
        if task.customer_id and not scoping.can_see(values["assignee"], task.customer):
            raise ValidationError({"assignee": _("%(name)s cannot see this customer.") % {
                "name": values["assignee"].get_full_name()}})
    for name, value in values.items():
        if name in ("title", "description"):
            value = (value or "").strip()
        if name == "remind_at" and value != task.remind_at:
            task.reminded_at = None
        if name == "due_at" and value != task.due_at:
            task.overdue_notified_at = None
        setattr(task, name, value)
    _check_times(task.due_at, task.remind_at)
    task.full_clean(exclude=["customer", "assignee", "created_by", "source_interaction", "completed_by"])
    task.save()
    if task.assignee_id != previous_assignee and task.assignee_id != actor.pk:
        notify(recipient=task.assignee, kind=Notification.Kind.TASK_ASSIGNED, subject=task.title, task=task)
    return task


def _task_close(*, task: Task, actor: Any, status: str, outcome: str) -> Task:
    task = _task_for_change(actor, task)
    task.status = status
    task.outcome = (outcome or "").strip()
    task.completed_at = timezone.now()
    task.completed_by = actor
    task.save()
    if task.customer_id and status == Task.Status.DONE:
        timeline_publish(customer=task.customer, kind=TimelineEvent.Kind.TASK, occurred_at=task.completed_at,
                         title=task.title, url=task.get_absolute_url(), actor=actor, source_key=f"task:{task.pk}:done")
    return task


@transaction.atomic
def task_complete(*, task: Task, actor: Any, outcome: str = "") -> Task:
    """Mark an open task done with what came of it; a customer's task shows on its timeline."""
    return _task_close(task=task, actor=actor, status=Task.Status.DONE, outcome=outcome)


@transaction.atomic
def task_cancel(*, task: Task, actor: Any, outcome: str = "") -> Task:
    """Cancel an open task (it stays on record, with the reason)."""
    if not (outcome or "").strip():
        raise ValidationError({"outcome": _("Say why the task is cancelled.")})
    return _task_close(task=task, actor=actor, status=Task.Status.CANCELLED, outcome=outcome)


# --- notifications ---------------------------------------------------------------------------------------

def _forget_unread(user_ids) -> None:
    """Drop cached unread counts now and again after commit (a reader between the two re-caches the old
    count; the second drop fixes that)."""
    keys = [selectors.unread_cache_key(pk) for pk in set(user_ids)]
    if not keys:
        return

    def drop():
        try:
            cache.delete_many(keys)
        except Exception:  # noqa: BLE001 - counts expire on their own within a minute
            log.warning("could not drop cached unread counts", exc_info=True)

    drop()
    transaction.on_commit(drop)


def _preference(user_id: int, kind: str) -> tuple[bool, bool]:
    chosen = NotificationPreference.objects.filter(user=user_id, kind=kind).values_list("in_app", "email").first()
    return chosen if chosen is not None else NotificationPreference.DEFAULTS[kind]


def notify(*, recipient: Any, kind: str, subject: str, url: str = "", task: Task | None = None,
           fire_at: dt.datetime | None = None) -> Notification | None:
    """Tell one member of staff, in the centre and/or by e-mail as they prefer (nothing if neither)."""
    in_app, email = _preference(recipient.pk, kind)
    if not (in_app or email) or not recipient.is_active:
        return None
    notice = Notification.objects.create(
        recipient=recipient, kind=kind, subject=subject[:200], url=url[:300], task=task, fire_at=fire_at,
        in_app=in_app, email_status=Notification.EmailStatus.PENDING if email else Notification.EmailStatus.NONE)
    if in_app:
        _forget_unread([recipient.pk])
    return notice


@transaction.atomic
def notification_mark_read(*, notification: Notification, actor: Any) -> Notification:
    """Mark one of one's own notices read (someone else's looks missing)."""
    if notification.recipient_id != actor.pk:
        raise Http404
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
        _forget_unread([actor.pk])
    return notification


@transaction.atomic
def notification_mark_all_read(*, actor: Any) -> int:
    """Mark every unread notice of the actor read; returns how many."""
    done = Notification.objects.filter(recipient=actor.pk, in_app=True, read_at__isnull=True).update(
        read_at=timezone.now())
    _forget_unread([actor.pk])
    return done


@transaction.atomic
def notification_preferences_save(*, user: Any, preferences: dict[str, tuple[bool, bool]]) -> None:
    """Store the user's (in-app, e-mail) choice for each kind of notice."""
    for kind, (in_app, email) in preferences.items():
        if kind not in NotificationPreference.KINDS:
            raise ValidationError(_("Unknown kind of notice."))
        NotificationPreference.objects.update_or_create(user=user, kind=kind,
                                                        defaults={"in_app": in_app, "email": email})


def _defaults_sql(kind: str) -> dict[str, bool]:
    in_app, email = NotificationPreference.DEFAULTS[kind]
    return {"default_in_app": in_app, "default_email": email}


# Each statement claims one chunk and writes its notices: claim and notices commit together.
# Chunks follow each other by keyset on the index's (time, id), so a chunk never re-reads the index
# entries of the rows the chunks before it claimed; the UPDATE finds its rows by primary key
# (= ANY(ARRAY(…))) rather than joining the whole table.
CLAIM_SQL = """
WITH due AS (
    SELECT id, {time} AS at FROM interactions_task
    WHERE status = 'open' AND {claimed} IS NULL AND {condition} AND {time} <= %(now)s
      AND ({time}, id) > (%(after_at)s, %(after_id)s)
      AND id >= %(lane_lo)s AND id < %(lane_hi)s
    ORDER BY {time}, id
    LIMIT %(chunk)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE interactions_task AS t SET {claimed} = %(now)s
    WHERE t.id = ANY(ARRAY(SELECT id FROM due)) AND t.{claimed} IS NULL
    RETURNING t.id, t.assignee_id, t.created_by_id, t.title, t.{time} AS fire_at
), recipients AS (
    {recipients}
), targets AS (
    SELECT r.id, r.recipient_id, r.title, r.fire_at,
           COALESCE(p.in_app, %(default_in_app)s) AS in_app,
           COALESCE(p.email, %(default_email)s) AS email,
           count(*) OVER (PARTITION BY r.recipient_id) AS per_person
    FROM recipients AS r
    JOIN org_user AS u ON u.id = r.recipient_id AND u.is_active
    LEFT JOIN interactions_notificationpreference AS p ON p.user_id = r.recipient_id AND p.kind = %(kind)s
    WHERE COALESCE(p.in_app, %(default_in_app)s) OR COALESCE(p.email, %(default_email)s)
), notices AS (
    INSERT INTO interactions_notification
        (recipient_id, kind, subject, url, task_id, fire_at, in_app, email_status, created_at, read_at)
    SELECT recipient_id, %(kind)s, title, '', id, fire_at, in_app,
           CASE WHEN email THEN 'pending' ELSE '' END, %(now)s, NULL::timestamptz
    FROM targets WHERE per_person <= %(digest_after)s
    UNION ALL
    -- Past this many at once, one notice per person says how many (and links to their tasks).
    SELECT recipient_id, %(digest_kind)s, per_person::text, %(list_url)s, NULL::bigint, NULL::timestamptz, in_app,
           CASE WHEN email THEN 'pending' ELSE '' END, %(now)s, NULL::timestamptz
    FROM targets WHERE per_person > %(digest_after)s
    GROUP BY recipient_id, per_person, in_app, email
    RETURNING recipient_id, in_app
)
SELECT (SELECT count(*) FROM due),
       (SELECT count(*) FROM claimed),
       (SELECT count(*) FROM notices),
       ARRAY(SELECT DISTINCT recipient_id FROM notices WHERE in_app),
       (SELECT at FROM due ORDER BY at DESC, id DESC LIMIT 1),
       (SELECT id FROM due ORDER BY at DESC, id DESC LIMIT 1)
"""

REMINDER_SQL = CLAIM_SQL.format(
    time="remind_at", claimed="reminded_at", condition="remind_at IS NOT NULL",
    recipients="SELECT id, assignee_id AS recipient_id, title, fire_at FROM claimed")

# The assignee is warned, and the creator too when someone else set the task.
OVERDUE_SQL = CLAIM_SQL.format(
    time="due_at", claimed="overdue_notified_at", condition="TRUE",
    recipients="""SELECT id, assignee_id AS recipient_id, title, fire_at FROM claimed
    UNION ALL
    SELECT id, created_by_id, title, fire_at FROM claimed WHERE created_by_id <> assignee_id""")

# The ids of what is left to claim, to split a backlog into lanes of equal size.
BOUNDS_SQL = """
SELECT min(id), max(id) FROM interactions_task
WHERE status = 'open' AND {claimed} IS NULL AND {condition} AND {time} <= %(now)s
"""
_BOUNDS = {
    REMINDER_SQL: BOUNDS_SQL.format(time="remind_at", claimed="reminded_at", condition="remind_at IS NOT NULL"),
    OVERDUE_SQL: BOUNDS_SQL.format(time="due_at", claimed="overdue_notified_at", condition="TRUE"),
}

# Before every time a task can have.
_BEGINNING = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
# The id range of a sweep that is not split into lanes.
EVERY_ID = (0, 2**63 - 1)


# More notices than this for one person in one chunk become one digest notice.
DIGEST_AFTER = 50


def _claim_chunks(sql: str, *, kind: str, digest_kind: str, now: dt.datetime, chunk: int,
                  progress=None, lanes: int | None = None) -> tuple[int, int]:
    extra = {"kind": kind, "digest_kind": digest_kind, "digest_after": DIGEST_AFTER,
             "list_url": reverse("interactions:task-list"), **_defaults_sql(kind), "now": now, "chunk": chunk}
    lanes = SWEEP_LANES if lanes is None else lanes
    claimed, notices, seen, after = _claim_chunk(sql, extra, after=(_BEGINNING, 0), lane=EVERY_ID)
    _report(progress, claimed, notices)
    if seen < chunk:
        return claimed, notices
    if lanes <= 1 or connection.in_atomic_block:
        # Inside a transaction (a caller's, or a test's) other connections would not see its rows.
        more = _claim_lane(sql, extra, after=after, lane=EVERY_ID, progress=progress)
        return claimed + more[0], notices + more[1]
    # A backlog: the lanes carry on from where the first chunk stopped, each on its own connection.
    import threading
    from concurrent.futures import ThreadPoolExecutor

    lock = threading.Lock()
    with connection.cursor() as cursor:
        cursor.execute(_BOUNDS[sql], {"now": extra["now"]})
        low, high = cursor.fetchone()
    if low is None:
        return claimed, notices
    step = (high - low) // lanes + 1
    ranges = [(low + n * step, low + (n + 1) * step) for n in range(lanes)]
    ranges[-1] = (ranges[-1][0], EVERY_ID[1])

    def lane_run(lane: tuple[int, int]) -> tuple[int, int]:
        try:
            return _claim_lane(sql, extra, after=after, lane=lane, progress=progress, lock=lock)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=lanes) as pool:
        results = list(pool.map(lane_run, ranges))
    return claimed + sum(r[0] for r in results), notices + sum(r[1] for r in results)


def _claim_lane(sql, extra, *, after, lane, progress=None, lock=None) -> tuple[int, int]:
    claimed_total = notices_total = 0
    while True:
        claimed, notices, seen, after = _claim_chunk(sql, extra, after=after, lane=lane)
        claimed_total += claimed
        notices_total += notices
        if lock is None:
            _report(progress, claimed, notices)
        else:
            with lock:
                _report(progress, claimed, notices)
        if seen < extra["chunk"]:
            return claimed_total, notices_total


def _claim_chunk(sql, extra, *, after, lane) -> tuple[int, int, int, tuple]:
    """One statement, one transaction: a chunk's claims and notices commit together."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, {**extra, "after_at": after[0], "after_id": after[1], "lane_lo": lane[0],
                             "lane_hi": lane[1]})
        seen, claimed, notices, recipients, last_at, last_id = cursor.fetchone()
        _forget_unread(recipients)
    return claimed, notices, seen, (last_at, last_id)


def _report(progress, claimed: int, notices: int) -> None:
    if progress is not None and claimed:
        progress.advance(claimed, changed=notices)


def task_reminders_send(*, now: dt.datetime | None = None, chunk: int = SWEEP_CHUNK, progress=None,
                        lanes: int | None = None) -> tuple[int, int]:
    """Claim every task whose reminder time has come and notify its assignee; (tasks, notices)."""
    return _claim_chunks(REMINDER_SQL, kind=Notification.Kind.TASK_REMINDER,
                         digest_kind=Notification.Kind.TASK_REMINDERS, now=now or timezone.now(), chunk=chunk,
                         progress=progress, lanes=lanes)


def task_overdue_warnings_send(*, now: dt.datetime | None = None, chunk: int = SWEEP_CHUNK,
                               progress=None, lanes: int | None = None) -> tuple[int, int]:
    """Claim every open task past its due time and warn its assignee (and creator); (tasks, notices)."""
    return _claim_chunks(OVERDUE_SQL, kind=Notification.Kind.TASK_OVERDUE,
                         digest_kind=Notification.Kind.TASK_OVERDUE_MANY, now=now or timezone.now(), chunk=chunk,
                         progress=progress, lanes=lanes)


EMAIL_CLAIM_SQL = """
UPDATE interactions_notification SET email_status = 'sending'
WHERE id IN (
    SELECT id FROM interactions_notification WHERE email_status = 'pending'
    ORDER BY id LIMIT %(chunk)s FOR UPDATE SKIP LOCKED
) AND email_status = 'pending'
RETURNING id
"""


def notification_emails_send(*, chunk: int = 500) -> tuple[int, int]:
    """E-mail the notices waiting for it; (sent, failed).

    Claimed as "sending" before the mail goes out, so a crash between the two loses that e-mail rather
    than sending it twice (the in-app notice is there either way)."""
    from org.models import User

    sent = failed = 0
    base = getattr(settings, "CRM_BASE_URL", "").rstrip("/")
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(EMAIL_CLAIM_SQL, {"chunk": chunk})
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return sent, failed
        notices = list(Notification.objects.filter(pk__in=ids).select_related("task"))
        emails = dict(User.objects.filter(pk__in={n.recipient_id for n in notices}).values_list("pk", "email"))
        messages, ok, bad = [], [], []
        with translation.override(settings.LANGUAGE_CODE):
            for notice in notices:
                address = emails.get(notice.recipient_id) or ""
                if not address:
                    bad.append(notice.pk)
                    continue
                lines = [str(notice), ""]
                if notice.task is not None:
                    lines.append(_("Due: %(due)s") % {
                        "due": timezone.localtime(notice.task.due_at).strftime("%Y-%m-%d %H:%M")})
                lines.append(base + notice.get_absolute_url())
                messages.append(EmailMessage(subject=f"[{_('Branch CRM')}] {notice}"[:200], body="\n".join(lines),
                                             from_email=settings.DEFAULT_FROM_EMAIL, to=[address]))
                ok.append(notice.pk)
        if messages:
            try:
                get_connection(fail_silently=False).send_messages(messages)
            except Exception:  # noqa: BLE001 - the mail server's failure fails this chunk, not the sweep
                log.exception("notification e-mails failed")
                bad, ok = bad + ok, []
        Notification.objects.filter(pk__in=ok).update(email_status=Notification.EmailStatus.SENT)
        Notification.objects.filter(pk__in=bad).update(email_status=Notification.EmailStatus.FAILED)
        sent, failed = sent + len(ok), failed + len(bad)


# --- messages to customers ----------------------------------------------------------------------------------

def _message_address(customer: Customer, channel: str) -> tuple[str, str]:
    """(sealed column, masked address) of the channel, or ValidationError when there is none on file."""
    if channel == Channel.EMAIL:
        if not customer.email_enc:
            raise ValidationError(_("No e-mail address is on file for this customer."))
        return "email", customer.email_masked
    if channel == Channel.SMS:
        if not customer.phone_enc:
            raise ValidationError(_("No mobile phone is on file for this customer."))
        return "phone", customer.phone_masked
    raise ValidationError({"channel": _("Messages go by e-mail or SMS.")})


@transaction.atomic
def message_send(*, customer: Customer, actor: Any, channel: str, body: str, subject: str = "",
                 purpose: str = OutboundMessage.Purpose.SERVICE) -> OutboundMessage:
    """Send a customer an e-mail or SMS through the gateway and log it as an outgoing contact.

    Marketing needs the customer's consent and no "do not contact"; a closed customer gets nothing.
    The message leaves after the transaction commits, so a rolled-back send never reaches anyone."""
    _require(actor, "interactions.send_customer_message")
    customer = _visible_customer(actor, customer)
    if customer.lifecycle_status == Customer.Lifecycle.CLOSED:
        raise ValidationError(_("The customer is closed: no messages."))
    if purpose == OutboundMessage.Purpose.MARKETING and (customer.do_not_contact or not customer.marketing_consent):
        raise ValidationError(_("The customer has not agreed to marketing messages (or asked not to be contacted)."))
    _field, masked = _message_address(customer, channel)
    body, subject = (body or "").strip(), (subject or "").strip()
    if not body:
        raise ValidationError({"body": _("Write the message.")})
    if channel == Channel.EMAIL and not subject:
        raise ValidationError({"subject": _("An e-mail needs a subject.")})
    summary = f"{subject}\n\n{body}" if subject else body
    interaction = Interaction.objects.create(
        customer=customer, actor=actor, channel=channel, direction=Interaction.Direction.OUTBOUND,
        occurred_at=timezone.now(), summary=summary,
        purpose=Interaction.Purpose.PRODUCT if purpose == OutboundMessage.Purpose.MARKETING
        else Interaction.Purpose.SERVICE)
    TimelineEvent.objects.create(customer=customer, kind=TimelineEvent.Kind.INTERACTION,
                                 occurred_at=interaction.occurred_at, actor=actor, interaction=interaction,
                                 url=interaction.get_absolute_url())
    message = OutboundMessage.objects.create(customer=customer, channel=channel, purpose=purpose, sent_by=actor,
                                             to_masked=masked, subject=subject[:200], body=body,
                                             interaction=interaction)
    transaction.on_commit(lambda: outbound_deliver(message_id=message.pk))
    return message


def outbound_deliver(*, message_id: int) -> OutboundMessage | None:
    """Hand a queued message to its gateway once: claimed queued → sending first, so two callers never
    both send it. The address is unsealed here, used for the call and dropped."""
    claimed = OutboundMessage.objects.filter(pk=message_id, status=OutboundMessage.Status.QUEUED).update(
        status=OutboundMessage.Status.SENDING)
    if not claimed:
        return None
    message = OutboundMessage.objects.select_related("customer", "sent_by").get(pk=message_id)
    field = "email" if message.channel == Channel.EMAIL else "phone"
    gateway = gateway_for(message.channel)
    try:
        reference = gateway.send(to=pii.unseal(message.customer, field), subject=message.subject, body=message.body,
                                 reference=str(message.pk))
    except (GatewayError, ValueError) as exc:
        message.status, message.error = OutboundMessage.Status.FAILED, str(exc)[:500]
        message.gateway = gateway.name
        message.save(update_fields=["status", "error", "gateway"])
        notify(recipient=message.sent_by, kind=Notification.Kind.MESSAGE_FAILED,
               subject=f"{message.get_channel_display()} {message.to_masked}",
               url=reverse("customers:customer-detail", args=[message.customer_id]))
        return message
    message.status, message.external_id, message.gateway = OutboundMessage.Status.SENT, reference[:200], gateway.name
    message.sent_at = timezone.now()
    message.save(update_fields=["status", "external_id", "gateway", "sent_at"])
    return message


def outbound_retry(*, older_than: dt.timedelta = dt.timedelta(minutes=2)) -> int:
    """Deliver messages still queued a while after they were written (the web process died first)."""
    cutoff = timezone.now() - older_than
    ids = list(OutboundMessage.objects.filter(status=OutboundMessage.Status.QUEUED, created_at__lt=cutoff)
               .order_by("created_at").values_list("pk", flat=True)[:1000])
    for pk in ids:
        outbound_deliver(message_id=pk)
    return len(ids)


# --- the workbench layout -----------------------------------------------------------------------------------

LAYOUT_ACTIONS = ("hide", "show", "pin", "unpin", "up", "down", "reset")


@transaction.atomic
def workbench_layout_change(*, user: Any, action: str, key: str = "") -> WorkbenchLayout:
    """Hide, show, pin, unpin or move one widget of the user's workbench (or reset it)."""
    from .widgets import arranged, available

    if action not in LAYOUT_ACTIONS:
        raise ValidationError(_("Unknown layout change."))
    if action != "reset" and key not in {widget.key for widget in available(user)}:
        raise ValidationError(_("Unknown widget."))
    layout, _created = WorkbenchLayout.objects.select_for_update().get_or_create(user=user)
    if action == "reset":
        layout.widgets = []
        layout.save()
        return layout
    items = [{"key": w.key, "hidden": hidden, "pinned": pinned} for w, hidden, pinned in arranged(user, layout.widgets)]
    index = next(i for i, item in enumerate(items) if item["key"] == key)
    item = items[index]
    if action in ("hide", "show"):
        item["hidden"] = action == "hide"
    elif action in ("pin", "unpin"):
        item["pinned"] = action == "pin"
        items.pop(index)
        items.insert(0 if item["pinned"] else len([i for i in items if i["pinned"]]), item)
    else:
        # Move within its group (pinned widgets stay above the others).
        step = -1 if action == "up" else 1
        other = index + step
        if 0 <= other < len(items) and items[other]["pinned"] == item["pinned"]:
            items[index], items[other] = items[other], items[index]
    layout.widgets = items
    layout.save()
    return layout
