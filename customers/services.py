"""Business actions on customers: one function each, one transaction, audited."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from org import scoping
from org.audit import audit_record
from org.models import AuditEntry

from . import pii
from .models import Account, Customer, CustomerTag, Product, Relationship, Tag, TierThreshold

# Fields a form may set directly; personal data goes through pii.seal_pii.
PLAIN_FIELDS = (
    "kind", "name", "gender", "birth_date", "id_type", "occupation", "employer", "income_band", "source_channel",
    "home_branch", "primary_rm", "lifecycle_status", "risk_tolerance", "risk_assessed_on", "risk_expires_on",
    "investment_preference", "kyc_status", "kyc_review_on", "marketing_consent", "do_not_contact",
    "last_verified_on",
)


def duplicates_of(*, id_number: str = "", phone: str = "", id_type: str = "", exclude_pk: int | None = None):
    """Customers already on file with the same ID number or phone (through the blind indexes)."""
    from crm_site import crypto

    condition = Q(pk__in=[])
    # An invalid value cannot match anything on file; the form reports it on its own.
    if id_number:
        with contextlib.suppress(ValidationError):
            condition |= Q(id_number_bidx=crypto.blind_index("id", pii.normalise_id_number(id_type, id_number)))
    if phone:
        with contextlib.suppress(ValidationError):
            condition |= Q(phone_bidx=crypto.blind_index("phone", pii.normalise_phone(phone)))
    qs = Customer.objects.filter(condition).exclude(lifecycle_status=Customer.Lifecycle.CLOSED)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs


def _apply(customer: Customer, *, data: dict[str, Any], personal: dict[str, str]) -> list[str]:
    changed = []
    for field in PLAIN_FIELDS:
        if field not in data:
            continue
        value = data[field]
        if field in ("home_branch", "primary_rm"):
            # Compare ids: a new customer has no related object to fetch yet.
            current, wanted = getattr(customer, f"{field}_id"), (value.pk if value is not None else None)
        else:
            current, wanted = getattr(customer, field), value
        if current != wanted:
            setattr(customer, field, value)
            changed.append(field)
    if "name" in changed or not customer.name_pinyin:
        customer.name_pinyin, customer.name_initials = pii.name_keys(customer.name)
    changed += pii.seal_pii(customer, values=personal)
    if customer.id_type == Customer.IdType.RESIDENT_ID and "id_number" in personal and personal["id_number"]:
        # Fill what the ID encodes when the form left it blank.
        born, sex = pii.resident_id_facts(pii.unseal(customer, "id_number"))
        customer.birth_date = customer.birth_date or born
        customer.gender = customer.gender or sex
    customer.full_clean(exclude=["id_number_enc", "phone_enc", "email_enc", "address_enc", "home_branch",
                                 "primary_rm", "merged_into"])
    return changed


@transaction.atomic
def customer_create(*, actor: Any, data: dict[str, Any], personal: dict[str, str]) -> Customer:
    """Create a customer in a branch the actor may work in; personal data sealed on the way in."""
    customer = Customer(customer_no=data["customer_no"])
    reach = scoping.reach_of(actor)
    if reach.own and reach.branch is None and not data.get("primary_rm"):
        # An RM who leaves the RM field empty means "mine", not "nobody's" (which they could not see).
        data = {**data, "primary_rm": actor}
    _apply(customer, data=data, personal=personal)
    _check_within_reach(customer, actor)
    customer.save()
    customer_recalculate(customer=customer)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, actor: Any, data: dict[str, Any], personal: dict[str, str]) -> Customer:
    """Change a customer's data; a row the actor may not see is refused (and looks missing)."""
    customer = scoping.access(actor, Customer.objects.select_for_update(), customer.pk)
    if customer.lifecycle_status == Customer.Lifecycle.CLOSED:
        raise ValidationError(_("A closed customer cannot be changed."))
    _apply(customer, data=data, personal=personal)
    _check_within_reach(customer, actor)
    customer.save()
    return customer


def _check_within_reach(customer: Customer, actor: Any) -> None:
    """A customer may only be placed where its editor works: in their branches, or (an RM) as their own."""
    reach = scoping.reach_of(actor)
    if reach.everything:
        return
    in_branch = reach.branch is not None and customer.home_branch.path.startswith(reach.branch.path)
    own = reach.own and customer.primary_rm_id == actor.pk and customer.home_branch_id == actor.branch_id
    if not (in_branch or own):
        raise ValidationError({"home_branch": _("You cannot place customers outside the branches you serve.")})


