from django import forms
from django.utils.translation import gettext_lazy as _

from org import scoping
from org.models import Branch, User
from org.roles import Role

from .models import Customer, Relationship, Segment, Tag


def _bootstrap(form: forms.Form) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")


class CustomerFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"placeholder": _("Number, phone, ID, name or pinyin")}))
    branch = forms.ModelChoiceField(label=_("Branch"), required=False, queryset=Branch.objects.all(),
                                    to_field_name="code", empty_label=_("Any branch"))
    rm = forms.ModelChoiceField(label=_("Relationship manager"), required=False, to_field_name="username",
                                queryset=User.objects.filter(groups__name=Role.RELATIONSHIP_MANAGER, is_active=True),
                                empty_label=_("Any RM"))
    tier = forms.ChoiceField(label=_("Tier"), required=False, choices=[("", _("Any tier")), *Customer.Tier.choices])
    lifecycle_status = forms.ChoiceField(label=_("Lifecycle status"), required=False,
                                         choices=[("", _("Not closed")), *Customer.Lifecycle.choices])
    risk_tolerance = forms.ChoiceField(label=_("Risk tolerance"), required=False,
                                       choices=[("", _("Any")), *Customer.RiskTolerance.choices])
    tag = forms.ModelChoiceField(label=_("Tag"), required=False, queryset=Tag.objects.all(), empty_label=_("Any tag"))
    segment = forms.ModelChoiceField(label=_("Segment"), required=False, queryset=Segment.objects.all(),
                                     empty_label=_("Any segment"))
    kyc_expiring = forms.BooleanField(label=_("KYC review due within 30 days"), required=False)
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=[
        ("name", _("Name")), ("aum", _("Assets under management, highest first")), ("number", _("Customer number"))])

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)
        if user is not None:
            # Offer only the branches and RMs the user reaches: short lists, and no names of other branches.
            reach = scoping.reach_of(user)
            if not reach.everything:
                if reach.branch is not None:
                    branches = Branch.objects.filter(path__startswith=reach.branch.path)
                    self.fields["branch"].queryset = branches
                    self.fields["rm"].queryset = self.fields["rm"].queryset.filter(branch__in=branches)
                else:
                    self.fields["branch"].queryset = Branch.objects.filter(pk=user.branch_id)
                    self.fields["rm"].queryset = self.fields["rm"].queryset.filter(pk=user.pk)
        self.fields["branch"].label_from_instance = lambda branch: branch.name
        self.fields["rm"].label_from_instance = lambda user: user.get_full_name()


class CustomerForm(forms.ModelForm):
    """Create and edit. Personal data arrives in plain fields and is sealed by the service."""

    id_number = forms.CharField(label=_("ID number"), required=False, max_length=40)
    phone = forms.CharField(label=_("Mobile phone"), required=False, max_length=30)
    email = forms.CharField(label=_("E-mail"), required=False, max_length=254)
    address = forms.CharField(label=_("Address"), required=False, max_length=300)
    confirm_duplicate = forms.BooleanField(
        label=_("I checked: this is a different person from the customers listed above"), required=False)

    PERSONAL = ("id_number", "phone", "email", "address")

    class Meta:
        model = Customer
        fields = [
            "customer_no", "kind", "name", "id_type", "gender", "birth_date", "occupation", "employer",
            "income_band", "source_channel", "home_branch", "primary_rm", "lifecycle_status", "risk_tolerance",
            "risk_assessed_on", "risk_expires_on", "investment_preference", "kyc_status", "kyc_review_on",
            "marketing_consent", "do_not_contact", "last_verified_on",
        ]
        widgets = {name: forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d") for name in (
            "birth_date", "risk_assessed_on", "risk_expires_on", "kyc_review_on", "last_verified_on")}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)
        if self.instance.pk:
            self.fields["customer_no"].disabled = True
            for name in self.PERSONAL:
                masked = getattr(self.instance, f"{name}_masked")
                if masked:
                    self.fields[name].widget.attrs["placeholder"] = masked
                    self.fields[name].help_text = _("Leave empty to keep the value on file.")
            self.fields["lifecycle_status"].choices = [
                c for c in Customer.Lifecycle.choices if c[0] != Customer.Lifecycle.CLOSED]
        self.fields["primary_rm"].queryset = User.objects.filter(
            groups__name=Role.RELATIONSHIP_MANAGER, is_active=True).order_by("username")
        self.fields["primary_rm"].label_from_instance = lambda u: f"{u.get_full_name()} ({u.username})"
        self.fields["home_branch"].label_from_instance = lambda b: f"{b.name} ({b.code})"

    def personal_values(self) -> dict[str, str]:
        """Personal fields the user typed; on edit an empty field keeps the stored value."""
        values = {name: self.cleaned_data.get(name, "") for name in self.PERSONAL}
        if self.instance.pk:
            values = {name: value for name, value in values.items() if value}
        return values


class CloseCustomerForm(forms.Form):
    reason = forms.CharField(label=_("Reason for closing"), max_length=200,
                             widget=forms.TextInput(attrs={"class": "form-control"}))


class MergeForm(forms.Form):
    duplicate = forms.CharField(label=_("Customer number of the duplicate"), max_length=32,
                                widget=forms.TextInput(attrs={"class": "form-control"}))


class RelationshipForm(forms.Form):
    other = forms.CharField(label=_("Customer number"), max_length=32,
                            widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}))
    kind = forms.ChoiceField(label=_("Relationship"), choices=Relationship.Kind.choices,
                             widget=forms.Select(attrs={"class": "form-select form-select-sm"}))
