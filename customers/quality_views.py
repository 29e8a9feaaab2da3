"""Pages of scoring and data quality: the RFM report (label distribution per branch, label moves)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

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