def customer_reveal(*, customer: Customer, field: str, actor: Any, request=None) -> str:
    """The plaintext of one personal-data field for a permitted person; every reveal is audited."""
    if field not in pii.PII_FIELDS:
        raise ValidationError(_("Unknown field."))
    if not actor.has_perm("customers.reveal_customer_pii"):
        raise PermissionDenied(_("Your role may not reveal personal data."))
    customer = scoping.access(actor, Customer.objects.all(), customer.pk)
    value = pii.unseal(customer, field)
    audit_record(action=AuditEntry.Action.REVEAL, actor=actor, request=request, obj=customer, fields=[field])
    return value


@transaction.atomic
def customer_export(*, actor: Any, filters: dict[str, Any], fmt: str, plaintext: bool = False, request=None,
                    job_id: int | None = None):
    """Start an export of the customers the list shows with `filters`: (header, rows) to stream.

    Needs `export_customer`; plaintext personal data also needs `reveal_customer_pii` and is audited
    as a reveal of those fields as well. The audit entries are committed before the first row leaves,
    with the number of rows the export holds when it starts (counted in the same scoped query); an
    export written in the background names its job (`job_id`), and its downloads are the reveals.
    """
    from .selectors import customer_export_header, customer_export_rows, customer_filtered

    _export_allowed(actor, plaintext=plaintext)
    rows = customer_filtered(user=actor, filters=filters).count()
    detail = {"filters": {key: str(value) for key, value in filters.items() if value}, "format": fmt,
              "rows": rows, "personal_data": "plaintext" if plaintext else "masked"}
    if job_id is not None:
        detail["export"] = job_id
    audit_record(action=AuditEntry.Action.EXPORT, actor=actor, request=request, object_type="customers.customer",
                 detail=detail)
    # A file written in the background is read when it is downloaded: each download is audited as the reveal.
    if plaintext and job_id is None:
        audit_record(action=AuditEntry.Action.REVEAL, actor=actor, request=request,
                     object_type="customers.customer", fields=pii.PII_FIELDS, detail={**detail, "export": True})
    return customer_export_header(), customer_export_rows(user=actor, filters=filters, plaintext=plaintext)


@transaction.atomic
def customer_export_start(*, actor: Any, params: Any, filters: dict[str, Any], plaintext: bool = False, request=None):
    """Ask for the list (its query string `params`, cleaned as `filters`) as an XLSX workbook a worker writes:
    checked, audited and queued in one transaction, so a refusal leaves no export behind. Returns the export."""
    from reports.exports import export_start

    job = export_start(actor=actor, kind="customers", params=params, plaintext=plaintext)
    customer_export(actor=actor, filters=filters, fmt="xlsx", plaintext=plaintext, request=request, job_id=job.pk)
    return job


def _export_allowed(actor: Any, *, plaintext: bool) -> None:
    if not (actor.is_active and actor.has_perm("customers.export_customer")):
        raise PermissionDenied(_("Your role may not export customers."))
    if plaintext and not actor.has_perm("customers.reveal_customer_pii"):
        raise PermissionDenied(_("Your role may not reveal personal data."))


def customer_export_filters(*, actor: Any, params: Any) -> dict[str, Any]:
    """The customer list's filters from its query string, or ValidationError naming each field that is wrong."""
    from .forms import CustomerFilterForm

    form = CustomerFilterForm(params, user=actor)
    if not form.is_valid():  # never widen an export to "everything" because one filter was wrong
        problems = "; ".join(f"{form.fields[name].label if name in form.fields else name}: {' '.join(errors)}"
                             for name, errors in form.errors.items())
        raise ValidationError(_("The filters are not valid: %(problems)s") % {"problems": problems})
    return form.cleaned_data


def customer_export_source(*, actor: Any, params: Any, plaintext: bool = False):
    """What a background export of the customer list writes: checked and scoped again for the person who asked."""
    from .selectors import customer_export_header, customer_export_rows

    _export_allowed(actor, plaintext=plaintext)
    filters = customer_export_filters(actor=actor, params=params)
    return (customer_export_header(), customer_export_rows(user=actor, filters=filters, plaintext=plaintext),
            str(Customer._meta.verbose_name_plural))


