"""Forms of the leads pages: they parse input; the services decide."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from customers.models import Product
from interactions.forms import _bootstrap

from .models_leads import AssignmentRule, Lead, ProductArea


class LeadForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=200)
    phone = forms.CharField(label=_("mobile phone"), max_length=40, required=False)
    id_type = forms.ChoiceField(label=_("ID type"), required=False)
    id_number = forms.CharField(label=_("ID number"), max_length=40, required=False)
    channel = forms.ChoiceField(label=_("channel"), choices=[
        (value, label) for value, label in Lead.Channel.choices if value not in ("referral", "import")])
    product_interest = forms.ChoiceField(label=_("product interest"), choices=ProductArea.choices)
    branch = forms.ModelChoiceField(label=_("branch"), queryset=None)
    note = forms.CharField(label=_("note"), widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, branches=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = branches
        self.fields["id_type"].choices = [("", _("None")), *Lead._meta.get_field("id_type").choices]
        _bootstrap(self)


class LeadFilterForm(forms.Form):
    q = forms.CharField(label=_("name, phone or ID number"), max_length=100, required=False)
    status = forms.ChoiceField(label=_("status"), required=False, choices=[
        ("open", pgettext_lazy("lead filter", "Open")), ("", pgettext_lazy("lead filter", "All")),
        *Lead.Status.choices])
    who = forms.ChoiceField(label=_("whose"), required=False, choices=[
        ("", _("Everyone I may see")), ("me", _("Assigned to me")), ("unassigned", _("Unassigned")),
        ("overdue", _("First contact overdue"))])
    channel = forms.ChoiceField(label=_("channel"), required=False, choices=[("", _("Any")), *Lead.Channel.choices])
    product_interest = forms.ChoiceField(label=_("product interest"), required=False,
                                         choices=[("", _("Any")), *ProductArea.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self, small=True)


class AssignForm(forms.Form):
    to_user = forms.ModelChoiceField(label=_("assign to"), queryset=None)
    note = forms.CharField(label=_("note"), max_length=300, required=False)

    def __init__(self, *args, staff=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_user"].queryset = staff
        self.fields["to_user"].label_from_instance = lambda user: f"{user.get_full_name()} ({user.username})"
        _bootstrap(self, small=True)


class ContactForm(forms.Form):
    note = forms.CharField(label=_("what was said"), widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self, small=True)


class DisqualifyForm(forms.Form):
    reason = forms.ChoiceField(label=_("reason"), choices=Lead.DisqualifyReason.choices)
    note = forms.CharField(label=_("note"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self, small=True)


class ConvertForm(forms.Form):
    product = forms.ModelChoiceField(label=_("product"), queryset=Product.objects.filter(is_active=True))
    amount = forms.DecimalField(label=_("amount"), max_digits=18, decimal_places=2, min_value=0)
    expected_close_on = forms.DateField(label=_("expected close date"),
                                        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    next_step = forms.CharField(label=_("next step"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault(
            "expected_close_on", timezone.localdate() + dt.timedelta(days=30))
        super().__init__(*args, **kwargs)
        _bootstrap(self, small=True)


class RuleForm(forms.ModelForm):
    class Meta:
        model = AssignmentRule
        fields = ["branch", "name", "position", "strategy", "product_interest", "channel", "members", "capacity",
                  "first_contact_hours", "is_active"]
        widgets = {"members": forms.SelectMultiple(attrs={"size": 6})}

    def __init__(self, *args, branches=None, staff=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = branches
        self.fields["members"].queryset = staff
        self.fields["members"].label_from_instance = lambda user: f"{user.get_full_name()} ({user.username})"
        self.fields["product_interest"].choices = [("", _("Any")), *ProductArea.choices]
        self.fields["channel"].choices = [("", _("Any")), *Lead.Channel.choices]
        _bootstrap(self)


class SpecialistForm(forms.Form):
    user = forms.ModelChoiceField(label=_("staff member"), queryset=None)
    area = forms.ChoiceField(label=_("area"), choices=ProductArea.choices)

    def __init__(self, *args, staff=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = staff
        self.fields["user"].label_from_instance = lambda user: f"{user.get_full_name()} ({user.username})"
        _bootstrap(self, small=True)


class ReferralForm(forms.Form):
    area = forms.ChoiceField(label=_("refer to a specialist of"), choices=[
        (ProductArea.WEALTH, ProductArea.WEALTH.label), (ProductArea.LOANS, ProductArea.LOANS.label),
        (ProductArea.INSURANCE, ProductArea.INSURANCE.label), (ProductArea.DEPOSITS, ProductArea.DEPOSITS.label),
        (ProductArea.CARDS, ProductArea.CARDS.label)])
    specialist = forms.ModelChoiceField(label=_("specialist"), queryset=None, required=False,
                                        help_text=_("Empty: the branch's assignment rules choose one."))
    note = forms.CharField(label=_("note"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, specialists=None, **kwargs):
        super().__init__(*args, **kwargs)
        from org.models import User

        self.fields["specialist"].queryset = User.objects.filter(pk__in=specialists.values("user"))
        labels = {}
        for specialist in specialists:
            labels.setdefault(specialist.user_id, []).append(str(specialist.get_area_display()))
        self.fields["specialist"].label_from_instance = lambda user: (
            f"{user.get_full_name()} · {', '.join(labels.get(user.pk, []))}")
        _bootstrap(self)


class ReportForm(forms.Form):
    date_from = forms.DateField(label=_("referred on or after"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("referred on or before"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self, small=True)
