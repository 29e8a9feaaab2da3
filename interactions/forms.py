import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Channel, Interaction, NotificationPreference, OutboundMessage, Task

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _bootstrap(form: forms.Form, *, small: bool = False) -> None:
    size = " form-control-sm" if small else ""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select" + (" form-select-sm" if small else ""))
        else:
            widget.attrs.setdefault("class", "form-control" + size)


def _when(**attrs) -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local", **attrs}, format=DATETIME_FORMAT)


def _now_local() -> dt.datetime:
    return timezone.localtime().replace(second=0, microsecond=0)


class InteractionLogForm(forms.ModelForm):
    """The 360° page's quick log: the essentials first, the rest folded away."""

    create_task = forms.BooleanField(label=_("Make the next step a task for me"), required=False)
    task_due_at = forms.DateTimeField(label=_("Task due"), required=False, widget=_when())
    task_remind_at = forms.DateTimeField(label=_("Remind me at"), required=False, widget=_when())

    class Meta:
        model = Interaction
        fields = ["channel", "direction", "occurred_at", "purpose", "summary", "feedback", "sentiment", "agreements",
                  "next_step", "confidential", "related_type", "related_id"]
        widgets = {
            "occurred_at": _when(),
            "summary": forms.Textarea(attrs={"rows": 3}),
            "feedback": forms.Textarea(attrs={"rows": 2}),
            "agreements": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("occurred_at", _now_local())
        kwargs["initial"].setdefault("channel", Channel.PHONE)
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = Channel.choices
        self.fields["sentiment"].choices = [("", _("Not judged")), *Interaction.Sentiment.choices]
        self.fields["related_type"].choices = [("", _("None")), *Interaction.RelatedType.choices]
        _bootstrap(self, small=True)

    def clean(self):
        data = super().clean()
        if data.get("create_task"):
            if not data.get("next_step"):
                self.add_error("next_step", _("Write the next step to make a task of it."))
            due = data.get("task_due_at")
            if due is None:
                self.add_error("task_due_at", _("Give the task a due time."))
            elif due < timezone.now():
                self.add_error("task_due_at", _("The due time has already passed."))
        if bool(data.get("related_type")) != (data.get("related_id") is not None):
            self.add_error("related_id", _("A linked record needs both its type and its number."))
        return data

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        arguments = {name: data[name] for name in self.Meta.fields}
        arguments["feedback"] = arguments["feedback"] or ""
        if data.get("create_task"):
            arguments["task_due_at"] = data["task_due_at"]
            arguments["task_remind_at"] = data.get("task_remind_at")
        return arguments


class InteractionVoidForm(forms.Form):
    reason = forms.CharField(label=_("Reason for voiding"), max_length=300,
                             help_text=_("For example: logged on the wrong customer."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class InteractionCorrectForm(forms.ModelForm):
    reason = forms.CharField(label=_("Reason for the correction"), max_length=300)

    class Meta:
        model = Interaction
        fields = ["channel", "direction", "occurred_at", "purpose", "summary", "feedback", "sentiment", "agreements",
                  "next_step", "confidential", "related_type", "related_id"]
        widgets = {
            "occurred_at": _when(),
            "summary": forms.Textarea(attrs={"rows": 4}),
            "feedback": forms.Textarea(attrs={"rows": 2}),
            "agreements": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = Channel.choices
        self.fields["sentiment"].choices = [("", _("Not judged")), *Interaction.Sentiment.choices]
        self.fields["related_type"].choices = [("", _("None")), *Interaction.RelatedType.choices]
        _bootstrap(self)

    def _post_clean(self):
        # The service applies the change (keeping the previous version); the form only validates input.
        pass

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    customer_no = forms.CharField(label=_("Customer number"), required=False, max_length=32,
                                  help_text=_("Optional: the customer this task is about."))
    assignee = forms.ModelChoiceField(label=_("Assigned to"), queryset=None, empty_label=None)
    priority = forms.ChoiceField(label=_("Priority"), choices=Task.Priority.choices, initial=Task.Priority.NORMAL)
    due_at = forms.DateTimeField(label=_("Due"), widget=_when())
    remind_at = forms.DateTimeField(label=_("Reminder"), required=False, widget=_when(),
                                    help_text=_("Empty for no reminder."))
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, assignees=None, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignees
        self.fields["assignee"].label_from_instance = lambda user: user.get_full_name() or user.username
        if editing:
            del self.fields["customer_no"]
        _bootstrap(self)

    def clean_due_at(self):
        due = self.cleaned_data["due_at"]
        if "due_at" in self.changed_data and due < timezone.now():
            raise ValidationError(_("The due time has already passed."))
        return due


class TaskCloseForm(forms.Form):
    outcome = forms.CharField(label=_("Outcome"), required=False, max_length=2000,
                              widget=forms.TextInput(attrs={"placeholder": _("What came of it (optional)")}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self, small=True)


class TaskFilterForm(forms.Form):
    who = forms.CharField(required=False)
    status = forms.ChoiceField(required=False, choices=Task.Status.choices)


class MessageForm(forms.Form):
    channel = forms.ChoiceField(label=_("Send by"), choices=[(Channel.SMS, Channel.SMS.label),
                                                              (Channel.EMAIL, Channel.EMAIL.label)])
    purpose = forms.ChoiceField(label=_("Purpose"), choices=OutboundMessage.Purpose.choices)
    subject = forms.CharField(label=_("Subject (e-mail)"), required=False, max_length=200)
    body = forms.CharField(label=_("Message"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self, small=True)


class PreferencesForm(forms.Form):
    """One (in-app, e-mail) pair of checkboxes per kind of notice."""

    def __init__(self, *args, current: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = []
        for row in current:
            kind = row["kind"]
            self.fields[f"{kind}__in_app"] = forms.BooleanField(required=False, initial=row["in_app"],
                                                                label=_("In the notification centre"))
            self.fields[f"{kind}__email"] = forms.BooleanField(required=False, initial=row["email"],
                                                               label=_("By e-mail"))
            self.rows.append({"label": row["label"], "in_app": self[f"{kind}__in_app"],
                              "email": self[f"{kind}__email"]})
        _bootstrap(self)

    def preferences(self) -> dict[str, tuple[bool, bool]]:
        return {kind: (self.cleaned_data[f"{kind}__in_app"], self.cleaned_data[f"{kind}__email"])
                for kind in NotificationPreference.KINDS}
