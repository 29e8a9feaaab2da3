"""Thin views: parse with a form, call one service or selector, render the page or (htmx) the partial."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.panels import PANELS
from customers.selectors import customer_detail as select_customer

from . import selectors, services
from .forms import (
    AdvanceForm,
    CloseForm,
    FilterForm,
    FunnelForm,
    OpportunityEditForm,
    OpportunityForm,
    OverrideDecisionForm,
    OverrideRequestForm,
    RecommendationAcceptForm,
)
from .models import Opportunity, Pipeline, Stage, SuitabilityOverride


def _errors(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- board -----------------------------------------------------------------------------------------------

def _board_response(request, pipeline: Pipeline, data, *, problem: dict | None = None, pipelines=None):
    form = FilterForm(data, choices=selectors.filter_choices(user=request.user, pipeline=pipeline))
    board = selectors.board(user=request.user, pipeline=pipeline, filters=form.filters())
    context = {"pipeline": pipeline, "board": board, "form": form, "problem": problem,
               "can_move": request.user.has_perm("opportunities.change_opportunity")}
    if request.htmx:
        return render(request, "opportunities/partials/board.html", context)
    context["pipelines"] = pipelines if pipelines is not None else \
        Pipeline.objects.filter(is_active=True).order_by("name", "id")
    return render(request, "opportunities/board.html", context)


@require_GET
@login_required
@permission_required("opportunities.view_opportunity", raise_exception=True)
def board_home(request):
    pipeline = (Pipeline.objects.filter(is_active=True, category="wealth").first()
                or Pipeline.objects.filter(is_active=True).order_by("name", "id").first())
    if pipeline is None:
        raise Http404
    return redirect("opportunities:board", pipeline.pk)


@require_GET
@login_required
@permission_required("opportunities.view_opportunity", raise_exception=True)
def board(request, pipeline_id: int):
    # One query for the pipeline and the switcher's list (the board has a budget of 12).
    pipelines = list(Pipeline.objects.filter(is_active=True).order_by("name", "id"))
    pipeline = next((p for p in pipelines if p.pk == pipeline_id), None)
    if pipeline is None:
        raise Http404
    return _board_response(request, pipeline, request.GET, pipelines=pipelines)


@require_POST
@login_required
@permission_required("opportunities.change_opportunity", raise_exception=True)
def opportunity_advance(request, pk: int):
    """Move a card (buttons or drag-and-drop on the board; the stage buttons on the detail page)."""
    opportunity = selectors.access_opportunity(request.user, pk)
    form = AdvanceForm(request.POST)
    problem = None
    if form.is_valid():
        stage = Stage.objects.filter(pk=form.cleaned_data["to_stage"], pipeline=opportunity.pipeline_id).first()
        try:
            if stage is None:
                raise ValidationError(_("That stage belongs to another pipeline."))
            services.opportunity_advance(opportunity=opportunity, actor=request.user, to_stage=stage)
        except ValidationError as exc:
            problem = {"opportunity": opportunity, "errors": _errors(exc),
                       "unsuitable": isinstance(exc, services.Unsuitable)}
        else:
            messages.success(request, _("Moved to %(stage)s.") % {"stage": stage})
    else:
        problem = {"opportunity": opportunity, "errors": [_("Choose a stage.")], "unsuitable": False}
    if request.POST.get("from") == "board":
        return _board_response(request, opportunity.pipeline, request.POST, problem=problem)
    for error in (problem or {}).get("errors", []):
        messages.error(request, error)
    return redirect(opportunity)


# --- list, detail, create, edit, close ----------------------------------------------------------------------

@require_GET
@login_required
@permission_required("opportunities.view_opportunity", raise_exception=True)
def opportunity_list(request):
    pipelines = list(Pipeline.objects.filter(is_active=True).order_by("name", "id"))
    pipeline = next((p for p in pipelines if str(p.pk) == request.GET.get("pipeline")), None)
    form = FilterForm(request.GET, choices=selectors.filter_choices(user=request.user, pipeline=pipeline),
                      with_status=True)
    rows, next_cursor, totals = selectors.opportunity_list(user=request.user, filters=form.filters(),
                                                           pipeline=pipeline, cursor=request.GET.get("cursor"))
    context = {"rows": rows, "next_cursor": next_cursor, "totals": totals, "form": form, "pipeline": pipeline,
               "pipelines": pipelines}
    if request.htmx and request.GET.get("cursor"):
        return render(request, "opportunities/partials/list_rows.html", context)
    return render(request, "opportunities/opportunity_list.html", context)


def _detail_context(request, opportunity: Opportunity, **extra) -> dict:
    findings = services.suitability_check(customer=opportunity.customer, product=opportunity.product)
    overrides = list(opportunity.overrides.select_related("requested_by", "decided_by"))
    approved = next((o for o in overrides if o.status == SuitabilityOverride.Status.APPROVED), None)
    pending = next((o for o in overrides if o.status == SuitabilityOverride.Status.PENDING), None)
    stages = list(opportunity.pipeline.stages.order_by("order"))
    return {
        "opportunity": opportunity, "customer": opportunity.customer,
        "customer_label": selectors.customer_label(request.user, opportunity.customer),
        "history": selectors.stage_history(opportunity=opportunity), "stages": stages,
        "findings": findings, "overrides": overrides, "approved_override": approved, "pending_override": pending,
        "blocked": bool(findings) and approved is None,
        "can_change": request.user.has_perm("opportunities.change_opportunity"),
        "can_approve": request.user.has_perm("opportunities.approve_suitability_override"),
        "close_form": extra.pop("close_form", None) or CloseForm(initial={"outcome": "won"}),
        "override_form": extra.pop("override_form", None) or OverrideRequestForm(),
        "decision_form": extra.pop("decision_form", None) or OverrideDecisionForm(),
        **extra,
    }


@require_GET
@login_required
@permission_required("opportunities.view_opportunity", raise_exception=True)
def opportunity_detail(request, pk: int):
    opportunity = selectors.access_opportunity(request.user, pk)
    return render(request, "opportunities/opportunity_detail.html", _detail_context(request, opportunity))


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("opportunities.add_opportunity", raise_exception=True)
def opportunity_create(request):
    customer_id = request.GET.get("customer") or request.POST.get("customer") or ""
    if not str(customer_id).isdigit():
        raise Http404
    customer = select_customer(user=request.user, customer_id=int(customer_id))
    form = OpportunityForm(request.POST or None)
    findings = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            opportunity = services.opportunity_create(
                customer=customer, product=data["product"], actor=request.user, amount=data["amount"],
                expected_close_on=data["expected_close_on"], next_step=data["next_step"])
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Opportunity opened."))
            return redirect(opportunity)
    if form.is_bound and form.is_valid():
        findings = services.suitability_check(customer=customer, product=form.cleaned_data["product"])
    return render(request, "opportunities/opportunity_form.html",
                  {"form": form, "customer": customer, "findings": findings,
                   "customer_label": selectors.customer_label(request.user, customer)})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("opportunities.change_opportunity", raise_exception=True)
def opportunity_edit(request, pk: int):
    opportunity = selectors.access_opportunity(request.user, pk)
    form = OpportunityEditForm(request.POST or None, initial={
        "amount": opportunity.amount, "expected_close_on": opportunity.expected_close_on,
        "probability": opportunity.probability, "next_step": opportunity.next_step})
    if request.method == "POST" and form.is_valid():
        try:
            services.opportunity_update(opportunity=opportunity, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Opportunity saved."))
            return redirect(opportunity)
    return render(request, "opportunities/opportunity_edit.html", {"form": form, "opportunity": opportunity})


@require_POST
@login_required
@permission_required("opportunities.change_opportunity", raise_exception=True)
def opportunity_close(request, pk: int):
    opportunity = selectors.access_opportunity(request.user, pk)
    form = CloseForm(request.POST)
    if form.is_valid():
        try:
            services.opportunity_close(opportunity=opportunity, actor=request.user,
                                       won=form.cleaned_data["outcome"] == "won", reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Opportunity closed."))
            return redirect(opportunity)
    opportunity.refresh_from_db()
    return render(request, "opportunities/opportunity_detail.html",
                  _detail_context(request, opportunity, close_form=form))


# --- suitability overrides -------------------------------------------------------------------------------

@require_POST
@login_required
@permission_required("opportunities.change_opportunity", raise_exception=True)
def override_request(request, pk: int):
    opportunity = selectors.access_opportunity(request.user, pk)
    form = OverrideRequestForm(request.POST)
    if form.is_valid():
        try:
            services.override_request(opportunity=opportunity, actor=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Override requested; a branch manager will decide."))
            return redirect(opportunity)
    return render(request, "opportunities/opportunity_detail.html",
                  _detail_context(request, opportunity, override_form=form))


@require_GET
@login_required
@permission_required("opportunities.approve_suitability_override", raise_exception=True)
def override_list(request):
    return render(request, "opportunities/override_list.html",
                  {"overrides": list(selectors.pending_overrides(user=request.user)[:200])})


@require_POST
@login_required
@permission_required("opportunities.approve_suitability_override", raise_exception=True)
def override_decide(request, pk: int):
    override = selectors.access_override(request.user, pk)
    opportunity = selectors.access_opportunity(request.user, override.opportunity_id)
    form = OverrideDecisionForm(request.POST)
    if form.is_valid():
        try:
            services.override_decide(override=override, actor=request.user,
                                     approve=form.cleaned_data["decision"] == "approve",
                                     note=form.cleaned_data["note"])
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Decision recorded."))
            return redirect(opportunity)
    return render(request, "opportunities/opportunity_detail.html",
                  _detail_context(request, opportunity, decision_form=form))


# --- recommendations ------------------------------------------------------------------------------------

@require_POST
@login_required
@permission_required("opportunities.add_opportunity", raise_exception=True)
def recommendation_accept(request, customer_id: int):
    customer = select_customer(user=request.user, customer_id=customer_id)
    form = RecommendationAcceptForm(request.POST)
    opportunity = None
    if form.is_valid():
        try:
            opportunity = services.recommendation_accept(customer=customer, actor=request.user,
                                                         rule=form.cleaned_data["rule"],
                                                         product_id=form.cleaned_data["product"])
        except ValidationError as exc:
            for error in _errors(exc):
                messages.error(request, error)
    if opportunity is not None:
        messages.success(request, _("Opportunity opened from the recommendation."))
    elif form.is_valid():
        messages.error(request, _("That recommendation no longer applies."))
    if request.htmx:
        panel = PANELS["recommendations"]
        return render(request, panel.template, {"customer": customer, "panel": panel,
                                                **panel.context(request, customer)})
    return redirect(opportunity or customer)


@require_GET
@login_required
@permission_required("opportunities.view_opportunity", raise_exception=True)
def pipeline_widget(request):
    """The figures of the workbench's "my pipeline" widget (it loads them after the workbench)."""
    return render(request, "opportunities/widgets/_pipeline.html",
                  {"data": {"lazy": False, "pipeline": selectors.my_pipeline(user=request.user)}})


