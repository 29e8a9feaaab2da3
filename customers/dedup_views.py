"""The duplicate review queue: pairs by score, a pair side by side (masked), merge or "not duplicates"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm_site.pagination import keyset_page

from . import pii
from .dedup import access_candidate, candidate_queue, duplicatecandidate_dismiss, duplicatecandidate_merge
from .models import Customer, DuplicateCandidate
from .services import MERGE_FIELDS

PAGE_SIZE = 50
# What the pair page shows beside the fields a merge decides between (read-only facts).
FACT_FIELDS = ("customer_no", "kind", "home_branch", "primary_rm", "lifecycle_status", "aum", "created_at")


def _display(customer: Customer, field: str) -> str:
    if field in pii.PII_FIELDS:
        return getattr(customer, f"{field}_masked")
    value = getattr(customer, field)
    display = getattr(customer, f"get_{field}_display", None)
    if display is not None and value:
        return str(display())
    if value in (None, ""):
        return ""
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)


def _label(field: str) -> str:
    column = f"{field}_masked" if field in pii.PII_FIELDS else field
    return str(Customer._meta.get_field(column).verbose_name)


def _blank(customer: Customer, field: str) -> bool:
    column = f"{field}_enc" if field in pii.PII_FIELDS else field
    return getattr(customer, column) in (None, "")


def _same(low: Customer, high: Customer, field: str) -> bool:
    if field in ("id_number", "phone"):
        return getattr(low, f"{field}_bidx") == getattr(high, f"{field}_bidx")
    if field in pii.PII_FIELDS:  # sealed with a fresh nonce each time: equal only when both are empty
        return _blank(low, field) and _blank(high, field)
    return getattr(low, field) == getattr(high, field)


def _rows(candidate: DuplicateCandidate) -> tuple[list[dict], list[dict]]:
    """Facts (read-only) and the merge fields, each with both values; `choose` where both differ and are set."""
    low, high = candidate.low, candidate.high
    facts = [{"label": _label(f), "low": _display(low, f), "high": _display(high, f)} for f in FACT_FIELDS]
    fields = []
    for field in MERGE_FIELDS:
        same = _same(low, high, field)
        fields.append({"field": field, "label": _label(field), "low": _display(low, field),
                       "high": _display(high, field), "same": same,
                       "choose": not same and not _blank(low, field) and not _blank(high, field)})
    return facts, fields


@require_GET
@login_required
@permission_required("customers.view_duplicatecandidate", raise_exception=True)
def duplicate_list(request: HttpRequest) -> HttpResponse:
    """Open pairs whose two customers the viewer sees, best evidence first (keyset pages)."""
    rows, after = keyset_page(candidate_queue(user=request.user), fields=("-score", "id"),
                              cursor=request.GET.get("after"), size=PAGE_SIZE)
    template = ("customers/quality/partials/duplicate_rows.html" if request.htmx
                else "customers/quality/duplicate_list.html")
    return render(request, template, {"rows": rows, "after": after, "reasons": DuplicateCandidate.Reason})


@require_GET
@login_required
@permission_required("customers.view_duplicatecandidate", raise_exception=True)
def duplicate_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Both records side by side (masked), the reasons, and the survivorship form."""
    candidate = access_candidate(request.user, pk)
    return _detail(request, candidate)


def _detail(request: HttpRequest, candidate: DuplicateCandidate, *, errors: list[str] | None = None,
            status: int = 200) -> HttpResponse:
    facts, fields = _rows(candidate)
    reasons = [DuplicateCandidate.Reason(code).label for code in candidate.reasons
               if code in DuplicateCandidate.Reason.values]
    survivor = request.POST.get("survivor", "low")
    return render(request, "customers/quality/duplicate_detail.html", {
        "candidate": candidate, "facts": facts, "fields": fields, "reasons": reasons, "errors": errors or [],
        "survivor": survivor if survivor in ("low", "high") else "low",
        "can_merge": request.user.has_perm("customers.merge_customer")
        and request.user.has_perm("customers.change_duplicatecandidate"),
    }, status=status)


@require_POST
@login_required
@permission_required("customers.change_duplicatecandidate", raise_exception=True)
def duplicate_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge the pair: the chosen record survives, and per conflicting field the chosen value is kept."""
    if not request.user.has_perm("customers.merge_customer"):
        raise PermissionDenied
    candidate = access_candidate(request.user, pk)
    side = request.POST.get("survivor")
    if side not in ("low", "high"):
        return _detail(request, candidate, errors=[_("Choose which of the two records survives.")], status=400)
    survivor_id = candidate.low_id if side == "low" else candidate.high_id
    other = "high" if side == "low" else "low"
    choices = {field: "duplicate" for field in MERGE_FIELDS if request.POST.get(f"keep_{field}") == other}
    try:
        survivor = duplicatecandidate_merge(candidate=candidate, actor=request.user, survivor_id=survivor_id,
                                            choices=choices)
    except ValidationError as exc:
        return _detail(request, candidate, errors=exc.messages, status=400)
    messages.success(request, _("The records were merged into %(no)s.") % {"no": survivor.customer_no})
    return redirect("quality:duplicate-list")


@require_POST
@login_required
@permission_required("customers.change_duplicatecandidate", raise_exception=True)
def duplicate_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark the pair "not duplicates" (remembered); htmx replaces the queue row with a note."""
    candidate = access_candidate(request.user, pk)
    try:
        candidate = duplicatecandidate_dismiss(candidate=candidate, actor=request.user)
    except ValidationError as exc:
        if request.htmx:
            return HttpResponse(" ".join(exc.messages), status=400)
        messages.error(request, " ".join(exc.messages))
        return redirect(candidate)
    if request.htmx:
        return render(request, "customers/quality/partials/duplicate_dismissed.html", {"candidate": candidate})
    messages.success(request, _("The pair is marked “not duplicates” and will not be proposed again."))
    return redirect("quality:duplicate-list")
