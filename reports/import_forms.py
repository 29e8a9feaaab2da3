"""Forms of the import pages: the upload, the encoding re-run and the confirmations."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .models import ImportJob

ENCODING_CHOICES = [
    # The operator overrides what detection chose when a file's Chinese comes out garbled.
    ("", pgettext_lazy("file encoding", "Detect automatically")),
    ("utf-8", "UTF-8"),
    ("gb18030", pgettext_lazy("file encoding", "GB18030 / GBK (Chinese Excel)")),
]


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportJob.Kind.choices,
                             widget=forms.RadioSelect)
    mode = forms.ChoiceField(label=_("What to do with each row"), choices=ImportJob.Mode.choices,
                             initial=ImportJob.Mode.CREATE, widget=forms.RadioSelect)
    upload = forms.FileField(
        label=_("File (CSV or XLSX)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv,"
                                               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}),
        error_messages={"required": _("Choose the file to import."),
                        "empty": _("The file is empty: it holds no header and no rows.")},
    )
    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODING_CHOICES, required=False,
                                 help_text=_("Leave on automatic unless the preview shows garbled Chinese."))

    def __init__(self, *args, kinds=None, **kwargs):
        super().__init__(*args, **kwargs)
        if kinds is not None:
            self.fields["kind"].choices = kinds
        self.fields["kind"].error_messages["required"] = _("Choose what the file holds.")
        self.fields["mode"].error_messages["required"] = _("Choose what to do with each row.")
        for name in ("kind", "mode"):
            self.fields[name].widget.attrs["class"] = "form-check-input"
        self.fields["upload"].widget.attrs["class"] = "form-control"
        self.fields["encoding"].widget.attrs["class"] = "form-select"


class ImportEncodingForm(forms.Form):
    """Read the same stored file again with another encoding."""

    encoding = forms.ChoiceField(label=_("Read the file as"), choices=ENCODING_CHOICES[1:])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["encoding"].widget.attrs["class"] = "form-select form-select-sm"


class ImportCommitForm(forms.Form):
    # "Commit the valid rows and reject the rest" must be a choice the operator makes on purpose.
    accept_partial = forms.BooleanField(required=False)
    confirm_partial = forms.BooleanField(
        required=False, label=_("I understand that the invalid rows will not be imported."))

    def clean(self):
        data = super().clean()
        if data.get("accept_partial") and not data.get("confirm_partial"):
            self.add_error("confirm_partial", _("Tick the box to confirm that the invalid rows are left out."))
        return data


class ImportRevertForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Remove the rows this import created and restore the rows it changed."),
        error_messages={"required": _("Tick the box to confirm the revert.")},
    )