# --- funnel and performance ------------------------------------------------------------------------------

@require_GET
@login_required
@permission_required("opportunities.view_funnel", raise_exception=True)
def funnel(request):
    data = request.GET.copy()
    pipelines = list(Pipeline.objects.filter(is_active=True).order_by("name", "id"))
    if not data.get("pipeline"):
        default = next((p for p in pipelines if p.category == "wealth"), pipelines[0] if pipelines else None)
        data["pipeline"] = str(default.pk) if default else ""
    data.setdefault("by", "owner")
    pipeline = next((p for p in pipelines if str(p.pk) == data["pipeline"]), None)
    if pipeline is None:
        raise Http404
    form = FunnelForm(data, choices=selectors.filter_choices(user=request.user, pipeline=pipeline),
                      pipelines=pipelines)
    filters, period = form.filters(), form.period()
    by = (form.cleaned_data.get("by") or "owner") if form.is_valid() else "owner"
    rows = selectors.funnel(user=request.user, pipeline=pipeline, filters=filters, period=period)
    table = selectors.breakdown(user=request.user, pipeline=pipeline, by=by, filters=filters, period=period)
    league = table if by == "owner" else selectors.breakdown(user=request.user, pipeline=pipeline, by="owner",
                                                            filters=filters, period=period)
    months = selectors.forecast(user=request.user, pipeline=pipeline, filters=filters)
    funnel_chart = {"type": "bar", "labels": [str(r.stage) for r in rows],
                    "datasets": [{"label": str(_("Reached")), "data": [r.reached for r in rows]},
                                 {"label": str(_("Dropped out")), "data": [r.dropped for r in rows]}],
                    "options": {"indexAxis": "y"}}
    forecast_chart = {"type": "bar", "labels": [m["month"].strftime("%Y-%m") for m in months],
                      "datasets": [{"label": str(_("Weighted amount")), "data": [float(m["weighted"]) for m in months]},
                                   {"label": str(_("Amount")), "data": [float(m["amount"]) for m in months]}]}
    return render(request, "opportunities/funnel.html", {
        "form": form, "pipeline": pipeline, "rows": rows, "table": table, "by": by,
        "by_label": dict(form.fields["by"].choices).get(by, ""), "league": league[:20],
        "months": months, "funnel_chart": funnel_chart, "forecast_chart": forecast_chart,
    })
