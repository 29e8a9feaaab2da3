"""The navigation of the UI shell: what each signed-in person may use, and where each role lands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    label: Any
    url_name: str
    icon: str
    permission: str | None = None
    staff_only: bool = False


# Later apps add their entries here in the order staff expect to find them.
NAV_ITEMS: list[NavItem] = [
    NavItem(_("Customers"), "customers:customer-list", "people", permission="customers.view_customer"),
    NavItem(_("Audit trail"), "org:audit-list", "journal-text", permission="org.view_auditentry"),
    NavItem(_("Jobs"), "reports:jobrun-list", "gear", permission="reports.view_jobrun"),
    NavItem(_("Administration"), "admin:index", "tools", staff_only=True),
]


def nav_for(user: Any) -> list[dict]:
    items = []
    for item in NAV_ITEMS:
        if item.staff_only and not user.is_staff:
            continue
        if item.permission and not user.has_perm(item.permission):
            continue
        items.append({"label": item.label, "url": reverse(item.url_name), "icon": item.icon,
                      "url_name": item.url_name})
    return items


def home_url_for(user: Any) -> str:
    """The first page the user may use, in NAV_ITEMS order (auditors: the audit trail, admins: jobs)."""
    for entry in nav_for(user):
        return entry["url"]
    return reverse("org:no-access")
