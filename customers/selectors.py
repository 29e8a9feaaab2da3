"""Reads of customers; every one starts from org.scoping so no view can forget it."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.db.models import Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone

from crm_site.masking import mask_name
from crm_site.pagination import keyset_page
from org import scoping
from org.models import Branch

from . import pii
from .models import Account, Customer, CustomerTag, Product, Relationship, SegmentMember, Tag, Transaction

PAGE_SIZE = 25
# Sort orders of the customer list; the last field makes the order total, as keyset paging needs.
SORTS = {"name": ("name", "id"), "aum": ("-aum", "-id"), "number": ("customer_no", "id")}
TRANSACTIONS_PAGE = 20
MATURING_DAYS = 30

_CUSTOMER_NO = re.compile(r"^[A-Za-z]?\d{6,}$")
_LATIN = re.compile(r"^[A-Za-z]+$")


def customer_queryset(*, user: Any) -> QuerySet[Customer]:
    return scoping.visible(user, Customer.objects.all())


def search_condition(query: str) -> Q | None:
    """What the header search box means by `query`, from the most exact reading to the loosest.

    - a customer number → that customer;
    - a valid phone or ID number → the blind index (exact, no decryption);
    - latin letters → pinyin ("zhangwei") or pinyin initials ("zw") prefix;
    - anything else → a name prefix, or a fragment anywhere in the name (pg_trgm for 3+ characters).
    """
    query = query.strip()
    if not query:
        return None
    conditions = Q(pk__in=[])
    if _CUSTOMER_NO.match(query):
        conditions |= Q(customer_no=query.upper())
    for kind, column in (("phone", "phone_bidx"), ("id", "id_number_bidx")):
        index = pii.search_index(kind, query)
        if index:
            conditions |= Q(**{column: index})
    if _LATIN.match(query):
        lowered = query.lower()
        conditions |= Q(name_pinyin__startswith=lowered) | Q(name_initials__startswith=lowered)
    elif not query.isdigit():
        # Chinese names are 2–3 characters: a 2-character fragment yields no trigram, so prefix and
        # suffix matches carry it; 3+ characters go through the GIN trigram index.
        conditions |= Q(name__startswith=query)
        conditions |= Q(name__contains=query) if len(query) >= 3 else Q(name__endswith=query)
    return conditions


def customer_filtered(*, user: Any, filters: dict[str, Any]) -> QuerySet[Customer]:
    """The customers the user may see that match the list's filters (closed ones only when asked)."""
    qs = customer_queryset(user=user)
    condition = search_condition(filters.get("q") or "")
    if condition is not None:
        qs = qs.filter(condition)
    if filters.get("branch"):
        qs = qs.filter(home_branch__in=Branch.objects.filter(path__startswith=filters["branch"].path))
    if filters.get("rm"):
        qs = qs.filter(primary_rm=filters["rm"])
    for field in ("tier", "lifecycle_status", "risk_tolerance", "kyc_status"):
        if filters.get(field):
            qs = qs.filter(**{field: filters[field]})
    if filters.get("tag"):
        qs = qs.filter(pk__in=CustomerTag.objects.filter(tag=filters["tag"]).values("customer_id"))
    if filters.get("segment"):
        qs = qs.filter(pk__in=SegmentMember.objects.filter(segment=filters["segment"]).values("customer_id"))
    if filters.get("kyc_expiring"):
        qs = qs.filter(kyc_review_on__lte=timezone.localdate() + dt.timedelta(days=30))
    if not filters.get("lifecycle_status"):
        qs = qs.exclude(lifecycle_status=Customer.Lifecycle.CLOSED)
    return qs


