"""Thin views of the leads pages: parse with a form, call one service or selector, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.selectors import customer_detail as select_customer

from . import lead_selectors as selectors
from . import lead_services as services
from .lead_forms import (
    AssignForm,
    ContactForm,
    ConvertForm,
    DisqualifyForm,
    LeadFilterForm,
    LeadForm,
    ReferralForm,
    ReportForm,
    RuleForm,
    SpecialistForm,
)
from .models_leads import Lead


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _branches_for_new_lead(user):
    from org.models import Branch

    reach_branches = selectors.manageable_branches(user=user)
    if reach_branches.exists():
        return reach_branches
    return Branch.objects.filter(pk=user.branch_id)


# --- leads ---------------------------------------------------------------------------------------------------

@require_GET
@login_required
@permission_required("opportunities.view_lead", raise_exception=True)
def lead_list(request):
    # Without a query the list shows the open leads, and the filter says so.
    form = LeadFilterForm(request.GET) if request.GET else LeadFilterForm(initial={"status": "open"})
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {"status": "open"}
    leads, next_cursor = selectors.lead_list(user=request.user, filters=filters, cursor=request.GET.get("cursor"))
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {"form": form, "leads": leads, "next_cursor": next_cursor, "query": query.urlencode(),
               "full_names": selectors.names_shown_in_full(user=request.user, leads=leads)}
    if request.htmx and request.GET.get("cursor"):
        return render(request, "opportunities/leads/partials/lead_rows.html", context)
    return render(request, "opportunities/leads/lead_list.html", context)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("opportunities.add_lead", raise_exception=True)
def lead_create(request):
    branches = _branches_for_new_lead(request.user)
    form = LeadForm(request.POST or None, branches=branches,
                    initial={"branch": request.user.branch_id, "channel": Lead.Channel.WALK_IN})
    if request.method == "POST" and form.is_valid():
        try:
            lead = services.lead_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            if lead.matched_customer:
                messages.warning(request, _("Lead recorded. The phone or ID number matches an existing customer: "
                                            "the lead is linked to that customer."))
            else:
                messages.success(request, _("Lead recorded."))
            if selectors.lead_queryset(user=request.user).filter(pk=lead.pk).exists():
                return redirect(lead)
            return redirect("leads:lead-list")
    return render(request, "opportunities/leads/lead_form.html", {"form": form})


def _detail_context(request, lead, **forms):
    user = request.user
    can_work = user.has_perm("opportunities.change_lead") and (
        lead.assigned_to_id == user.pk or services.scoping.reach_of(user).branch is not None or user.is_superuser)
    context = {
        "lead": lead, "history": selectors.lead_history(lead=lead), "can_work": can_work,
        "full_name": bool(selectors.names_shown_in_full(user=user, leads=[lead])),
        "assign_form": forms.get("assign_form") or (
            AssignForm(staff=selectors.assignable_staff(user=user)) if user.has_perm("opportunities.assign_lead")
            else None),
        "contact_form": forms.get("contact_form") or ContactForm(),
        "disqualify_form": forms.get("disqualify_form") or DisqualifyForm(),
        "convert_form": forms.get("convert_form") or ConvertForm(),
    }
    return context


@require_GET
@login_required
@permission_required("opportunities.view_lead", raise_exception=True)
def lead_detail(request, pk: int):
    lead = selectors.lead_detail(user=request.user, lead_id=pk)
    return render(request, "opportunities/leads/lead_detail.html", _detail_context(request, lead))


def _act(request, pk: int, form_class, form_name: str, action, success: str, **form_kwargs):
    """Run one action from the lead page; errors re-render the page (htmx: the actions panel) with the form."""
    lead = selectors.lead_detail(user=request.user, lead_id=pk)
    form = form_class(request.POST, **form_kwargs)
    if form.is_valid():
        try:
            action(lead, form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, success)
            lead = selectors.lead_detail(user=request.user, lead_id=pk)
            if request.htmx:
                return render(request, "opportunities/leads/partials/lead_main.html",
                              _detail_context(request, lead))
            return redirect(lead)
    context = _detail_context(request, lead, **{form_name: form})
    template = "opportunities/leads/partials/lead_main.html" if request.htmx else "opportunities/leads/lead_detail.html"
    return render(request, template, context)


@require_POST
@login_required
@permission_required("opportunities.assign_lead", raise_exception=True)
def lead_assign(request, pk: int):
    return _act(request, pk, AssignForm, "assign_form",
                lambda lead, data: services.lead_assign(lead=lead, actor=request.user, **data),
                _("Lead assigned."), staff=selectors.assignable_staff(user=request.user))


@require_POST
@login_required
@permission_required("opportunities.change_lead", raise_exception=True)
def lead_contacted(request, pk: int):
    return _act(request, pk, ContactForm, "contact_form",
                lambda lead, data: services.lead_record_contact(lead=lead, actor=request.user, **data),
                _("First contact recorded."))


@require_POST
@login_required
@permission_required("opportunities.change_lead", raise_exception=True)
def lead_qualify(request, pk: int):
    return _act(request, pk, ContactForm, "contact_form",
                lambda lead, data: services.lead_qualify(lead=lead, actor=request.user),
                _("Lead qualified: it can be converted now."))


@require_POST
@login_required
@permission_required("opportunities.change_lead", raise_exception=True)
def lead_disqualify(request, pk: int):
    return _act(request, pk, DisqualifyForm, "disqualify_form",
                lambda lead, data: services.lead_disqualify(lead=lead, actor=request.user, **data),
                _("Lead disqualified."))


@require_POST
@login_required
@permission_required("opportunities.convert_lead", raise_exception=True)
def lead_convert(request, pk: int):
    return _act(request, pk, ConvertForm, "convert_form",
                lambda lead, data: services.lead_convert(lead=lead, actor=request.user, **data),
                _("Lead converted into a customer and an opportunity."))


# --- assignment rules and specialists -------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@login_required
@permission_required("opportunities.view_assignmentrule", raise_exception=True)
def rule_list(request):
    user = request.user
    specialist_form = SpecialistForm(request.POST or None, staff=selectors.assignable_staff(user=user))
    if request.method == "POST":
        if not user.has_perm("opportunities.add_productspecialist"):
            raise PermissionDenied
        if specialist_form.is_valid():
            try:
                services.specialist_set(actor=user, on=request.POST.get("on", "1") == "1",
                                        **specialist_form.cleaned_data)
            except ValidationError as exc:
                _form_errors(specialist_form, exc)
            else:
                messages.success(request, _("Specialists updated."))
                return redirect("leads:rule-list")
    return render(request, "opportunities/leads/rule_list.html", {
        "rules": selectors.rule_list(user=user), "specialists": selectors.specialist_list(user=user),
        "specialist_form": specialist_form})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("opportunities.view_assignmentrule", raise_exception=True)
def rule_edit(request, pk: int | None = None):
    user = request.user
    rule = selectors.access_rule(user=user, rule_id=pk) if pk else None
    needed = "opportunities.change_assignmentrule" if rule else "opportunities.add_assignmentrule"
    if request.method == "POST" and not user.has_perm(needed):
        return render(request, "403.html", status=403)
    from org.models import User

    branches = selectors.manageable_branches(user=user)
    staff = User.objects.filter(is_active=True, branch__in=branches).order_by("full_name", "username")
    form = RuleForm(request.POST or None, instance=rule, branches=branches, staff=staff)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in services.RULE_FIELDS}
        try:
            services.assignment_rule_save(actor=user, values=values, branch=form.cleaned_data["branch"],
                                          members=list(form.cleaned_data["members"]), rule=rule)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Assignment rule saved."))
            return redirect("leads:rule-list")
    return render(request, "opportunities/leads/rule_form.html", {"form": form, "rule": rule})


# --- referrals --------------------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@login_required
@permission_required("opportunities.add_referral", raise_exception=True)
def referral_create(request, customer_id: int):
    customer = select_customer(user=request.user, customer_id=customer_id)
    specialists = selectors.specialists_for_referral(user=request.user, branch=customer.home_branch)
    form = ReferralForm(request.POST or None, specialists=specialists)
    if request.method == "POST" and form.is_valid():
        try:
            services.referral_create(customer=customer, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Referral sent: the specialist's lead list shows it, and the credit is "
                                        "yours when it converts."))
            return redirect(customer)
    return render(request, "opportunities/leads/referral_form.html", {"form": form, "customer": customer})


@require_GET
@login_required
@permission_required("opportunities.view_referral", raise_exception=True)
def referral_list(request):
    return render(request, "opportunities/leads/referral_list.html",
                  {"referrals": selectors.referral_list(user=request.user)})


@require_GET
@login_required
@permission_required("opportunities.view_referral_report", raise_exception=True)
def referral_report(request):
    form = ReportForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    rows = selectors.referral_report(user=request.user, **data)
    return render(request, "opportunities/leads/referral_report.html", {"form": form, "rows": rows})



@require_POST
@login_required
@permission_required("opportunities.view_lead", raise_exception=True)
def lead_reveal(request, pk: int, field: str):
    """The plaintext phone or ID number of a lead, for a person who may reveal personal data (audited)."""
    from django.http import Http404

    if field not in ("phone", "id_number"):
        raise Http404
    lead = selectors.lead_detail(user=request.user, lead_id=pk)
    try:
        value = services.lead_reveal(lead=lead, actor=request.user, field=field, request=request)
    except PermissionDenied:
        return render(request, "customers/partials/revealed.html", {"denied": True, "field": field}, status=403)
    return render(request, "customers/partials/revealed.html", {"value": value, "field": field})


@require_GET
@login_required
@permission_required("opportunities.view_lead", raise_exception=True)
def leads_widget(request):
    """The figures of the workbench's "my leads" widget (it loads them after the workbench)."""
    return render(request, "opportunities/leads/widgets/_my_leads.html",
                  {"data": {"lazy": False, **selectors.my_leads(user=request.user)}})
