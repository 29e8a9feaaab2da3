"""The RFM panel of the customer 360° page, and RFM scores' place in org.scoping.

Imported once from CustomersConfig.ready(); registering here keeps customers/panels.py free of
the scoring feature.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from org import scoping

from .models import Customer, RfmScore
from .panels import Panel, register_panel

HISTORY_RUNS = 12


def _alone(request: Any) -> bool:
    """True when the panel is requested alone (its own URL), False inside the full 360° page."""
    match = getattr(request, "resolver_match", None)
    return match is not None and match.view_name == "customers:customer-panel"


def rfm_panel(request: Any, customer: Customer) -> dict:
    """The customer's latest RFM scores and label, and the scores of the last runs for the chart (one query).

    On the full 360° page the panel is a placeholder that htmx fills from the panel's own URL, so
    the page keeps its pinned query count and the history query runs only for the panel request.
    """
    if not _alone(request):
        return {"lazy": True}
    history = list(RfmScore.objects.filter(customer=customer).select_related("run")
                   .order_by("-run__as_of")[:HISTORY_RUNS])
    history.reverse()
    chart = {
        "type": "line",
        "labels": [f"{score.run.as_of:%Y-%m-%d}" for score in history],
        "datasets": [
            {"label": str(_("Recency score")), "data": [score.r_score for score in history]},
            {"label": str(_("Frequency score")), "data": [score.f_score for score in history]},
            {"label": str(_("Monetary score")), "data": [score.m_score for score in history]},
        ],
        "options": {"scales": {"y": {"min": 1, "max": 5, "ticks": {"stepSize": 1}}}},
    }
    return {"current": history[-1] if history else None, "history": history, "chart": chart,
            "chart_id": f"rfm-chart-{customer.pk}"}


scoping.register(RfmScore, through="customer")
register_panel(Panel("rfm", _("RFM score"), "customers/panels/_rfm.html", rfm_panel, order=50,
                     permission="customers.view_rfmscore"))


def quality_panel(request: Any, customer: Customer) -> dict:
    """The customer's open data-quality issues (one query, when the panel loads alone)."""
    from .models import DataQualityIssue

    if not _alone(request):
        return {"lazy": True}
    issues = list(DataQualityIssue.objects.filter(customer=customer, status=DataQualityIssue.Status.OPEN)
                  .order_by("found_on", "id"))
    return {"issues": issues}


def _register_quality() -> None:
    from .models import DataQualityIssue

    scoping.register(DataQualityIssue, through="customer")
    register_panel(Panel("quality", _("Data quality"), "customers/panels/_quality.html", quality_panel, order=55,
                         permission="customers.view_dataqualityissue"))


_register_quality()
