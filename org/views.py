from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from .forms import AuditFilterForm
from .navigation import home_url_for
from .selectors import audit_entries


@login_required
def home(request):
    """Each role lands on its own page after sign-in."""
    return redirect(home_url_for(request.user))


@require_GET
@login_required
@permission_required("org.view_auditentry", raise_exception=True)
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    before = request.GET.get("before")
    before = int(before) if before and before.isdigit() else None
    entries, next_before = audit_entries(filters=filters, before=before)
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "form": form,
        "entries": entries,
        "next_before": next_before,
        "query": query.urlencode(),
        "is_first_page": before is None,
    }
    template = "org/partials/audit_rows.html" if request.htmx else "org/audit_list.html"
    return render(request, template, context)


@login_required
def no_access(request):
    """A signed-in member of staff with no role yet: nothing to show but who to ask."""
    return render(request, "org/no_access.html", status=403)