@transaction.atomic
def customer_close(*, customer: Customer, actor: Any, reason: str) -> Customer:
    """Close (注销) a customer: the row stays, marked closed, with the reason and time."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for closing.")})
    customer = scoping.access(actor, Customer.objects.select_for_update(), customer.pk)
    if customer.lifecycle_status == Customer.Lifecycle.CLOSED:
        raise ValidationError(_("This customer is already closed."))
    open_accounts = customer.accounts.exclude(status=Account.Status.CLOSED).count()
    if open_accounts:
        raise ValidationError(_("Close the customer's %(n)d open accounts in core banking first.") % {
            "n": open_accounts})
    customer.lifecycle_status = Customer.Lifecycle.CLOSED
    customer.closed_at = timezone.now()
    customer.closed_reason = reason[:200]
    customer.save(update_fields=["lifecycle_status", "closed_at", "closed_reason", "updated_at"])
    return customer


def tier_for(aum: Decimal) -> str:
    tier = Customer.Tier.MASS
    for threshold in TierThreshold.objects.order_by("min_aum"):
        if aum >= threshold.min_aum:
            tier = threshold.tier
    return tier


@transaction.atomic
def customer_recalculate(*, customer: Customer) -> Customer:
    """AUM from active holdings of asset products, and the tier it earns."""
    total = customer.accounts.filter(
        status=Account.Status.ACTIVE, product__category__in=Product.AUM_CATEGORIES
    ).aggregate(total=Sum("balance"))["total"] or Decimal("0")
    tier = tier_for(total)
    if (customer.aum, customer.tier) != (total, tier):
        customer.aum, customer.tier = total, tier
        customer.save(update_fields=["aum", "tier", "updated_at"])
    return customer


@transaction.atomic
def customer_tag_add(*, customer: Customer, tag: Tag, actor: Any) -> CustomerTag:
    """Put a manual tag on a customer (dynamic tags follow their segment and are not set by hand)."""
    if tag.is_dynamic:
        raise ValidationError(_("“%(tag)s” follows a segment and cannot be added by hand.") % {"tag": tag.name})
    scoping.access(actor, Customer.objects.all(), customer.pk)
    link, _created = CustomerTag.objects.get_or_create(customer=customer, tag=tag, defaults={"added_by": actor})
    return link


@transaction.atomic
def customer_tag_remove(*, customer: Customer, tag: Tag, actor: Any) -> None:
    if tag.is_dynamic:
        raise ValidationError(_("“%(tag)s” follows a segment and cannot be removed by hand.") % {"tag": tag.name})
    scoping.access(actor, Customer.objects.all(), customer.pk)
    CustomerTag.objects.filter(customer=customer, tag=tag).delete()


@transaction.atomic
def customer_share(*, customer: Customer, with_user: Any, actor: Any) -> Customer:
    """Let a covering member of staff see one customer they would not otherwise see."""
    if not actor.has_perm("customers.share_customer") or not scoping.can_see(actor, customer):
        raise PermissionDenied(_("You may not share this customer."))
    if not with_user.is_active:
        raise ValidationError({"with_user": _("A deactivated account cannot be given access.")})
    assign_perm("customers.view_customer", with_user, customer)
    audit_record(action=AuditEntry.Action.PERMISSION_CHANGE, actor=actor, obj=customer,
                 detail={"granted_to": with_user.username, "permission": "view_customer"})
    return customer


@transaction.atomic
def customer_unshare(*, customer: Customer, with_user: Any, actor: Any) -> Customer:
    """Withdraw a covering grant."""
    if not actor.has_perm("customers.share_customer") or not scoping.can_see(actor, customer):
        raise PermissionDenied(_("You may not change who sees this customer."))
    remove_perm("customers.view_customer", with_user, customer)
    audit_record(action=AuditEntry.Action.PERMISSION_CHANGE, actor=actor, obj=customer,
                 detail={"revoked_from": with_user.username, "permission": "view_customer"})
    return customer


@transaction.atomic
def relationship_add(*, customer: Customer, other: Customer, kind: str, actor: Any, note: str = "") -> Relationship:
    """Tie two customers (both must be visible to the actor)."""
    scoping.access(actor, Customer.objects.all(), customer.pk)
    scoping.access(actor, Customer.objects.all(), other.pk)
    if customer.pk == other.pk:
        raise ValidationError({"other": _("A customer cannot be related to itself.")})
    relationship, _created = Relationship.objects.get_or_create(
        from_customer=customer, to_customer=other, kind=kind, defaults={"note": note})
    return relationship


# Fields a merge decides between; personal data moves as a whole (sealed value, index, mask).
MERGE_FIELDS = (
    "name", "gender", "birth_date", "id_type", "id_number", "phone", "email", "address", "occupation", "employer",
    "income_band", "source_channel", "risk_tolerance", "risk_assessed_on", "risk_expires_on",
    "investment_preference", "kyc_status", "kyc_review_on", "last_verified_on",
)

# Child rows that later apps add: (model label, foreign key field). customer_merge re-points them all.
MERGE_CHILDREN: list[tuple[str, str]] = [
    ("customers.Account", "customer"),
    ("customers.Transaction", "customer"),
]


def _columns(field: str) -> list[str]:
    if field in pii.PII_FIELDS:
        columns = [f"{field}_enc", f"{field}_masked"]
        return columns + ([f"{field}_bidx"] if field in ("id_number", "phone") else [])
    return [field]


def _is_blank(customer: Customer, field: str) -> bool:
    value = getattr(customer, _columns(field)[0])
    return value in (None, "")


@transaction.atomic
def customer_merge(*, survivor: Customer, duplicate: Customer, actor: Any,
                   choices: dict[str, str] | None = None) -> Customer:
    """Merge `duplicate` into `survivor`: chosen values win, every child row moves, nothing is lost.

    Survivorship: per field, the survivor's value stays unless `choices[field] == "duplicate"` or the
    survivor's is blank. The duplicate is closed with `merged_into` set, so both records show the merge.
    """
    from django.apps import apps

    if not actor.has_perm("customers.merge_customer"):
        raise PermissionDenied(_("Your role may not merge customers."))
    if survivor.pk == duplicate.pk:
        raise ValidationError(_("A customer cannot be merged with itself."))
    # Lock both rows in a fixed order so two merges of the same pair cannot interleave.
    locked = {c.pk: c for c in scoping.visible(actor, Customer.objects.select_for_update())
              .filter(pk__in=sorted([survivor.pk, duplicate.pk])).order_by("pk")}
    if len(locked) != 2:
        raise Http404
    survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
    if Customer.Lifecycle.CLOSED in (survivor.lifecycle_status, duplicate.lifecycle_status):
        raise ValidationError(_("Closed customers cannot be merged."))
    choices = choices or {}
    unknown = set(choices) - set(MERGE_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    taken = []
    for field in MERGE_FIELDS:
        if choices.get(field) == "duplicate" or (_is_blank(survivor, field) and not _is_blank(duplicate, field)):
            for column in _columns(field):
                setattr(survivor, column, getattr(duplicate, column))
            taken.append(field)
    if "name" in taken:
        survivor.name_pinyin, survivor.name_initials = pii.name_keys(survivor.name)
    survivor.marketing_consent = survivor.marketing_consent and duplicate.marketing_consent
    survivor.do_not_contact = survivor.do_not_contact or duplicate.do_not_contact
    survivor.save()

    moved: dict[str, int] = {}
    for label, fk in MERGE_CHILDREN:
        model = apps.get_model(label)
        moved[label] = model.objects.filter(**{fk: duplicate}).update(**{fk: survivor})
    moved["customers.CustomerTag"] = _move_unique(CustomerTag, "customer", duplicate, survivor, ("tag_id",))
    # A tie between the two records would become a tie of the survivor with itself: it goes.
    Relationship.objects.filter(Q(from_customer=duplicate, to_customer=survivor)
                                | Q(from_customer=survivor, to_customer=duplicate)).delete()
    moved["customers.Relationship"] = (
        _move_unique(Relationship, "from_customer", duplicate, survivor, ("to_customer_id", "kind"))
        + _move_unique(Relationship, "to_customer", duplicate, survivor, ("from_customer_id", "kind"))
    )
    from .models import CustomerUserObjectPermission, SegmentMember

    moved["grants"] = _move_unique(CustomerUserObjectPermission, "content_object", duplicate, survivor,
                                   ("user_id", "permission_id"))
    SegmentMember.objects.filter(customer=duplicate).delete()  # membership is recomputed on refresh

    duplicate.lifecycle_status = Customer.Lifecycle.CLOSED
    duplicate.closed_at = timezone.now()
    duplicate.closed_reason = (_("Merged into %(no)s") % {"no": survivor.customer_no})[:200]
    duplicate.merged_into = survivor
    duplicate.save()
    customer_recalculate(customer=survivor)
    detail = {"survivor": survivor.customer_no, "duplicate": duplicate.customer_no, "taken_from_duplicate": taken,
              "moved": moved}
    audit_record(action=AuditEntry.Action.UPDATE, actor=actor, obj=survivor, fields=taken, detail={"merge": detail})
    audit_record(action=AuditEntry.Action.UPDATE, actor=actor, obj=duplicate, fields=["merged_into"],
                 detail={"merge": detail})
    return survivor


def _move_unique(model, fk: str, source: Customer, target: Customer, unique_with: tuple[str, ...]) -> int:
    """Re-point rows from source to target, dropping those the target already has (a unique clash)."""
    rows = model.objects.filter(**{fk: source})
    existing = set(model.objects.filter(**{fk: target}).values_list(*unique_with))
    clash = [row.pk for row in rows if tuple(getattr(row, name) for name in unique_with) in existing]
    model.objects.filter(pk__in=clash).delete()
    return model.objects.filter(**{fk: source}).update(**{fk: target})