def customer_list(
    *, user: Any, filters: dict[str, Any], cursor: str | None = None
) -> tuple[list[Customer], str | None]:
    """One page of the customers the user may see, by name, with the cursor of the next page."""
    qs = customer_filtered(user=user, filters=filters).select_related("home_branch", "primary_rm")
    order = SORTS.get(filters.get("sort") or "name", SORTS["name"])
    if search_condition(filters.get("q") or "") is not None:
        # A search matches few rows scattered over the sort index: walking that index until 26
        # matches turn up read 220,000 rows for "zw" at 1M customers. Sorting on an equal expression
        # that no index provides makes PostgreSQL fetch the matches from the search indexes and
        # sort just those.
        first = order[0].lstrip("-")
        value = Concat(first, Value("")) if first != "aum" else F("aum") + 0
        qs = qs.annotate(search_sort=ExpressionWrapper(value, output_field=Customer._meta.get_field(first)))
        order = (("-" if order[0].startswith("-") else "") + "search_sort", *order[1:])
    return keyset_page(qs, fields=order, cursor=cursor, size=PAGE_SIZE)


def names_shown_in_full(*, user: Any, customers: list[Customer]) -> set[int]:
    """Ids whose name a list shows in full: the owner's team (the RM, and staff of the customer's
    home branch). Everyone else — head office, other branches, covering RMs — sees surname + stars."""
    return {c.pk for c in customers if c.primary_rm_id == user.pk or c.home_branch_id == user.branch_id}


def customer_detail(*, user: Any, customer_id: int) -> Customer:
    """One customer the user may see (404 otherwise), with branch, RM and the merge survivor."""
    return scoping.access(
        user, Customer.objects.select_related("home_branch", "primary_rm", "merged_into"), customer_id
    )


def accounts_panel(request, customer: Customer) -> dict:
    """Accounts and holdings, AUM by category and what matures within 30 days."""
    accounts = list(customer.accounts.select_related("product").order_by("status", "-balance", "id"))
    today = timezone.localdate()
    by_category: dict[str, Decimal] = {}
    for account in accounts:
        if account.status == Account.Status.ACTIVE and account.product.category in Product.AUM_CATEGORIES:
            label = account.product.get_category_display()
            by_category[label] = by_category.get(label, Decimal("0")) + account.balance
    maturing = [a for a in accounts if a.status == Account.Status.ACTIVE and a.matures_on
                and today <= a.matures_on <= today + dt.timedelta(days=MATURING_DAYS)]
    return {"accounts": accounts, "aum_by_category": sorted(by_category.items()), "maturing": maturing,
            "maturing_days": MATURING_DAYS}


def transactions_panel(request, customer: Customer) -> dict:
    """The customer's latest transactions, newest first, filtered by direction, channel and dates."""
    qs = Transaction.objects.filter(customer=customer).select_related("account")
    params = request.GET
    direction, channel = params.get("direction", ""), params.get("channel", "")
    if direction in Transaction.Direction.values:
        qs = qs.filter(direction=direction)
    if channel in Transaction.Channel.values:
        qs = qs.filter(channel=channel)
    since = _date(params.get("since"))
    if since:
        qs = qs.filter(occurred_at__date__gte=since)
    # Keyset on (time, id): rows posted at the same instant (month-end interest) are never skipped.
    rows, next_before = keyset_page(qs, fields=("-occurred_at", "-id"), cursor=params.get("before"),
                                    size=TRANSACTIONS_PAGE)
    return {"transactions": rows, "next_before": next_before, "direction": direction, "channel": channel,
            "since": since, "directions": Transaction.Direction.choices, "channels": Transaction.Channel.choices}


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def relationships_panel(request, customer: Customer) -> dict:
    """Ties in both directions; the household's combined AUM; links only to customers the user sees."""
    outgoing = list(Relationship.objects.filter(from_customer=customer).select_related("to_customer"))
    incoming = list(Relationship.objects.filter(to_customer=customer).select_related("from_customer"))
    rows = [{"other": r.to_customer, "label": r.get_kind_display(), "kind": r.kind, "note": r.note}
            for r in outgoing]
    rows += [{"other": r.from_customer, "label": Relationship.INVERSE[r.kind], "kind": r.kind, "note": r.note}
             for r in incoming]
    others = {row["other"].pk for row in rows}
    visible = set(customer_queryset(user=request.user).filter(pk__in=others).values_list("pk", flat=True)) \
        if others else set()
    household = {customer.pk: customer.aum}
    for row in rows:
        row["visible"] = row["other"].pk in visible
        # Only members the viewer may see count, or the sum would disclose an unseen member's assets.
        if row["kind"] in Relationship.HOUSEHOLD and row["visible"]:
            household[row["other"].pk] = row["other"].aum
    return {"relationships": rows, "household_aum": sum(household.values(), Decimal("0")),
            "household_size": len(household), "kinds": Relationship.Kind.choices}


