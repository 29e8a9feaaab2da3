"""Business actions on leads, their assignment and referrals: keyword-only, one transaction each.

Row changes of leads, assignments, rules and referrals reach the audit trail through the PostgreSQL
row trigger (migration 0004_leads_audit_and_roles), with the actor the request or job context names.

Duplicates (docs/decisions.md, "Leads: duplicates"): a lead whose phone or ID number matches a customer
on file (blind index) is linked to that customer and flagged, never turned into a second customer. A
second *open* lead with the same phone or ID number is refused with the existing lead named, so the
person's history stays in one place; partial unique indexes make a concurrent second insert lose too.

Assignment (docs/decisions.md, "Leads: assignment"): the branch's active rules, nearest branch first and
then by their order, are tried until one finds somebody. Each rule's row is locked while it chooses, so
two workers assigning at once serialise per rule (round robin never hands two leads to the same person
by racing, least-open counts are exact); the leads themselves are claimed with SKIP LOCKED.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.db.models.functions import Length
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_site import crypto
from customers import pii
from customers.models import Customer
from org import scoping
from org.models import Branch, User
from org.roles import Role

from .models_leads import AssignmentRule, Lead, LeadAssignment, ProductArea, ProductSpecialist, Referral

log = logging.getLogger(__name__)

DEFAULT_FIRST_CONTACT_HOURS = 24
ASSIGN_CHUNK = 500


def _require(actor: Any, permission: str) -> None:
    if not actor.has_perm(permission):
        raise PermissionDenied(_("Your role may not do this."))


def _within_reach(actor: Any, branch: Branch) -> bool:
    """May the actor place or hand out work in `branch` (their subtree; an RM their own branch)?"""
    reach = scoping.reach_of(actor)
    if reach.everything:
        return True
    if reach.branch is not None and branch.path.startswith(reach.branch.path):
        return True
    return reach.own and branch.pk == actor.branch_id


# --- contact data and duplicates ----------------------------------------------------------------------------

def _normalised_contact(*, phone: str, id_type: str, id_number: str) -> dict[str, str]:
    """Normalised phone and ID number, or ValidationError naming every wrong field at once."""
    errors: dict[str, list[str]] = {}
    values = {"phone": "", "id_number": ""}
    for field, call in (("phone", lambda: pii.normalise_phone(phone)),
                        ("id_number", lambda: pii.normalise_id_number(id_type, id_number))):
        try:
            values[field] = call()
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(name, []).extend(messages)
    if not errors and not values["phone"] and not values["id_number"]:
        errors["phone"] = [_("Give a phone number or an ID number, so the lead can be contacted and matched.")]
    if errors:
        raise ValidationError(errors)
    return values


def _seal_contact(lead: Lead, values: dict[str, str]) -> None:
    for field in ("phone", "id_number"):
        if values[field]:
            sealed = pii.seal(field, values[field])
            setattr(lead, f"{field}_enc", sealed.enc)
            setattr(lead, f"{field}_bidx", sealed.bidx)
            setattr(lead, f"{field}_masked", sealed.masked)


def open_lead_duplicates(*, phone_bidx: str = "", id_number_bidx: str = "", exclude_pk: int | None = None):
    """Open leads with the same phone or ID number (through the blind indexes)."""
    condition = Q(pk__in=[])
    if phone_bidx:
        condition |= Q(phone_bidx=phone_bidx)
    if id_number_bidx:
        condition |= Q(id_number_bidx=id_number_bidx)
    qs = Lead.objects.filter(condition, status__in=Lead.OPEN_STATUSES)
    return qs.exclude(pk=exclude_pk) if exclude_pk else qs


def matching_customer(*, phone_bidx: str = "", id_number_bidx: str = "") -> Customer | None:
    """The customer on file with the same ID number (preferred: it names one person) or phone."""
    live = Customer.objects.exclude(lifecycle_status=Customer.Lifecycle.CLOSED).filter(merged_into__isnull=True)
    if id_number_bidx:
        found = live.filter(id_number_bidx=id_number_bidx).order_by("pk").first()
        if found is not None:
            return found
    if phone_bidx:
        return live.filter(phone_bidx=phone_bidx).order_by("pk").first()
    return None


def _refuse_duplicate(lead: Lead) -> None:
    existing = open_lead_duplicates(phone_bidx=lead.phone_bidx, id_number_bidx=lead.id_number_bidx,
                                    exclude_pk=lead.pk).order_by("pk").first()
    if existing is None:
        return
    field = "id_number" if lead.id_number_bidx and existing.id_number_bidx == lead.id_number_bidx else "phone"
    raise ValidationError({field: _("This person already has an open lead (number %(pk)d, status %(status)s): "
                                    "add to that lead instead.") % {"pk": existing.pk,
                                                                    "status": existing.get_status_display()}})


def _save_new(lead: Lead) -> None:
    """Insert; a concurrent twin that slipped past the check loses on the partial unique indexes."""
    try:
        with transaction.atomic():
            lead.save()
    except IntegrityError as exc:
        if "lead_open_" not in str(exc):
            raise
        _refuse_duplicate(lead)
        raise ValidationError({"phone": _("This person already has an open lead.")}) from None


# --- creating leads -----------------------------------------------------------------------------------------

@transaction.atomic
def lead_create(
    *,
    actor: Any,
    name: str,
    channel: str,
    product_interest: str,
    branch: Branch,
    phone: str = "",
    id_type: str = "",
    id_number: str = "",
    note: str = "",
) -> Lead:
    """Record a lead from a form, a walk-in or an import; matched to customers and open leads by blind index.

    A relationship manager's own lead is theirs at once (they could not see it otherwise); other leads wait
    for the assignment job."""
    _require(actor, "opportunities.add_lead")
    if not _within_reach(actor, branch):
        raise ValidationError({"branch": _("You cannot record leads for branches you do not serve.")})
    name = (name or "").strip()
    lead = Lead(name=name, channel=channel, product_interest=product_interest, branch=branch,
                id_type=id_type or "", note=(note or "").strip(), created_by=actor)
    errors: dict[str, list[str]] = {}
    try:
        lead.full_clean(exclude=["branch", "created_by", "customer", "referral", "assigned_to"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        values = _normalised_contact(phone=phone, id_type=id_type, id_number=id_number)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    _seal_contact(lead, values)
    _refuse_duplicate(lead)
    customer = matching_customer(phone_bidx=lead.phone_bidx, id_number_bidx=lead.id_number_bidx)
    if customer is not None:
        lead.customer, lead.matched_customer = customer, True
    _save_new(lead)
    reach = scoping.reach_of(actor)
    if reach.own and reach.branch is None:
        _assign(lead, to_user=actor, actor=actor, rule=None, note=_("Recorded by the relationship manager."))
    return lead


# --- assignment -----------------------------------------------------------------------------------------------

def _open_counts(user_ids: list[int]) -> dict[int, int]:
    rows = (Lead.objects.filter(assigned_to__in=user_ids, status__in=Lead.WORKING_STATUSES)
            .values("assigned_to").annotate(n=Count("pk")).values_list("assigned_to", "n"))
    counts = dict.fromkeys(user_ids, 0)
    counts.update(dict(rows))
    return counts


def _pool(rule: AssignmentRule, lead: Lead) -> list[int]:
    """Ids of who may receive the lead under `rule`, in a stable order."""
    subtree = scoping.branch_subtree_ids(rule.branch)
    people = User.objects.filter(is_active=True)
    member_ids = list(rule.members.values_list("pk", flat=True))
    if rule.strategy == AssignmentRule.Strategy.SPECIALIST:
        people = people.filter(specialties__area=lead.product_interest)
        people = people.filter(pk__in=member_ids) if member_ids else people.filter(branch__in=subtree)
    elif member_ids:
        people = people.filter(pk__in=member_ids)
    else:
        people = people.filter(groups__name=Role.RELATIONSHIP_MANAGER, branch__in=subtree)
    return list(people.order_by("pk").values_list("pk", flat=True).distinct())


def rules_for(lead: Lead):
    """The active rules that may take `lead`: its branch's first, then its parents', each in order."""
    path = lead.branch.path
    prefixes = [path[: i + 1] for i, char in enumerate(path) if char == "/"]
    return (AssignmentRule.objects.filter(is_active=True, branch__path__in=prefixes)
            .filter(Q(product_interest="") | Q(product_interest=lead.product_interest))
            .filter(Q(channel="") | Q(channel=lead.channel))
            .select_related("branch")
            .order_by(Length("branch__path").desc(), "position", "pk"))


def _assign(lead: Lead, *, to_user: Any, actor: Any, rule: AssignmentRule | None, note: str = "",
            now: dt.datetime | None = None) -> LeadAssignment:
    from interactions.models import Notification
    from interactions.services import notify

    now = now or timezone.now()
    to_id = to_user if isinstance(to_user, int) else to_user.pk
    record = LeadAssignment.objects.create(lead=lead, from_user_id=lead.assigned_to_id, to_user_id=to_id, rule=rule,
                                           assigned_by=actor, note=note[:300], assigned_at=now)
    hours = rule.first_contact_hours if rule is not None else DEFAULT_FIRST_CONTACT_HOURS
    lead.assigned_to_id, lead.assigned_at = to_id, now
    if lead.first_contacted_at is None:
        lead.first_contact_due_at = now + dt.timedelta(hours=hours)
        lead.overdue_warned_at = None
    if lead.status == Lead.Status.NEW:
        lead.status = Lead.Status.ASSIGNED
    lead.save(update_fields=["assigned_to", "assigned_at", "first_contact_due_at", "overdue_warned_at", "status",
                             "updated_at"])
    recipient = User.objects.get(pk=to_id)
    if lead.customer_id is not None:
        _share_customer(lead, recipient=recipient, actor=actor)
    if actor is None or to_id != actor.pk:
        notify(recipient=recipient, kind=Notification.Kind.TASK_ASSIGNED,
               subject=_("New lead: %(lead)s") % {"lead": lead}, url=lead.get_absolute_url())
    return record


def _share_customer(lead: Lead, *, recipient: Any, actor: Any) -> None:
    """The assignee of a lead linked to a customer they cannot see (a specialist given a referral of another
    RM's customer) gets a view grant on that customer, recorded in the audit trail: without it they could
    neither open the customer nor convert the lead."""
    from guardian.shortcuts import assign_perm

    from org.audit import audit_record
    from org.models import AuditEntry

    customer = lead.customer
    if scoping.can_see(recipient, customer):
        return
    assign_perm("customers.view_customer", recipient, customer)
    audit_record(action=AuditEntry.Action.PERMISSION_CHANGE, actor=actor, obj=customer,
                 username="lead_assignment" if actor is None else "",
                 detail={"granted_to": recipient.username, "permission": "view_customer", "lead": lead.pk})


@transaction.atomic
def lead_assign(*, lead: Lead, to_user: Any, actor: Any, note: str = "") -> Lead:
    """Hand an open lead to a member of staff by hand (branch managers); recorded and the assignee told."""
    _require(actor, "opportunities.assign_lead")
    lead = scoping.access(actor, Lead.objects.select_for_update(of=("self",)).select_related("branch"), lead.pk)
    if not lead.is_open:
        raise ValidationError(_("Only an open lead can be assigned."))
    if not to_user.is_active or to_user.branch_id is None or not _within_reach(actor, to_user.branch):
        raise ValidationError({"to_user": _("You may assign leads only to staff of the branches you manage.")})
    if lead.assigned_to_id == to_user.pk:
        raise ValidationError({"to_user": _("The lead is already assigned to %(name)s.") % {
            "name": to_user.get_full_name()}})
    _assign(lead, to_user=to_user, actor=actor, rule=None, note=(note or "").strip())
    return lead


class _ChunkPlanner:
    """Assigns one claimed chunk of leads in memory, then writes it in a few statements.

    Every rule the chunk may use is locked up front in id order (two sweeps never wait on each other in
    opposite orders), its pool and open counts are read once, and each choice updates the counts and the
    round-robin pointer in memory, so choices are exactly those one lead at a time would make."""

    def __init__(self, leads: list[Lead], now: dt.datetime) -> None:
        self.now = now
        self.rules_by_lead: dict[int, list[AssignmentRule]] = {}
        wanted: dict[tuple, list[AssignmentRule]] = {}
        for lead in leads:
            key = (lead.branch_id, lead.product_interest, lead.channel)
            if key not in wanted:
                wanted[key] = list(rules_for(lead))
            self.rules_by_lead[lead.pk] = wanted[key]
        rule_ids = sorted({rule.pk for rules in wanted.values() for rule in rules})
        self.rules = {rule.pk: rule for rule in AssignmentRule.objects.select_for_update().select_related("branch")
                      .filter(pk__in=rule_ids).order_by("pk")}
        self.pools: dict[tuple[int, str], list[int]] = {}
        self.counts: dict[int, int] = {}
        self.pointer = {pk: rule.last_assigned_id for pk, rule in self.rules.items()}

    def _pool(self, rule: AssignmentRule, lead: Lead) -> list[int]:
        key = (rule.pk, lead.product_interest if rule.strategy == AssignmentRule.Strategy.SPECIALIST else "")
        if key not in self.pools:
            self.pools[key] = pool = _pool(rule, lead)
            missing = [pk for pk in pool if pk not in self.counts]
            if missing:
                self.counts.update(_open_counts(missing))
        return self.pools[key]

    def choose(self, lead: Lead) -> tuple[AssignmentRule, int] | None:
        for candidate in self.rules_by_lead[lead.pk]:
            rule = self.rules.get(candidate.pk)
            if rule is None:  # deactivated or deleted since rules_for() read it
                continue
            pool = self._pool(rule, lead)
            if rule.capacity is not None:
                pool = [pk for pk in pool if self.counts[pk] < rule.capacity]
            if not pool:
                continue
            if rule.strategy == AssignmentRule.Strategy.ROUND_ROBIN:
                last = self.pointer[rule.pk] or 0
                chosen = next((pk for pk in pool if pk > last), pool[0])
                self.pointer[rule.pk] = chosen
            else:
                chosen = min(pool, key=lambda pk: (self.counts[pk], pk))
            self.counts[chosen] += 1
            return rule, chosen
        return None

    def run(self, leads: list[Lead]) -> int:
        from interactions.models import Notification
        from interactions.services import notify

        records, changed, per_person = [], [], {}
        for lead in leads:
            choice = self.choose(lead)
            if choice is None:
                continue
            rule, chosen = choice
            records.append(LeadAssignment(lead=lead, from_user=None, to_user_id=chosen, rule=rule,
                                          assigned_by=None, assigned_at=self.now))
            lead.assigned_to_id, lead.assigned_at, lead.status = chosen, self.now, Lead.Status.ASSIGNED
            lead.first_contact_due_at = self.now + dt.timedelta(hours=rule.first_contact_hours)
            lead.overdue_warned_at = None
            lead.updated_at = self.now
            changed.append(lead)
            per_person.setdefault(chosen, []).append(lead)
        if not changed:
            return 0
        LeadAssignment.objects.bulk_create(records)
        Lead.objects.bulk_update(changed, ["assigned_to", "assigned_at", "status", "first_contact_due_at",
                                           "overdue_warned_at", "updated_at"])
        for pk, rule in self.rules.items():
            if self.pointer[pk] != rule.last_assigned_id:
                AssignmentRule.objects.filter(pk=pk).update(last_assigned_id=self.pointer[pk])
        people = User.objects.in_bulk(list(per_person))
        for user_id, mine in per_person.items():
            # One notice per person and chunk: a lead by name, or how many arrived (an import brings many).
            subject = (_("New lead: %(lead)s") % {"lead": mine[0]} if len(mine) == 1
                       else _("%(n)d new leads") % {"n": len(mine)})
            url = mine[0].get_absolute_url() if len(mine) == 1 else reverse("leads:lead-list") + "?who=me"
            notify(recipient=people[user_id], kind=Notification.Kind.TASK_ASSIGNED, subject=subject, url=url)
            for lead in mine:
                if lead.customer_id is not None:
                    _share_customer(lead, recipient=people[user_id], actor=None)
        return len(changed)


def leads_assign_pending(*, now: dt.datetime | None = None, chunk: int = ASSIGN_CHUNK, progress=None) -> int:
    """Assign every new lead a rule can place, chunk by chunk (each chunk one transaction); returns how many.

    Leads are claimed with SKIP LOCKED, so a concurrent run (or a redelivered job) takes other leads; a lead
    no rule can place stays new and is tried again next run. Running it twice assigns nothing twice."""
    now = now or timezone.now()
    after, assigned = 0, 0
    while True:
        with transaction.atomic():
            leads = list(Lead.objects.select_for_update(skip_locked=True, of=("self",)).select_related("branch")
                         .filter(status=Lead.Status.NEW, assigned_to__isnull=True, pk__gt=after)
                         .order_by("pk")[:chunk])
            done = _ChunkPlanner(leads, now).run(leads) if leads else 0
        assigned += done
        if progress is not None and leads:
            progress.advance(len(leads), changed=done)
        if len(leads) < chunk:
            return assigned
        after = leads[-1].pk


def _managers_for(branch: Branch) -> list[User]:
    """The branch managers nearest above (or at) `branch`: its own, else its parent's, and so on."""
    prefixes = [branch.path[: i + 1] for i, char in enumerate(branch.path) if char == "/"]
    managers = list(User.objects.filter(is_active=True, groups__name=Role.BRANCH_MANAGER,
                                        branch__path__in=prefixes).select_related("branch"))
    if not managers:
        return []
    nearest = max(len(m.branch.path) for m in managers)
    return [m for m in managers if len(m.branch.path) == nearest]


def leads_warn_overdue(*, now: dt.datetime | None = None, chunk: int = ASSIGN_CHUNK, progress=None) -> int:
    """Warn the branch manager once about each assigned lead not contacted by its deadline; returns how many.

    The claim (overdue_warned_at) and the notices commit together, so a rerun or a concurrent sweep
    (SKIP LOCKED) warns nobody twice."""
    from interactions.models import Notification
    from interactions.services import notify

    now = now or timezone.now()
    warned = 0
    while True:
        with transaction.atomic():
            leads = list(Lead.objects.select_for_update(skip_locked=True, of=("self",))
                         .select_related("branch", "assigned_to")
                         .filter(status=Lead.Status.ASSIGNED, first_contacted_at__isnull=True,
                                 overdue_warned_at__isnull=True, first_contact_due_at__lte=now)
                         .order_by("first_contact_due_at", "pk")[:chunk])
            Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(overdue_warned_at=now)
            managers: dict[int, list[User]] = {}
            for lead in leads:
                if lead.branch_id not in managers:
                    managers[lead.branch_id] = _managers_for(lead.branch)
                for manager in managers[lead.branch_id]:
                    notify(recipient=manager, kind=Notification.Kind.TASK_OVERDUE,
                           subject=_("Lead %(lead)s not contacted in time by %(rm)s") % {
                               "lead": lead, "rm": lead.assigned_to.get_full_name() if lead.assigned_to else "-"},
                           url=lead.get_absolute_url(), fire_at=lead.first_contact_due_at)
        warned += len(leads)
        if progress is not None and leads:
            progress.advance(len(leads), changed=len(leads))
        if len(leads) < chunk:
            return warned


# --- working a lead -------------------------------------------------------------------------------------------

def _lead_for_change(actor: Any, lead: Lead) -> Lead:
    _require(actor, "opportunities.change_lead")
    locked = scoping.access(actor, Lead.objects.select_for_update(of=("self",)).select_related("branch"), lead.pk)
    if locked.assigned_to_id != actor.pk and scoping.reach_of(actor).branch is None and not actor.is_superuser:
        raise PermissionDenied(_("Only the assignee or branch staff may work this lead."))
    return locked


@transaction.atomic
def lead_record_contact(*, lead: Lead, actor: Any, note: str = "") -> Lead:
    """The first contact with the lead happened: the deadline is met and the lead is "contacted"."""
    lead = _lead_for_change(actor, lead)
    if lead.status not in (Lead.Status.NEW, Lead.Status.ASSIGNED):
        raise ValidationError(_("This lead was already contacted."))
    if lead.assigned_to_id is None:
        _assign(lead, to_user=actor, actor=actor, rule=None, note=_("Took the lead by contacting it."))
    lead.status, lead.first_contacted_at = Lead.Status.CONTACTED, timezone.now()
    if note and note.strip():
        lead.note = (lead.note + "\n" if lead.note else "") + note.strip()
    lead.save(update_fields=["status", "first_contacted_at", "note", "updated_at"])
    return lead


@transaction.atomic
def lead_qualify(*, lead: Lead, actor: Any) -> Lead:
    """A contacted lead needs a product and may buy it: it is qualified and can be converted."""
    lead = _lead_for_change(actor, lead)
    if lead.status != Lead.Status.CONTACTED:
        raise ValidationError(_("Only a contacted lead can be qualified."))
    lead.status = Lead.Status.QUALIFIED
    lead.save(update_fields=["status", "updated_at"])
    return lead


@transaction.atomic
def lead_disqualify(*, lead: Lead, actor: Any, reason: str, note: str = "") -> Lead:
    """Close an open lead without a sale, with the reason (it stays on record)."""
    lead = _lead_for_change(actor, lead)
    if not lead.is_open:
        raise ValidationError(_("This lead is already closed."))
    if reason not in Lead.DisqualifyReason.values:
        raise ValidationError({"reason": _("Choose why the lead is disqualified.")})
    lead.status, lead.disqualify_reason, lead.disqualify_note = Lead.Status.DISQUALIFIED, reason, (note or "")[:300]
    lead.save(update_fields=["status", "disqualify_reason", "disqualify_note", "updated_at"])
    return lead


def _new_customer_for(lead: Lead, actor: Any) -> Customer:
    from customers.services import customer_create

    personal = {}
    if lead.phone_enc:
        personal["phone"] = crypto.decrypt(lead.phone_enc)
    if lead.id_number_enc:
        personal["id_number"] = crypto.decrypt(lead.id_number_enc)
    source = {Lead.Channel.REFERRAL: Customer.SourceChannel.REFERRAL, Lead.Channel.CAMPAIGN:
              Customer.SourceChannel.CAMPAIGN, Lead.Channel.WEB_FORM: Customer.SourceChannel.ONLINE,
              Lead.Channel.PHONE: Customer.SourceChannel.CALL_CENTRE}.get(lead.channel, Customer.SourceChannel.BRANCH)
    data = {"customer_no": f"LD{lead.pk:010d}", "kind": Customer.Kind.INDIVIDUAL, "name": lead.name,
            "id_type": lead.id_type, "home_branch": lead.branch, "primary_rm": lead.assigned_to or actor,
            "lifecycle_status": Customer.Lifecycle.PROSPECT, "source_channel": source}
    return customer_create(actor=actor, data=data, personal=personal)


@transaction.atomic
def lead_convert(*, lead: Lead, actor: Any, product: Any, amount: Any, expected_close_on: dt.date,
                 next_step: str = "") -> Lead:
    """Turn a qualified lead into a customer (the linked one, or a new prospect) and an opportunity.

    The opportunity remembers where it came from (lead or referral), so a referrer's credit follows it."""
    from .services import opportunity_create

    _require(actor, "opportunities.convert_lead")
    lead = _lead_for_change(actor, lead)
    if lead.status != Lead.Status.QUALIFIED:
        raise ValidationError(_("Only a qualified lead can be converted."))
    if lead.customer_id is not None:
        customer = lead.customer
        if not scoping.can_see(actor, customer):
            raise ValidationError(_("This lead matches a customer of another relationship manager: ask your branch "
                                    "manager to share the customer with you or to assign the lead to its RM."))
    else:
        customer = _new_customer_for(lead, actor)
    source = "referral" if lead.referral_id else "lead"
    opportunity = opportunity_create(actor=actor, customer=customer, product=product, amount=amount,
                                     expected_close_on=expected_close_on, next_step=next_step, source=source,
                                     owner=lead.assigned_to or actor)
    lead.customer, lead.opportunity = customer, opportunity
    lead.status, lead.converted_at = Lead.Status.CONVERTED, timezone.now()
    lead.save(update_fields=["customer", "opportunity", "status", "converted_at", "updated_at"])
    return lead


# --- rules and specialists ------------------------------------------------------------------------------------

RULE_FIELDS = ("name", "position", "strategy", "product_interest", "channel", "capacity", "first_contact_hours",
               "is_active")


@transaction.atomic
def assignment_rule_save(*, actor: Any, values: dict[str, Any], branch: Branch, members: list[Any],
                         rule: AssignmentRule | None = None) -> AssignmentRule:
    """Create or change one of a branch's assignment rules (branch managers of that branch, administrators)."""
    _require(actor, "opportunities.change_assignmentrule" if rule else "opportunities.add_assignmentrule")
    reach = scoping.reach_of(actor)
    if not _within_reach(actor, branch) or (reach.branch is None and not reach.everything):
        raise ValidationError({"branch": _("You may set rules only for the branches you manage.")})
    if rule is not None:
        rule = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
        if not _within_reach(actor, rule.branch):
            raise PermissionDenied(_("You may set rules only for the branches you manage."))
    else:
        rule = AssignmentRule()
    outsiders = [m for m in members if m.branch_id is None or not m.branch.path.startswith(branch.path)]
    if outsiders:
        raise ValidationError({"members": _("%(names)s do not work in this branch.") % {
            "names": ", ".join(m.get_full_name() for m in outsiders)}})
    rule.branch = branch
    for field in RULE_FIELDS:
        if field in values:
            setattr(rule, field, values[field])
    rule.full_clean(exclude=["branch", "last_assigned"])
    rule.save()
    rule.members.set(members)
    return rule


@transaction.atomic
def specialist_set(*, actor: Any, user: Any, area: str, on: bool = True) -> ProductSpecialist | None:
    """Name (or un-name) a member of staff a specialist of one product area."""
    _require(actor, "opportunities.add_productspecialist" if on else "opportunities.delete_productspecialist")
    if user.branch_id is None or not _within_reach(actor, user.branch):
        raise ValidationError({"user": _("You may name specialists only in the branches you manage.")})
    if on:
        specialist, _created = ProductSpecialist.objects.get_or_create(user=user, area=area)
        return specialist
    ProductSpecialist.objects.filter(user=user, area=area).delete()
    return None


# --- referrals ------------------------------------------------------------------------------------------------

@transaction.atomic
def referral_create(*, customer: Customer, actor: Any, area: str, note: str, specialist: Any = None) -> Referral:
    """A teller, service agent or RM refers a customer to a specialist; the referral opens a lead."""
    _require(actor, "opportunities.add_referral")
    customer = scoping.access(actor, Customer.objects.select_related("home_branch"), customer.pk)
    note = (note or "").strip()
    errors = {}
    if not note:
        errors["note"] = [_("Say what the customer needs.")]
    if area not in ProductArea.values:
        errors["area"] = [_("Choose the kind of specialist.")]
    if specialist is not None and not ProductSpecialist.objects.filter(user=specialist, area=area,
                                                                       user__is_active=True).exists():
        errors["specialist"] = [_("%(name)s is not a specialist of this area.") % {
            "name": specialist.get_full_name()}]
    if errors:
        raise ValidationError(errors)
    open_lead = Lead.objects.filter(customer=customer, status__in=Lead.OPEN_STATUSES).first()
    if open_lead is not None:
        raise ValidationError(_("This customer already has an open lead (number %(pk)d): its assignee follows it "
                                "up.") % {"pk": open_lead.pk})
    referral = Referral.objects.create(customer=customer, referrer=actor, area=area, note=note,
                                       specialist=specialist, branch=customer.home_branch)
    lead = Lead(name=customer.name, channel=Lead.Channel.REFERRAL, product_interest=area,
                branch=customer.home_branch, id_type=customer.id_type, note=note, customer=customer,
                matched_customer=True, referral=referral, created_by=actor)
    # The customer's sealed values are the lead's: same key ring, same blind-index key.
    for field in ("phone", "id_number"):
        for part in ("enc", "bidx", "masked"):
            setattr(lead, f"{field}_{part}", getattr(customer, f"{field}_{part}"))
    _refuse_duplicate(lead)
    _save_new(lead)
    if specialist is not None:
        _assign(lead, to_user=specialist, actor=actor, rule=None, note=_("Referred to this specialist."))
    from interactions.models import TimelineEvent
    from interactions.services import timeline_publish

    timeline_publish(customer=customer, kind=TimelineEvent.Kind.OTHER, occurred_at=referral.created_at,
                     title=_("Referred to a specialist of %(area)s") % {"area": referral.get_area_display()},
                     url=lead.get_absolute_url(), actor=actor, source_key=f"referral:{referral.pk}")
    return referral


def lead_reveal(*, lead: Lead, actor: Any, field: str, request=None) -> str:
    """The plaintext phone or ID number of a lead for a permitted person; every reveal is audited."""
    from org.audit import audit_record
    from org.models import AuditEntry

    if field not in ("phone", "id_number"):
        raise ValidationError(_("Unknown field."))
    _require(actor, "customers.reveal_customer_pii")
    lead = scoping.access(actor, Lead.objects.all(), lead.pk)
    token = getattr(lead, f"{field}_enc")
    value = crypto.decrypt(token) if token else ""
    audit_record(action=AuditEntry.Action.REVEAL, actor=actor, request=request, obj=lead, fields=[field])
    return value

