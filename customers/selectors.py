"""Reads of customers; every one starts from org.scoping so no view can forget it."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from crm_site.pagination import keyset_page
from org import scoping

from .models import Customer

PAGE_SIZE = 25


def customer_queryset(*, user: Any) -> QuerySet[Customer]:
    return scoping.visible(user, Customer.objects.all())


def customer_list(
    *, user: Any, filters: dict[str, Any], cursor: str | None = None
) -> tuple[list[Customer], str | None]:
    """One page of the customers the user may see, by name, with the cursor of the next page."""
    qs = customer_queryset(user=user).select_related("home_branch", "primary_rm")
    query = (filters.get("q") or "").strip()
    if query:
        if query.isdigit() or query.upper().startswith("C"):
            by_number = qs.filter(customer_no=query)
            qs = by_number if by_number.exists() else qs.filter(name__startswith=query)
        else:
            qs = qs.filter(name__startswith=query)
    if filters.get("lifecycle_status"):
        qs = qs.filter(lifecycle_status=filters["lifecycle_status"])
    return keyset_page(qs, fields=("name", "id"), cursor=cursor, size=PAGE_SIZE)


def customer_detail(*, user: Any, customer_id: int) -> Customer:
    """One customer the user may see (404 otherwise), with branch and RM."""
    return scoping.access(user, Customer.objects.select_related("home_branch", "primary_rm"), customer_id)