def tags_panel(request, customer: Customer) -> dict:
    """The customer's tags, the manual tags that could be added, and the segments it is in."""
    every = list(Tag.objects.annotate(
        present=Exists(CustomerTag.objects.filter(customer=customer, tag=OuterRef("pk")))).order_by("name"))
    tags = [tag for tag in every if tag.present]
    addable = [tag for tag in every if not tag.present and tag.segment_id is None]
    segments = list(SegmentMember.objects.filter(customer=customer).select_related("segment")
                    .order_by("segment__name"))
    return {"tags": tags, "addable_tags": addable, "memberships": segments}


EXPORT_COLUMNS = ("customer_no", "name", "kind", "tier", "lifecycle_status", "risk_tolerance", "kyc_status",
                  "home_branch__code", "primary_rm__username", "id_number_masked", "phone_masked", "email_masked",
                  "address_masked", "aum")
# The sealed column read instead of the masked one when the exporter may reveal personal data.
EXPORT_PLAIN = {f"{field}_masked": f"{field}_enc" for field in pii.PII_FIELDS}


def customer_export_header() -> list[str]:
    """The export's column titles, in the user's language."""
    return [str(Customer._meta.get_field(name.split("__")[0]).verbose_name) for name in EXPORT_COLUMNS]


def customer_export_rows(*, user: Any, filters: dict[str, Any], plaintext: bool = False):
    """Every customer the list shows with these filters, streamed in chunks through a server-side cursor.

    Personal data is the stored masked form; with `plaintext` (the caller has checked the reveal
    permission and audited it) the sealed values are opened chunk by chunk as the rows stream. Names
    are shown in full to the owner's team only, as on the list page; company names always.
    Ordered by customer number, the natural key, which the unique index serves without a sort.
    """
    from crm_site import crypto
    from crm_site.exports import queryset_rows

    qs = customer_filtered(user=user, filters=filters).order_by("customer_no")
    columns = [EXPORT_PLAIN[name] if plaintext and name in EXPORT_PLAIN else name for name in EXPORT_COLUMNS]
    labels = [dict(Customer.Kind.choices), dict(Customer.Tier.choices), dict(Customer.Lifecycle.choices),
              dict(Customer.RiskTolerance.choices), dict(Customer.KycStatus.choices)]
    labels = [{key: str(label) for key, label in choices.items()} for choices in labels]
    corporate, user_id, branch_id = Customer.Kind.CORPORATE, user.pk, user.branch_id
    decrypt = crypto.decrypt
    for row in queryset_rows(qs, ("primary_rm_id", "home_branch_id", *columns)):
        rm_id, home_id, number, name, kind, tier, lifecycle, risk, kyc, branch, rm, *personal, aum = row
        if not (rm_id == user_id or home_id == branch_id or kind == corporate):
            name = mask_name(name)
        if plaintext:
            personal = [decrypt(value) for value in personal]
        yield (number, name, labels[0].get(kind, kind), labels[1].get(tier, tier), labels[2].get(lifecycle, lifecycle),
               labels[3].get(risk, risk), labels[4].get(kyc, kyc), branch, rm, *personal, aum)
