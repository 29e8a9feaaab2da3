"""A person's background exports: the list of them, one export's live status, and the download.

Exports are personal: each page shows only the signed-in person's own, and another person's export is
404 like a missing one. Starting an export belongs to the list it exports (customers:customer-export).
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from crm_site.exports import CONTENT_TYPES

from . import exports
from .selectors import export_job_access, export_jobs_of


def _with_progress(job):
    job.rows_written = exports.rows_written(job)
    job.available_until = exports.available_until(job)
    job.seconds = (job.finished_at - job.started_at).total_seconds() if job.finished_at and job.started_at else None
    return job


@require_GET
@login_required
def export_list(request):
    jobs = [_with_progress(job) for job in export_jobs_of(user=request.user)]
    return render(request, "reports/exports/export_list.html",
                  {"jobs": jobs, "hours": settings.EXPORT_FILE_RETENTION_HOURS})


@require_GET
@login_required
def export_detail(request, pk: int):
    job = _with_progress(export_job_access(user=request.user, pk=pk))
    template = "reports/exports/partials/export_status.html" if request.htmx else "reports/exports/export_detail.html"
    return render(request, template, {"job": job, "polling": job.is_running})


@require_GET
@login_required
def export_download(request, pk: int):
    job = export_job_access(user=request.user, pk=pk)
    try:
        handle = exports.export_download(actor=request.user, job=job, request=request)
    except ValidationError:
        raise Http404 from None  # no file (any more): as if there were nothing at this address
    return FileResponse(handle, content_type=CONTENT_TYPES[job.file_format], as_attachment=True,
                        filename=job.filename)
