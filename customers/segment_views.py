"""Pages of segments: the list, the rule builder with its live count, refresh now, and the members.

The rule editor works without JavaScript (every change is a submit that re-renders the form);
htmx only makes the same requests in place: a changed field or condition re-renders the rule
editor (so the value input fits the field), a changed value asks for the live count.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from org.audit import audit_record
from org.models import AuditEntry

from .models import Segment
from .segments import FIELDS, MAX_RULES, OPS, Kind, rules_text, segment_members, segment_preview, segment_refresh
from .segments import segment_save as save_segment

FIRST_FIELD = next(iter(FIELDS))
PREFIX = "rules"


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "description"]
        widgets = {
            "name": forms.TextInput(attrs={"class": "form-control"}),
            "description": forms.TextInput(attrs={"class": "form-control"}),
        }


class RuleForm(forms.Form):
    """One row of the rule editor. Never validated itself: rows become rules for validate_rules()."""

    field = forms.ChoiceField(label=gettext_lazy("Field"))
    op = forms.ChoiceField(label=gettext_lazy("Condition"))
    value = forms.CharField(label=gettext_lazy("Value"), required=False)
    values = forms.MultipleChoiceField(label=gettext_lazy("Values"), required=False,
                                       widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, builder_url: str, preview_url: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        spec = FIELDS[self.initial["field"]]
        self.spec = spec
        reshape = {"hx-post": builder_url, "hx-trigger": "change", "hx-target": "#rule-editor",
                   "hx-swap": "outerHTML", "hx-vals": '{"action": "reshape"}'}
        preview = {"hx-post": preview_url, "hx-target": "#segment-preview", "hx-swap": "innerHTML"}
        self.fields["field"].choices = [(name, item.label) for name, item in FIELDS.items()]
        self.fields["field"].widget.attrs.update({"class": "form-select", **reshape})
        self.fields["op"].choices = [(op, OPS[op]) for op in spec.ops]
        self.fields["op"].widget.attrs.update({"class": "form-select", **reshape})
        op = self.initial["op"]
        if op == "in":
            self.mode = "multi"
            self.fields["values"].choices = [(str(choice), label) for choice, label in spec.choices()]
            self.fields["values"].widget.attrs.update({"class": "form-check-input", **preview,
                                                       "hx-trigger": "change"})
        elif spec.kind == Kind.BOOL:
            self.mode = "single"
            self.fields["value"].widget = forms.Select(choices=[("true", _("Yes")), ("false", _("No"))])
        elif spec.choices is not None:
            self.mode = "single"
            self.fields["value"].widget = forms.Select(
                choices=[(str(choice), label) for choice, label in spec.choices()]
            )
        else:
            self.mode = "number"
            step = "0.01" if spec.kind == Kind.DECIMAL else "1"
            self.fields["value"].widget = forms.NumberInput(attrs={"step": step, "min": spec.minimum,
                                                                   "inputmode": "decimal"})
        if self.mode != "multi":
            trigger = "change" if self.mode == "single" else "change, keyup changed delay:400ms"
            self.fields["value"].widget.attrs.update({"class": "form-control" if self.mode == "number"
                                                      else "form-select", **preview, "hx-trigger": trigger})


def _row_from_rule(rule: dict) -> dict:
    """A stored rule as the editor shows it (values as the inputs hold them)."""
    field = rule.get("field") if rule.get("field") in FIELDS else FIRST_FIELD
    spec = FIELDS[field]
    op = rule.get("op") if rule.get("op") in spec.ops else spec.ops[0]
    value = rule.get("value")
    if op == "in":
        values = value if isinstance(value, list) else [value]
        return {"field": field, "op": op, "values": [str(item) for item in values if item is not None], "value": ""}
    if isinstance(value, bool):
        value = "true" if value else "false"
    return {"field": field, "op": op, "value": "" if value is None else str(value), "values": []}


def _rows_from_post(data: QueryDict) -> list[dict]:
    try:
        count = min(int(data.get(f"{PREFIX}-count", "0")), MAX_RULES + 1)
    except ValueError:
        count = 0
    rows = []
    for index in range(max(count, 0)):
        key = f"{PREFIX}-{index}-"
        rows.append({"field": data.get(key + "field", ""), "op": data.get(key + "op", ""),
                     "value": data.get(key + "value", ""), "values": data.getlist(key + "values")})
    return rows


def _rule_from_row(row: dict) -> dict:
    """A row as submitted, as a rule for validate_rules() (which words any problem)."""
    return {"field": row["field"], "op": row["op"], "value": row["values"] if row["op"] == "in" else row["value"]}


def _normalise_row(row: dict) -> dict:
    """Fit a row to its (possibly just changed) field: an operator it allows, a value it offers."""
    field = row["field"] if row["field"] in FIELDS else FIRST_FIELD
    spec = FIELDS[field]
    if row["op"] not in spec.ops:
        return {"field": field, "op": spec.ops[0], "value": "", "values": []}
    value = row["value"]
    if row["op"] != "in" and spec.choices is not None and spec.kind != Kind.BOOL \
            and value not in {str(choice) for choice, _label in spec.choices()}:
        value = ""
    return {"field": field, "op": row["op"], "value": value, "values": row["values"]}


def _rule_forms(rows: list[dict], *, builder_url: str) -> list[RuleForm]:
    preview_url = reverse("segments:segment-preview")
    return [RuleForm(prefix=f"{PREFIX}-{index}", initial=row, builder_url=builder_url, preview_url=preview_url)
            for index, row in enumerate(rows)]


def _preview_context(user: Any, rows: list[dict]) -> dict:
    try:
        return {"count": segment_preview(user=user, rules=[_rule_from_row(row) for row in rows]), "problems": []}
    except ValidationError as exc:
        return {"count": None, "problems": exc.messages}


def _may_build(user: Any) -> bool:
    return user.has_perm("customers.add_segment") or user.has_perm("customers.change_segment")


@require_GET
@login_required
@permission_required("customers.view_segment", raise_exception=True)
def segment_list(request: HttpRequest) -> HttpResponse:
    segments = Segment.objects.select_related("tag").order_by("name")
    return render(request, "customers/segments/segment_list.html", {"segments": segments})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("customers.add_segment", raise_exception=True)
def segment_create(request: HttpRequest) -> HttpResponse:
    return _builder(request, segment=None, builder_url=reverse("segments:segment-create"))


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("customers.change_segment", raise_exception=True)
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    return _builder(request, segment=segment, builder_url=reverse("segments:segment-edit", args=[pk]))


def _builder(request: HttpRequest, *, segment: Segment | None, builder_url: str) -> HttpResponse:
    problems: list[str] = []
    partial = False
    if request.method == "GET":
        form = SegmentForm(instance=segment)
        rows = [_row_from_rule(rule) for rule in (segment.rules if segment else []) if isinstance(rule, dict)]
        rows = rows or [_row_from_rule({})]
        preview = _preview_context(request.user, rows) if segment else {"count": None, "problems": []}
    else:
        rows = [_normalise_row(row) for row in _rows_from_post(request.POST)]
        action = request.POST.get("action", "save")
        remove = request.POST.get("remove")
        if action == "save" and remove is None:
            form = SegmentForm(request.POST, instance=segment)
            if form.is_valid():
                try:
                    saved = save_segment(segment=segment, name=form.cleaned_data["name"],
                                         description=form.cleaned_data["description"],
                                         rules=[_rule_from_row(row) for row in rows], actor=request.user)
                except ValidationError as exc:
                    problems = exc.messages
                else:
                    messages.success(request, _("Segment “%(name)s” saved. Refresh it to store its members.")
                                     % {"name": saved.name})
                    return redirect("segments:segment-list")
        else:
            # Reshape, add, remove or preview: re-render what was typed, without judging it yet.
            if action == "add" and len(rows) < MAX_RULES:
                rows.append(_row_from_rule({}))
            if remove is not None and remove.isdigit() and int(remove) < len(rows):
                del rows[int(remove)]
            rows = rows or [_row_from_rule({})]
            form = SegmentForm(instance=segment, initial={"name": request.POST.get("name", ""),
                                                          "description": request.POST.get("description", "")})
            partial = bool(request.htmx) and action != "preview"
        preview = _preview_context(request.user, rows)
    context = {
        "segment": segment, "form": form, "rule_forms": _rule_forms(rows, builder_url=builder_url),
        "rule_count": len(rows), "max_rules": MAX_RULES, "problems": problems, "builder_url": builder_url,
        **preview,
    }
    if partial:
        return render(request, "customers/segments/partials/rule_editor.html", {**context, "oob_preview": True})
    return render(request, "customers/segments/segment_form.html", context)


@require_POST
@login_required
def segment_preview_count(request: HttpRequest) -> HttpResponse:
    if not _may_build(request.user):
        raise PermissionDenied
    rows = [_normalise_row(row) for row in _rows_from_post(request.POST)]
    return render(request, "customers/segments/partials/preview.html", _preview_context(request.user, rows))


@require_POST
@login_required
@permission_required("customers.change_segment", raise_exception=True)
def segment_refresh_now(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    try:
        with transaction.atomic():
            added, removed = segment_refresh(segment=segment)
            audit_record(action=AuditEntry.Action.UPDATE, request=request, obj=segment,
                         detail={"refresh": {"added": added, "removed": removed, "members": segment.member_count}})
    except ValidationError as exc:
        messages.error(request, _("The segment could not be refreshed: %(problems)s")
                       % {"problems": " ".join(exc.messages)})
    else:
        messages.success(request, _("Segment “%(name)s” refreshed: %(members)d members, %(added)d added, "
                                    "%(removed)d removed.")
                         % {"name": segment.name, "members": segment.member_count, "added": added,
                            "removed": removed})
    return redirect("segments:segment-members", pk=segment.pk)


@require_GET
@login_required
@permission_required("customers.view_segment", raise_exception=True)
def segment_member_list(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment.objects.select_related("tag"), pk=pk)
    members, next_cursor = segment_members(user=request.user, segment=segment, cursor=request.GET.get("after"))
    context = {"segment": segment, "members": members, "next_cursor": next_cursor}
    if request.htmx:
        return render(request, "customers/segments/partials/member_rows.html", context)
    context["rules"] = rules_text(segment.rules)
    return render(request, "customers/segments/segment_members.html", context)
