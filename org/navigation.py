"""The navigation of the UI shell: what each signed-in person may use, and where each role lands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .roles import Role


@dataclass(frozen=True)
class NavItem:
    label: Any
    url_name: str
    icon: str
    permission: str | None = None
    staff_only: bool = False


# Later apps add their entries here in the order staff expect to find them.
NAV_ITEMS: list[NavItem] = [
    NavItem(_("Workbench"), "workbench:home", "speedometer2", permission="interactions.use_workbench"),
    NavItem(_("Customers"), "customers:customer-list", "people", permission="customers.view_customer"),
    NavItem(_("Tasks"), "interactions:task-list", "check2-square", permission="interactions.view_task"),
    NavItem(_("Leads"), "leads:lead-list", "person-plus", permission="opportunities.view_lead"),
    NavItem(_("Segments"), "segments:segment-list", "diagram-3", permission="customers.view_segment"),
    NavItem(_("Opportunities"), "opportunities:board-home", "kanban", permission="opportunities.view_opportunity"),
    NavItem(_("RFM"), "quality:rfm-report", "bar-chart", permission="customers.view_rfmscore"),
    NavItem(_("Data quality"), "quality:dashboard", "clipboard-check",
            permission="customers.view_dataqualityissue"),
    NavItem(_("Imports"), "imports:import-list", "upload", permission="reports.import_data"),
    NavItem(_("Audit trail"), "org:audit-list", "journal-text", permission="org.view_auditentry"),
    NavItem(_("Jobs"), "reports:jobrun-list", "gear", permission="reports.view_jobrun"),
    NavItem(_("Data dictionary"), "interactions:data-dictionary", "book", permission="customers.view_customer"),
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


# Roles whose work starts somewhere other than the first page of their navigation.
ROLE_HOME: list[tuple[str, str]] = [
    (Role.RELATIONSHIP_MANAGER, "workbench:home"),
    (Role.BRANCH_MANAGER, "workbench:home"),
    (Role.COMPLIANCE_AUDITOR, "org:audit-list"),
    (Role.OPERATIONS, "imports:import-list"),
    (Role.ADMINISTRATOR, "reports:jobrun-list"),
]


def home_url_for(user: Any) -> str:
    """Where the user lands after sign-in: their role's page, else the first page they may use."""
    role_names = set(user.groups.values_list("name", flat=True))
    for role, url_name in ROLE_HOME:
        if role in role_names:
            return reverse(url_name)
    for entry in nav_for(user):
        return entry["url"]
    return reverse("org:no-access")
