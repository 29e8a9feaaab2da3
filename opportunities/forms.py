"""Forms of the opportunity pages: they parse input; the services decide."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from customers.models import Product
from interactions.forms import _bootstrap

from .models import Opportunity, Pipeline
from .selectors import BREAKDOWN_COLUMNS, Filters, Period


class OpportunityForm(forms.Form):
    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.filter(is_active=True)
                                     .order_by("category", "code"))
    amount = forms.DecimalField(label=_("Amount (¥)"), min_value=0, max_digits=18, decimal_places=2, initial=0)
    expected_close_on = forms.DateField(label=_("Expected close date"),
                                        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    next_step = forms.CharField(label=_("Next step"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expected_close_on"].initial = timezone.localdate() + dt.timedelta(days=30)
        _bootstrap(self)


class OpportunityEditForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount (¥)"), min_value=0, max_digits=18, decimal_places=2)
    expected_close_on = forms.DateField(label=_("Expected close date"),
                                        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    probability = forms.IntegerField(label=_("Probability (%)"), min_value=0, max_value=100)
    next_step = forms.CharField(label=_("Next step"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class AdvanceForm(forms.Form):
    to_stage = forms.IntegerField(widget=forms.HiddenInput)


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=[("won", pgettext_lazy("opportunity status", "Won")),
                                                             ("lost", pgettext_lazy("opportunity status", "Lost"))],
                                widget=forms.RadioSelect)
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False,
                             help_text=_("Required when the opportunity is lost."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].widget.attrs["class"] = "form-control"


class OverrideRequestForm(forms.Form):
    reason = forms.CharField(label=_("Why the customer should be offered this product anyway"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class OverrideDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    note = forms.CharField(label=pgettext_lazy("approval", "Note"), max_length=300, required=False,
                           help_text=_("Required when you reject the request."))


class RecommendationAcceptForm(forms.Form):
    rule = forms.CharField(max_length=40)
    product = forms.IntegerField()


def _month(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 - a calendar month, not a time
    except (TypeError, ValueError):
        return None


class FilterForm(forms.Form):
    """Owner, branch, product, close month and status; choices limited to what the user reaches."""

    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    branch = forms.TypedChoiceField(label=_("Branch"), required=False, coerce=int, empty_value=None)
    product = forms.TypedChoiceField(label=_("Product"), required=False, coerce=int, empty_value=None)
    close_month = forms.CharField(label=_("Close month"), required=False,
                                  widget=forms.TextInput(attrs={"type": "month"}))
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Any status")), *Opportunity.Status.choices])

    def __init__(self, *args, choices: dict, with_status: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        everyone = [("", _("Everyone"))]
        self.fields["owner"].choices = everyone + [(pk, full or username) for pk, full, username in choices["owners"]]
        self.fields["branch"].choices = [("", _("All branches"))] + choices["branches"]
        self.fields["product"].choices = [("", _("All products"))] + choices["products"]
        if not choices["branches"]:
            del self.fields["branch"]
        if not with_status:
            del self.fields["status"]
        _bootstrap(self, small=True)

    def clean_close_month(self):
        value = self.cleaned_data.get("close_month") or ""
        if value and _month(value) is None:
            raise forms.ValidationError(_("Give the month as YYYY-MM."))
        return value

    def filters(self) -> Filters:
        if not self.is_valid():
            return Filters(invalid=True)
        data = self.cleaned_data
        return Filters(owner=data.get("owner"), branch=data.get("branch"), product=data.get("product"),
                       close_month=_month(data.get("close_month") or ""), status=data.get("status") or "")


class FunnelForm(FilterForm):
    pipeline = forms.TypedChoiceField(label=_("Pipeline"), coerce=int)
    start = forms.DateField(label=_("Created from"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=_("Created until"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    by = forms.ChoiceField(label=_("Break down by"), required=False,
                           choices=[(key, label) for key, label in (
                               ("owner", _("Relationship manager")), ("branch", _("Branch")),
                               ("product", _("Product"))) if key in BREAKDOWN_COLUMNS])

    def __init__(self, *args, pipelines: list[Pipeline], **kwargs):
        super().__init__(*args, **kwargs)
        # Choices from the list the view already read: the page has a pinned query budget.
        self.fields["pipeline"].choices = [(p.pk, str(p)) for p in pipelines]
        _bootstrap(self, small=True)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("The end of the period comes before its start."))
        return data

    def period(self) -> Period:
        if not self.is_valid():
            return Period()
        return Period(start=self.cleaned_data.get("start"), end=self.cleaned_data.get("end"))
