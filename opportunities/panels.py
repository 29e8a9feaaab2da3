"""The 360° panels (the customer's opportunities, recommendations) and the workbench widget "my pipeline"."""

from __future__ import annotations

from typing import Any

from customers.models import Customer

from . import selectors
from .recommendations import recommendations_for


def _lazy(request) -> bool:
    # On the full 360° page the panel arrives empty and loads itself over htmx, so the page's own
    # query count (pinned by customers' tests and bench) does not grow with ours.
    match = getattr(request, "resolver_match", None)
    return match is not None and match.view_name == "customers:customer-detail"


def opportunities_panel(request, customer: Customer) -> dict:
    """The customer's opportunities, open first."""
    if _lazy(request):
        return {"lazy": True}
    return {"lazy": False, "opportunities": selectors.customer_opportunities(user=request.user, customer=customer)}


def recommendations_panel(request, customer: Customer) -> dict:
    """Next products to offer, each with its reason; unsuitable products never appear."""
    if _lazy(request):
        return {"lazy": True}
    return {"lazy": False, "recommendations": recommendations_for(customer=customer)}


def pipeline_widget(data: Any) -> dict:
    """The workbench's "my pipeline". The workbench renders within 12 queries for everything on it, so
    the widget arrives empty and loads its figures (one query) over htmx."""
    return {"lazy": True}
