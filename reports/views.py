from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm_site.jobs import JOBS, jobrun_enqueue
from org.audit import audit_record
from org.models import AuditEntry

from .models import JobRun
from .selectors import jobrun_list as select_jobruns


@require_GET
@login_required
@permission_required("reports.view_jobrun", raise_exception=True)
def jobrun_list(request):
    runs = select_jobruns(name=request.GET.get("name") or None)
    context = {"runs": runs, "jobs": sorted(JOBS.values(), key=lambda job: job.name),
               "selected": request.GET.get("name", "")}
    template = "reports/partials/jobrun_rows.html" if request.htmx else "reports/jobrun_list.html"
    return render(request, template, context)


@require_GET
@login_required
@permission_required("reports.view_jobrun", raise_exception=True)
def jobrun_detail(request, pk: int):
    run = get_object_or_404(JobRun.objects.select_related("created_by"), pk=pk)
    template = "reports/partials/jobrun_status.html" if request.htmx else "reports/jobrun_detail.html"
    return render(request, template, {"run": run})


@require_POST
@login_required
@permission_required("reports.run_job", raise_exception=True)
def jobrun_start(request):
    name = request.POST.get("name", "")
    if name not in JOBS:
        messages.error(request, _("There is no job called “%(name)s”.") % {"name": name})
        return redirect("reports:jobrun-list")
    with transaction.atomic():
        run = JobRun.objects.create(name=name, trigger=JobRun.Trigger.MANUAL, created_by=request.user)
        audit_record(action=AuditEntry.Action.JOB, request=request, obj=run, detail={"job": name})
    if not jobrun_enqueue(run=run):
        messages.error(request, _("The job could not be queued: the task queue is unavailable. Try again later."))
        return redirect(run)
    messages.success(request, _("The job “%(name)s” is queued.") % {"name": JOBS[name].label})
    return redirect(run)
