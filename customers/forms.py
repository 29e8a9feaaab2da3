from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Customer


class CustomerFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"placeholder": _("Customer number or name")}))
    lifecycle_status = forms.ChoiceField(label=_("Lifecycle status"), required=False,
                                         choices=[("", _("Any status")), *Customer.Lifecycle.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["class"] = "form-control"
        self.fields["lifecycle_status"].widget.attrs["class"] = "form-select"
