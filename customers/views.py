from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm_site.exports import FORMATS, csv_response

from . import pii, services
from .forms import CloseCustomerForm, CustomerFilterForm, CustomerForm, MergeForm, RelationshipForm
from .models import Customer, Tag
from .panels import PANELS, panels_for
from .selectors import customer_detail as select_customer
from .selectors import customer_list as select_customers
from .selectors import customer_queryset, names_shown_in_full


def _form_errors(form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form fields it names (the rest on the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@require_GET
@login_required
@permission_required("customers.view_customer", raise_exception=True)
def customer_list(request):
    form = CustomerFilterForm(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    customers, next_cursor = select_customers(user=request.user, filters=filters, cursor=request.GET.get("after"))
    query = request.GET.copy()
    query.pop("after", None)
    context = {"form": form, "customers": customers, "next_cursor": next_cursor, "query": query.urlencode(),
               "full_name_ids": names_shown_in_full(user=request.user, customers=customers)}
    template = "customers/partials/customer_rows.html" if request.htmx else "customers/customer_list.html"
    return render(request, template, context)


def _panel_context(request, customer, panel):
    return {"customer": customer, "panel": panel, **panel.context(request, customer)}


@require_GET
@login_required
@permission_required("customers.view_customer", raise_exception=True)
def customer_detail(request, pk: int):
    customer = select_customer(user=request.user, customer_id=pk)
    panels = [(panel, render_to_string(panel.template, _panel_context(request, customer, panel), request=request))
              for panel in panels_for(request.user)]
    merged_from = list(customer_queryset(user=request.user).filter(merged_into=customer).only("pk", "customer_no"))
    return render(request, "customers/customer_detail.html",
                  {"customer": customer, "panels": panels, "merged_from": merged_from})


@require_GET
@login_required
@permission_required("customers.view_customer", raise_exception=True)
def customer_panel(request, pk: int, key: str):
    """One panel alone, for htmx to load or refresh it."""
    panel = PANELS.get(key)
    if panel is None or (panel.permission and not request.user.has_perm(panel.permission)):
        raise Http404
    customer = select_customer(user=request.user, customer_id=pk)
    context = _panel_context(request, customer, panel)
    if request.GET.get("rows") and key == "transactions":
        return render(request, "customers/panels/_transaction_rows.html", context)
    return render(request, panel.template, context)


@require_POST
@login_required
@permission_required("customers.view_customer", raise_exception=True)
def customer_reveal(request, pk: int, field: str):
    if field not in pii.PII_FIELDS:
        raise Http404
    customer = select_customer(user=request.user, customer_id=pk)
    try:
        value = services.customer_reveal(customer=customer, field=field, actor=request.user, request=request)
    except PermissionDenied:
        return render(request, "customers/partials/revealed.html",
                      {"denied": True, "customer": customer, "field": field}, status=403)
    return render(request, "customers/partials/revealed.html", {"value": value, "customer": customer, "field": field})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("customers.add_customer", raise_exception=True)
def customer_create(request):
    form = CustomerForm(request.POST or None, user=request.user)
    duplicates = []
    if request.method == "POST" and form.is_valid():
        personal = form.personal_values()
        duplicates = list(customer_queryset(user=request.user).filter(
            pk__in=services.duplicates_of(id_number=personal["id_number"], phone=personal["phone"],
                                          id_type=form.cleaned_data["id_type"]).values("pk")))
        hidden = services.duplicates_of(id_number=personal["id_number"], phone=personal["phone"],
                                        id_type=form.cleaned_data["id_type"]).count() - len(duplicates)
        if (duplicates or hidden) and not form.cleaned_data["confirm_duplicate"]:
            form.add_error(None, _("A customer with the same ID number or phone is already on file. Check the list "
                                   "below; if this is a different person, tick the confirmation and save again."))
            if hidden:
                form.add_error(None, _("%(n)d of them belong to another branch: ask that branch before creating "
                                       "a second record.") % {"n": hidden})
        else:
            data = {name: form.cleaned_data[name] for name in CustomerForm.Meta.fields}
            try:
                customer = services.customer_create(actor=request.user, data=data, personal=personal)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("Customer %(no)s created.") % {"no": customer.customer_no})
                return redirect(customer)
    return render(request, "customers/customer_form.html", {"form": form, "duplicates": duplicates})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("customers.change_customer", raise_exception=True)
def customer_edit(request, pk: int):
    customer = select_customer(user=request.user, customer_id=pk)
    if customer.lifecycle_status == Customer.Lifecycle.CLOSED:
        messages.error(request, _("A closed customer cannot be changed."))
        return redirect(customer)
    form = CustomerForm(request.POST or None, instance=customer, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in CustomerForm.Meta.fields if name != "customer_no"}
        try:
            services.customer_update(customer=customer, actor=request.user, data=data,
                                     personal=form.personal_values())
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect(customer)
    return render(request, "customers/customer_form.html", {"form": form, "customer": customer})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("customers.change_customer", raise_exception=True)
def customer_close(request, pk: int):
    customer = select_customer(user=request.user, customer_id=pk)
    form = CloseCustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.customer_close(customer=customer, actor=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Customer %(no)s is closed.") % {"no": customer.customer_no})
            return redirect(customer)
    return render(request, "customers/customer_close.html", {"form": form, "customer": customer})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("customers.merge_customer", raise_exception=True)
def customer_merge(request, pk: int):
    survivor = select_customer(user=request.user, customer_id=pk)
    form = MergeForm(request.POST or request.GET or None)
    duplicate = None
    if form.is_valid():
        duplicate = customer_queryset(user=request.user).filter(
            customer_no=form.cleaned_data["duplicate"].strip().upper()).first()
        if duplicate is None:
            form.add_error("duplicate", _("No customer with this number that you may see."))
    if request.method == "POST" and duplicate is not None and "confirm" in request.POST:
        choices = {field: "duplicate" for field in services.MERGE_FIELDS
                   if request.POST.get(f"take_{field}") == "duplicate"}
        try:
            services.customer_merge(survivor=survivor, duplicate=duplicate, actor=request.user, choices=choices)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("%(dup)s was merged into %(no)s.") % {
                "dup": duplicate.customer_no, "no": survivor.customer_no})
            return redirect(survivor)
    rows = []
    if duplicate is not None:
        for field in services.MERGE_FIELDS:
            column = f"{field}_masked" if field in pii.PII_FIELDS else field
            label = Customer._meta.get_field(column).verbose_name
            rows.append({"field": field, "label": label,
                         "survivor": _shown(survivor, column), "duplicate": _shown(duplicate, column)})
    return render(request, "customers/customer_merge.html",
                  {"form": form, "customer": survivor, "duplicate": duplicate, "rows": rows})


def _shown(customer, column):
    if column == "name":
        return customer.name
    display = getattr(customer, f"get_{column}_display", None)
    return display() if display else getattr(customer, column)


@require_POST
@login_required
@permission_required("customers.add_customertag", raise_exception=True)
def customer_tag_add(request, pk: int):
    customer = select_customer(user=request.user, customer_id=pk)
    tag = get_object_or_404(Tag, pk=request.POST.get("tag") or 0)
    try:
        services.customer_tag_add(customer=customer, tag=tag, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _tags_response(request, customer)


@require_POST
@login_required
@permission_required("customers.delete_customertag", raise_exception=True)
def customer_tag_remove(request, pk: int, tag_id: int):
    customer = select_customer(user=request.user, customer_id=pk)
    tag = get_object_or_404(Tag, pk=tag_id)
    try:
        services.customer_tag_remove(customer=customer, tag=tag, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _tags_response(request, customer)


def _tags_response(request, customer):
    if request.htmx:
        panel = PANELS["tags"]
        return render(request, panel.template, _panel_context(request, customer, panel))
    return redirect(customer)


@require_POST
@login_required
@permission_required("customers.change_customer", raise_exception=True)
def customer_relationship_add(request, pk: int):
    customer = select_customer(user=request.user, customer_id=pk)
    form = RelationshipForm(request.POST)
    if form.is_valid():
        other = customer_queryset(user=request.user).filter(
            customer_no=form.cleaned_data["other"].strip().upper()).first()
        if other is None:
            messages.error(request, _("No customer with this number that you may see."))
        else:
            try:
                services.relationship_add(customer=customer, other=other, kind=form.cleaned_data["kind"],
                                          actor=request.user)
            except (ValidationError, Http404) as exc:
                messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    return redirect(customer)


def _export_refused(request, message: str):
    """400 as a page of the site (the export was asked for from a link or button, not by a program): the reason,
    nothing exported, and the way back to the list as it was filtered."""
    query = request.GET.copy()
    for name in ("format", "pii"):
        query.pop(name, None)
    return render(request, "customers/export_refused.html",
                  {"message": message, "query": query.urlencode()}, status=400)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("customers.export_customer", raise_exception=True)
def customer_export(request):
    """The list with its filters (the query string) as CSV (`GET ?format=csv`, streamed) or an XLSX workbook
    (`POST format=xlsx`, written by a worker: the answer is the export's page). Scoped, masked unless
    `pii=plain`, audited."""
    data = request.POST if request.method == "POST" else request.GET
    fmt = data.get("format") or "csv"
    if fmt not in FORMATS:
        return _export_refused(request, _("Unknown export format: choose CSV or XLSX."))
    if (fmt == "xlsx") != (request.method == "POST"):
        # A workbook is a job with a page of its own (a link must not start one); CSV streams at once.
        return HttpResponseNotAllowed(["POST"] if fmt == "xlsx" else ["GET"],
                                      _("XLSX exports are asked for with the Export menu's button (POST); "
                                        "CSV downloads with a link (GET)."))
    plaintext = data.get("pii") == "plain"
    try:
        filters = services.customer_export_filters(actor=request.user, params=request.GET)
    except ValidationError as exc:
        return _export_refused(request, " ".join(exc.messages))
    if fmt == "xlsx":
        job = services.customer_export_start(actor=request.user, params=request.GET, filters=filters,
                                             plaintext=plaintext, request=request)
        return redirect(job)
    header, rows = services.customer_export(actor=request.user, filters=filters, fmt=fmt, plaintext=plaintext,
                                            request=request)
    return csv_response("customers.csv", header, rows)
