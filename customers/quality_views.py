"""Pages of scoring and data quality: the RFM report, and the data-quality work queue with its resolve action."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from .models import RfmRun
from .rfm import rfm_report


@require_GET
@login_required
@permission_required("customers.view_rfmscore", raise_exception=True)
def rfm_report_page(request: HttpRequest) -> HttpResponse:
    """The latest RFM run (or ?run=<id>) for the customers the viewer sees."""
    run = None
    if request.GET.get("run", "").isdigit():
        run = get_object_or_404(RfmRun, pk=int(request.GET["run"]))
    report = rfm_report(user=request.user, run=run)
    runs = RfmRun.objects.order_by("-as_of")[:30]
    return render(request, "customers/quality/rfm_report.html", {"report": report, "runs": runs})


@require_GET
@login_required
@permission_required("customers.view_dataqualityissue", raise_exception=True)
def issue_list(request: HttpRequest) -> HttpResponse:
    """The work queue: open data-quality issues on the customers the viewer sees, oldest first."""
    from .models import DataQualityIssue
    from .quality import issue_queue

    kind = request.GET.get("kind", "")
    page = Paginator(issue_queue(user=request.user, kind=kind), 50).get_page(request.GET.get("page"))
    return render(request, "customers/quality/issue_list.html",
                  {"page": page, "kind": kind, "kinds": DataQualityIssue.Kind.choices})


@require_POST
@login_required
@permission_required("customers.change_dataqualityissue", raise_exception=True)
def issue_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """Resolve one issue the viewer sees (404 otherwise), then go back where the button was."""
    from .quality import access_issue, dataqualityissue_resolve

    issue = access_issue(request.user, pk)
    dataqualityissue_resolve(issue=issue, actor=request.user, note=request.POST.get("note", ""))
    messages.success(request, _("The issue is marked resolved."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("quality:issue-list")
    return redirect(target)


@require_GET
@login_required
@permission_required("customers.view_dataqualityissue", raise_exception=True)
def quality_dashboard(request: HttpRequest) -> HttpResponse:
    """Completeness, error rate, stale share and open issues per branch or RM, against the bank's targets."""
    from .quality import quality_metrics, quality_targets

    group_by = "rm" if request.GET.get("by") == "rm" else "branch"
    rows = quality_metrics(user=request.user, group_by=group_by)
    targets = quality_targets()
    chart = {
        "type": "bar",
        "labels": [row.label for row in rows],
        "datasets": [
            {"label": str(gettext_lazy("Completeness %")), "data": [round(row.completeness * 100, 1) for row in rows]},
            {"label": str(gettext_lazy("Error rate %")), "data": [round(row.error_rate * 100, 1) for row in rows]},
            {"label": str(gettext_lazy("Stale %")), "data": [round(row.stale_share * 100, 1) for row in rows]},
        ],
        "options": {"scales": {"y": {"min": 0, "max": 100}}},
    }
    return render(request, "customers/quality/dashboard.html", {
        "rows": rows, "group_by": group_by, "chart": chart,
        "target_completeness": targets["completeness"], "target_error_rate": targets["error_rate"],
        **_history_charts(request.user, group_by, targets),
    })


def _history_charts(user, group_by: str, targets: dict) -> dict:
    """Line charts of the daily snapshots: the viewer's totals, and completeness per branch or RM."""
    from .quality import quality_history

    totals, groups = quality_history(user=user, group_by=group_by)
    days = [point.taken_on.isoformat() for point in totals]
    history = {
        "type": "line",
        "labels": days,
        "datasets": [
            {"label": str(gettext_lazy("Completeness %")), "data": [round(p.completeness * 100, 2) for p in totals]},
            {"label": str(gettext_lazy("Error rate %")), "data": [round(p.error_rate * 100, 2) for p in totals]},
            {"label": str(gettext_lazy("Stale %")), "data": [round(p.stale_share * 100, 2) for p in totals]},
            {"label": str(gettext_lazy("Completeness target %")), "data": [targets["completeness"] * 100] * len(days),
             "borderDash": [6, 4], "pointRadius": 0},
        ],
        "options": {"scales": {"y": {"min": 0, "max": 100}}},
    }
    series: dict[str, dict[str, float]] = {}
    for point in groups:
        series.setdefault(point.label, {})[point.taken_on.isoformat()] = round(point.completeness * 100, 2)
    per_group = {
        "type": "line",
        "labels": days,
        "datasets": [{"label": label, "data": [values.get(day) for day in days]} for label, values in series.items()],
        "options": {"scales": {"y": {"suggestedMin": 80, "max": 100}}},
    }
    return {"history": history, "history_groups": per_group, "history_days": len(days)}
