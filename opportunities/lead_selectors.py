"""Reads of leads, rules and referrals: every one starts from org.scoping."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from crm_site.pagination import keyset_page
from org import scoping
from org.models import Branch, User
from org.roles import Role

from .models_leads import AssignmentRule, Lead, LeadAssignment, ProductSpecialist, Referral

PAGE_SIZE = 50
LIST_ORDER = ("-id",)


def lead_queryset(*, user: Any) -> QuerySet[Lead]:
    return scoping.visible(user, Lead.objects.all())


def lead_list(*, user: Any, filters: dict[str, Any], cursor: str | None = None) -> tuple[list[Lead], str | None]:
    """One page of the leads the user may see, newest first, filtered by status / who / channel / interest."""
    qs = lead_queryset(user=user).select_related("branch", "assigned_to", "customer")
    status = filters.get("status") or ""
    if status == "open":
        qs = qs.filter(status__in=Lead.OPEN_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    who = filters.get("who") or ""
    if who == "me":
        qs = qs.filter(assigned_to=user.pk)
    elif who == "unassigned":
        qs = qs.filter(assigned_to__isnull=True)
    elif who == "overdue":
        qs = qs.filter(status=Lead.Status.ASSIGNED, first_contacted_at__isnull=True,
                       first_contact_due_at__lt=timezone.now())
    for field in ("channel", "product_interest"):
        if filters.get(field):
            qs = qs.filter(**{field: filters[field]})
    query = (filters.get("q") or "").strip()
    if query:
        qs = qs.filter(search_condition(query))
    return keyset_page(qs, fields=LIST_ORDER, cursor=cursor, size=PAGE_SIZE)


def search_condition(query: str) -> Q:
    """A phone or ID number matches exactly through its blind index; anything else is the start of a name."""
    from customers import pii

    phone, id_number = pii.search_index("phone", query), pii.search_index("id", query)
    if phone or id_number:
        return Q(phone_bidx=phone) if phone else Q(id_number_bidx=id_number)
    return Q(name__startswith=query)


def names_shown_in_full(*, user: Any, leads: list[Lead]) -> set[int]:
    """Lead names shown in full: to the assignee and the staff of the lead's branch (as for customers)."""
    return {lead.pk for lead in leads if lead.assigned_to_id == user.pk or lead.branch_id == user.branch_id}


def lead_detail(*, user: Any, lead_id: int) -> Lead:
    """One lead the user may see (404 otherwise)."""
    return scoping.access(user, Lead.objects.select_related(
        "branch", "assigned_to", "customer", "referral__referrer", "created_by", "opportunity"), lead_id)


def lead_history(*, lead: Lead) -> list[LeadAssignment]:
    return list(LeadAssignment.objects.filter(lead=lead).select_related("from_user", "to_user", "rule",
                                                                           "assigned_by"))


def assignable_staff(*, user: Any) -> QuerySet[User]:
    """Whom a branch manager may give a lead to: active staff of the branches they manage."""
    staff = User.objects.filter(is_active=True).exclude(branch__isnull=True)
    reach = scoping.reach_of(user)
    if not user.has_perm("opportunities.assign_lead"):
        return staff.none()
    if not reach.everything:
        if reach.branch is None:
            return staff.none()
        staff = staff.filter(branch__in=scoping.branch_subtree_ids(reach.branch))
    return staff.filter(groups__name=Role.RELATIONSHIP_MANAGER).order_by("full_name", "username").distinct()


def manageable_branches(*, user: Any) -> QuerySet[Branch]:
    """Branches whose rules and specialists the user may keep."""
    reach = scoping.reach_of(user)
    if reach.everything:
        return Branch.objects.filter(is_active=True)
    if reach.branch is None:
        return Branch.objects.none()
    return Branch.objects.filter(is_active=True, path__startswith=reach.branch.path)


def rule_list(*, user: Any) -> list[AssignmentRule]:
    """The assignment rules of the branches the user manages, in the order they are tried."""
    return list(AssignmentRule.objects.filter(branch__in=manageable_branches(user=user))
                .select_related("branch").prefetch_related("members").order_by("branch__path", "position", "pk"))


