"""The operations staff's import pages: history, upload, live progress and preview, commit, revert, error report.

Thin: the forms parse, reports/imports.py acts (and audits), the selectors scope. A user without the import
permission gets 403 on every route before anything is read; a job they may not see is 404 like a missing one.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm_site.exports import csv_response
from crm_site.importing import get_resource
from org.audit import audit_record
from org.models import AuditEntry

from . import imports
from .import_forms import ImportCommitForm, ImportEncodingForm, ImportRevertForm, ImportUploadForm
from .imports import IMPORT_PERMISSION
from .models import ImportJob
from .selectors import import_job_access, import_job_page


def _form_errors(form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the fields it names (the rest on the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _say(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@require_GET
@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
def import_list(request):
    jobs, next_cursor = import_job_page(user=request.user, cursor=request.GET.get("after"))
    jobs = [_with_seconds(job) for job in jobs]
    context = {"jobs": jobs, "next_cursor": next_cursor, "is_first_page": not request.GET.get("after")}
    template = "reports/imports/partials/import_rows.html" if request.htmx else "reports/imports/import_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
def import_new(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None, kinds=imports.importable_kinds(request.user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = imports.import_start(actor=request.user, upload=data["upload"], kind=data["kind"],
                                       mode=data["mode"], encoding=data["encoding"])
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            return redirect(job)
    return render(request, "reports/imports/import_form.html",
                  {"form": form, "guide": _column_guide(imports.importable_kinds(request.user))})


def _column_guide(kinds: list[tuple[str, str]]) -> list[dict]:
    """What each kind's file may hold, from its resource: the key rows are matched on, required and known headers."""
    guide = []
    for kind, label in kinds:
        resource = get_resource(kind)
        guide.append({
            "kind": kind, "label": label, "key": resource.column_title(resource.natural_key),
            "updatable": resource.updatable,
            "columns": [{"title": resource.column_title(column.field), "aliases": column.aliases[1:],
                         "required": column.required, "required_to_create": column.required_to_create}
                        for column in resource.import_columns],
        })
    return guide


ENCODING_LABELS = {"utf-8": "UTF-8", "utf-8-sig": _lazy("UTF-8 with BOM"), "gb18030": "GB18030"}


def _with_seconds(job: ImportJob) -> ImportJob:
    duration = job.duration
    job.duration_seconds = duration.total_seconds() if duration is not None else None
    return job


def _detail_context(request, job: ImportJob, **extra) -> dict:
    revert_until = job.committed_at + settings.IMPORT_REVERT_WINDOW if job.committed_at else None
    return {
        "job": _with_seconds(job),
        "polling": job.is_running,
        "encoding_used": ENCODING_LABELS.get(job.encoding_used, job.encoding_used),
        "encoding_detected": ENCODING_LABELS.get(job.encoding_detected, job.encoding_detected),
        "valid_rows": job.count_new + job.count_changed + job.count_unchanged,
        "writable_rows": job.count_new + job.count_changed,
        "revert_until": revert_until,
        "revertible": (job.status == ImportJob.Status.COMMITTED and revert_until is not None
                       and timezone.now() <= revert_until),
        "encoding_form": ImportEncodingForm(initial={"encoding": "gb18030" if job.encoding_used.startswith("utf")
                                                     else "utf-8"}),
        "commit_form": ImportCommitForm(),
        "revert_form": ImportRevertForm(),
        **extra,
    }


@require_GET
@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
def import_detail(request, pk: int):
    job = import_job_access(user=request.user, pk=pk)
    template = "reports/imports/partials/import_status.html" if request.htmx else "reports/imports/import_detail.html"
    return render(request, template, _detail_context(request, job))


@require_POST
@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
def import_commit(request, pk: int):
    job = import_job_access(user=request.user, pk=pk)
    form = ImportCommitForm(request.POST)
    if not form.is_valid():
        return render(request, "reports/imports/import_detail.html",
                      _detail_context(request, job, commit_form=form), status=400)
    try:
        imports.import_commit(job=job, actor=request.user, accept_partial=form.cleaned_data["accept_partial"])
    except ValidationError as exc:
        _say(request, exc)
    return redirect(job)


@require_POST
@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
def import_revert(request, pk: int):
    job = import_job_access(user=request.user, pk=pk)
    form = ImportRevertForm(request.POST)
    if not form.is_valid():
        return render(request, "reports/imports/import_detail.html",
                      _detail_context(request, job, revert_form=form), status=400)
    try:
        imports.import_revert(job=job, actor=request.user)
    except ValidationError as exc:
        _say(request, exc)
    else:
        messages.success(request, _("Import #%(id)s is being reverted: the page shows when it is done.")
                         % {"id": job.pk})
    return redirect(job)


@require_POST
@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
def import_rerun(request, pk: int):
    """Validate the same stored file again, read with the encoding the operator chose (a new job)."""
    job = import_job_access(user=request.user, pk=pk)
    form = ImportEncodingForm(request.POST)
    if not form.is_valid():
        return render(request, "reports/imports/import_detail.html",
                      _detail_context(request, job, encoding_form=form), status=400)
    try:
        rerun = imports.import_rerun(job=job, actor=request.user, encoding=form.cleaned_data["encoding"])
    except ValidationError as exc:
        _say(request, exc)
        return redirect(job)
    return redirect(rerun)


@require_GET
@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
def import_errors(request, pk: int):
    """The full error report as CSV (UTF-8 with BOM); values are masked, the download is audited."""
    job = import_job_access(user=request.user, pk=pk)
    audit_record(action=AuditEntry.Action.EXPORT, request=request, obj=job,
                 detail={"report": "import_errors", "format": "csv"})
    header = [_("Row"), _("Column"), _("Value (masked)"), _("Message")]
    return csv_response(f"import-{job.pk}-errors.csv", header, imports.import_error_rows(job=job))
