"""The panels of the customer 360° page, and the registry through which other apps add theirs.

A panel is a small, independent part of the page (Creme CRM's bricks): its own selector, its own
template, its own URL (`customers:customer-panel`) so htmx can load or refresh it alone. Other apps
register panels in their AppConfig.ready() — customers/ never imports them:

    from customers.panels import Panel, register_panel
    register_panel(Panel(key="timeline", title=_("Timeline"), template="interactions/panels/_timeline.html",
                         context=timeline_panel, order=60))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Panel:
    key: str
    title: Any
    template: str
    # context(request, customer) -> dict for the template; runs its own (few) queries.
    context: Callable[..., dict]
    order: int = 100
    permission: str | None = None
    # Wide panels take the full row; others share it.
    wide: bool = False


PANELS: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    PANELS[panel.key] = panel


def panels_for(user: Any) -> list[Panel]:
    return [panel for panel in sorted(PANELS.values(), key=lambda p: p.order)
            if panel.permission is None or user.has_perm(panel.permission)]


def register_customer_panels() -> None:
    """The customers app's own panels (called from CustomersConfig.ready)."""
    from . import selectors

    register_panel(Panel("accounts", _("Accounts and holdings"), "customers/panels/_accounts.html",
                         selectors.accounts_panel, order=10, wide=True))
    register_panel(Panel("transactions", _("Recent transactions"), "customers/panels/_transactions.html",
                         selectors.transactions_panel, order=20, wide=True))
    register_panel(Panel("relationships", _("Relationships and household"), "customers/panels/_relationships.html",
                         selectors.relationships_panel, order=30))
    register_panel(Panel("tags", _("Tags and segments"), "customers/panels/_tags.html",
                         selectors.tags_panel, order=40))