def access_rule(*, user: Any, rule_id: int) -> AssignmentRule:
    from django.http import Http404

    rule = AssignmentRule.objects.filter(pk=rule_id, branch__in=manageable_branches(user=user)).first()
    if rule is None:
        raise Http404
    return rule


def specialist_list(*, user: Any) -> list[ProductSpecialist]:
    return list(ProductSpecialist.objects.filter(user__branch__in=manageable_branches(user=user))
                .select_related("user__branch").order_by("area", "user__full_name"))


def specialists_for_referral(*, user: Any, branch: Branch) -> QuerySet[ProductSpecialist]:
    """Specialists a referral from `branch` may name: active ones in the same (parent) branch."""
    parent = branch.parent if branch.kind in (Branch.Kind.SUB_BRANCH, Branch.Kind.OUTLET) and branch.parent_id \
        else branch
    return (ProductSpecialist.objects.filter(user__is_active=True, user__branch__path__startswith=parent.path)
            .select_related("user").order_by("area", "user__full_name"))


def referral_list(*, user: Any) -> list[Referral]:
    """The referrals the user may see, newest first, with where each one got to."""
    return list(scoping.visible(user, Referral.objects.all())
                .select_related("customer", "referrer", "specialist", "lead__assigned_to", "lead__opportunity")
                .order_by("-created_at", "-pk")[:200])


def referral_report(*, user: Any, date_from=None, date_to=None) -> list[dict]:
    """Per referrer: referrals made, leads converted, opportunities won and their amount, conversion rate.

    One grouped query over the referrals the user may see; the credit follows referral → lead →
    opportunity → won."""
    qs = scoping.visible(user, Referral.objects.all())
    if date_from:
        qs = qs.filter(created_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(created_at__date__lte=date_to)
    rows = list(qs.values("referrer", "referrer__full_name", "referrer__username", "referrer__branch__name")
                .annotate(referrals=Count("pk"),
                          converted=Count("pk", filter=Q(lead__status=Lead.Status.CONVERTED)),
                          won=Count("pk", filter=Q(lead__opportunity__status="won")),
                          won_amount=Sum("lead__opportunity__amount", filter=Q(lead__opportunity__status="won")))
                .order_by("-won", "-converted", "-referrals", "referrer__full_name"))
    for row in rows:
        row["conversion"] = round(100 * row["won"] / row["referrals"], 1) if row["referrals"] else 0.0
    return rows


def customer_leads_panel(request, customer) -> dict:
    """The 360° panel: the customer's leads (with their referrals), or for staff who do not work leads the
    customer's referrals — one query either way."""
    # On the full 360° page the panel loads itself afterwards (htmx), so the page's pinned query count does
    # not grow with it; its own URL (customers:customer-panel) renders the rows.
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name == "customers:customer-detail":
        return {"lazy": True}
    user = request.user
    if user.has_perm("opportunities.view_lead"):
        leads = list(lead_queryset(user=user).filter(customer=customer)
                     .select_related("assigned_to", "referral__referrer").order_by("-id")[:10])
        return {"lazy": False, "leads": leads, "referrals": []}
    if not user.has_perm("opportunities.view_referral"):
        return {"lazy": False, "leads": [], "referrals": []}
    referrals = list(scoping.visible(user, Referral.objects.filter(customer=customer))
                     .select_related("referrer").order_by("-id")[:10])
    return {"lazy": False, "leads": [], "referrals": referrals}


def my_leads(*, user: Any, size: int = 8) -> dict:
    """The workbench's "my leads": the user's open leads, first contacts due first (one query)."""
    rows = list(Lead.objects.filter(assigned_to=user.pk, status__in=Lead.WORKING_STATUSES)
                .select_related("branch").order_by("first_contacted_at", "first_contact_due_at", "-id")[:50])
    now = timezone.now()
    return {"leads": rows[:size], "count": len(rows), "more": len(rows) > size,
            "overdue": sum(1 for lead in rows if lead.first_contacted_at is None and lead.first_contact_due_at
                           and lead.first_contact_due_at < now)}
