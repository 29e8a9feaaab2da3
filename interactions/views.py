"""Thin views: parse with a form, call one service or selector, render the page or (htmx) the partial."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.models import Customer
from customers.panels import PANELS
from customers.selectors import customer_detail as select_customer
from customers.selectors import customer_queryset

from . import selectors, services
from .forms import (
    InteractionCorrectForm,
    InteractionLogForm,
    InteractionVoidForm,
    MessageForm,
    PreferencesForm,
    TaskCloseForm,
    TaskFilterForm,
    TaskForm,
)
from .models import Notification, OutboundMessage, Task


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _timeline(request, customer, *, form=None, message_form=None):
    """The timeline panel as the customers' panel view renders it, with our form's state."""
    panel = PANELS["timeline"]
    context = {"customer": customer, "panel": panel, **selectors.timeline_panel(request, customer)}
    if form is not None:
        context["form"] = form
    if message_form is not None:
        context["message_form"] = message_form
    return render(request, panel.template, context)


# --- the contact log ------------------------------------------------------------------------------------------

@require_POST
@login_required
@permission_required("interactions.add_interaction", raise_exception=True)
def interaction_log(request, customer_id: int):
    customer = select_customer(user=request.user, customer_id=customer_id)
    form = InteractionLogForm(request.POST)
    if form.is_valid():
        try:
            services.interaction_log(customer=customer, actor=request.user, **form.service_arguments())
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Contact logged."))
            if request.htmx:
                return _timeline(request, customer)
            return redirect(customer)
    # Errors come back with 200: htmx swaps only successful responses into the panel.
    if request.htmx:
        return _timeline(request, customer, form=form)
    return render(request, "interactions/interaction_form.html", {"form": form, "customer": customer})


@require_GET
@login_required
@permission_required("interactions.view_interaction", raise_exception=True)
def timeline_rows(request, customer_id: int):
    """The next page of a timeline (infinite scroll)."""
    customer = select_customer(user=request.user, customer_id=customer_id)
    kind = request.GET.get("kind", "")
    events, next_cursor = selectors.timeline_page(user=request.user, customer=customer, kind=kind,
                                                  cursor=request.GET.get("cursor"))
    return render(request, "interactions/panels/_timeline_rows.html",
                  {"customer": customer, "events": events, "next_cursor": next_cursor, "kind": kind})


@require_GET
@login_required
@permission_required("interactions.view_interaction", raise_exception=True)
def interaction_detail(request, pk: int):
    interaction = selectors.interaction_detail(user=request.user, interaction_id=pk)
    readable = selectors.interaction_readable(request.user, interaction)
    return render(request, "interactions/interaction_detail.html", {
        "interaction": interaction, "customer": interaction.customer, "readable": readable,
        "revisions": selectors.interaction_history(interaction=interaction) if readable else [],
        "tasks": list(selectors.task_queryset(user=request.user).filter(source_interaction=interaction)
                      .select_related("assignee")) if readable else [],
        "can_correct": readable and interaction.actor_id == request.user.pk and interaction.voided_at is None
        and request.user.has_perm("interactions.change_interaction"),
        "can_void": interaction.voided_at is None and services.interaction_may_void(request.user, interaction),
    })


@require_http_methods(["GET", "POST"])
@login_required
def interaction_void(request, pk: int):
    """Void a note logged by mistake (author or branch manager): it stays on the timeline, struck through."""
    interaction = selectors.interaction_detail(user=request.user, interaction_id=pk)
    if not services.interaction_may_void(request.user, interaction):
        raise PermissionDenied
    form = InteractionVoidForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.interaction_void(interaction=interaction, actor=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The note is voided; it stays on the timeline, struck through."))
            return redirect(interaction)
    return render(request, "interactions/interaction_void.html",
                  {"form": form, "interaction": interaction, "customer": interaction.customer})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("interactions.change_interaction", raise_exception=True)
def interaction_correct(request, pk: int):
    interaction = selectors.interaction_detail(user=request.user, interaction_id=pk)
    if interaction.actor_id != request.user.pk:
        raise PermissionDenied
    form = InteractionCorrectForm(request.POST or None, instance=interaction)
    if request.method == "POST" and form.is_valid():
        try:
            services.interaction_correct(interaction=interaction, actor=request.user,
                                         reason=form.cleaned_data["reason"], values=form.values())
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The note is corrected; the previous version is kept."))
            return redirect(interaction)
    return render(request, "interactions/interaction_correct.html",
                  {"form": form, "interaction": interaction, "customer": interaction.customer})


# --- messages to customers -----------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@login_required
@permission_required("interactions.send_customer_message", raise_exception=True)
def message_send(request, customer_id: int):
    customer = select_customer(user=request.user, customer_id=customer_id)
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            message = services.message_send(customer=customer, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            message.refresh_from_db()
            if message.status == OutboundMessage.Status.FAILED:
                messages.error(request, _("The message could not be sent: %(error)s") % {"error": message.error})
            else:
                messages.success(request, _("Message sent to %(to)s and logged.") % {"to": message.to_masked})
            if request.htmx:
                return _timeline(request, customer)
            return redirect(customer)
    if request.htmx:
        return _timeline(request, customer, message_form=form)
    return render(request, "interactions/message_form.html", {"form": form, "customer": customer})


# --- tasks ---------------------------------------------------------------------------------------------------

def _who(request) -> str:
    who = request.GET.get("who", "me")
    if who == "team" or who.isdigit():
        if not request.user.has_perm("interactions.view_team_work"):
            return "me"
        if who.isdigit() and not selectors.team_members(user=request.user).filter(pk=int(who)).exists():
            return "me"
    return who if who in ("me", "team") or who.isdigit() else "me"


@require_GET
@login_required
@permission_required("interactions.view_task", raise_exception=True)
def task_list(request):
    form = TaskFilterForm(request.GET or None)
    status = form.cleaned_data.get("status") if form.is_valid() else ""
    status = status or Task.Status.OPEN
    who = _who(request)
    board = selectors.task_board(user=request.user, who=who, status=status, cursor=request.GET.get("cursor"))
    context = {"board": board, "who": who, "status": status, "statuses": Task.Status.choices,
               "team": list(selectors.team_members(user=request.user).order_by("full_name"))
               if request.user.has_perm("interactions.view_team_work") else [],
               "close_form": TaskCloseForm(), "now": timezone.now()}
    if request.htmx and request.GET.get("cursor"):
        return render(request, "interactions/partials/task_more.html", context)
    return render(request, "interactions/task_list.html", context)


@require_GET
@login_required
@permission_required("interactions.view_task", raise_exception=True)
def task_agenda(request):
    today = timezone.localdate()
    try:
        start = dt.date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        start = today
    start -= dt.timedelta(days=start.weekday())
    who = _who(request)
    days = selectors.task_agenda(user=request.user, week_start=start, who=who)
    return render(request, "interactions/task_agenda.html", {
        "days": days, "week_start": start, "week_end": start + dt.timedelta(days=6), "today": today,
        "previous": start - dt.timedelta(days=7), "next": start + dt.timedelta(days=7), "who": who,
        "team": list(selectors.team_members(user=request.user).order_by("full_name"))
        if request.user.has_perm("interactions.view_team_work") else [],
    })


def _task_form_customer(request, form) -> Customer | None:
    number = (form.cleaned_data.get("customer_no") or "").strip().upper()
    if not number:
        return None
    customer = customer_queryset(user=request.user).filter(customer_no=number).first()
    if customer is None:
        form.add_error("customer_no", _("No customer with this number that you may see."))
    return customer


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("interactions.add_task", raise_exception=True)
def task_create(request):
    initial = {"assignee": request.user.pk, "due_at": (timezone.localtime() + dt.timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0)}
    customer_id = request.GET.get("customer", "")
    if customer_id.isdigit():
        customer = customer_queryset(user=request.user).filter(pk=int(customer_id)).first()
        if customer is not None:
            initial["customer_no"] = customer.customer_no
    form = TaskForm(request.POST or None, initial=initial,
                    assignees=selectors.assignable_users(user=request.user))
    if request.method == "POST" and form.is_valid():
        customer = _task_form_customer(request, form)
        if not form.errors:
            data = form.cleaned_data
            try:
                task = services.task_create(actor=request.user, title=data["title"], due_at=data["due_at"],
                                            assignee=data["assignee"], customer=customer, priority=data["priority"],
                                            remind_at=data["remind_at"], description=data["description"])
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("Task created."))
                return redirect(task)
    return render(request, "interactions/task_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("interactions.view_task", raise_exception=True)
def task_detail(request, pk: int):
    task = selectors.task_detail(user=request.user, task_id=pk)
    can_change = selectors.can_change_task(request.user, task) and task.status == Task.Status.OPEN
    form = None
    if can_change:
        assignees = selectors.assignable_users(user=request.user)
        if not assignees.filter(pk=task.assignee_id).exists():
            assignees = assignees.model.objects.filter(pk__in=[task.assignee_id, request.user.pk])
        form = TaskForm(request.POST or None, editing=True, assignees=assignees, initial={
            "title": task.title, "assignee": task.assignee_id, "priority": task.priority, "description":
            task.description, "due_at": timezone.localtime(task.due_at),
            "remind_at": timezone.localtime(task.remind_at) if task.remind_at else None})
    elif request.method == "POST":
        raise PermissionDenied
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in services.TASK_EDITABLE}
        try:
            services.task_update(task=task, actor=request.user, values=values)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Task saved."))
            return redirect(task)
    source = task.source_interaction
    return render(request, "interactions/task_detail.html", {
        "task": task, "form": form, "can_change": can_change, "close_form": TaskCloseForm(),
        "source_readable": source is not None and selectors.interaction_readable(request.user, source),
    })


def _task_close(request, pk: int, action):
    task = selectors.task_detail(user=request.user, task_id=pk)
    form = TaskCloseForm(request.POST)
    error = None
    if form.is_valid():
        try:
            task = action(task=task, actor=request.user, outcome=form.cleaned_data["outcome"])
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = " ".join(e for errors in form.errors.values() for e in errors)
    if request.htmx:
        task.refresh_from_db()
        return render(request, "interactions/partials/task_row.html",
                      {"task": task, "error": error, "close_form": TaskCloseForm(), "now": timezone.now(),
                       "compact": request.GET.get("compact") == "1"})
    if error:
        messages.error(request, error)
    return redirect(request.POST.get("next") if _safe_next(request) else task.get_absolute_url())


def _safe_next(request) -> bool:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    return bool(target) and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})


@require_POST
@login_required
@permission_required("interactions.change_task", raise_exception=True)
def task_complete(request, pk: int):
    return _task_close(request, pk, services.task_complete)


@require_POST
@login_required
@permission_required("interactions.change_task", raise_exception=True)
def task_cancel(request, pk: int):
    return _task_close(request, pk, services.task_cancel)


# --- notifications -------------------------------------------------------------------------------------------

@require_GET
@login_required
@permission_required("interactions.view_notification", raise_exception=True)
def notification_list(request):
    unread_only = request.GET.get("unread") == "1"
    notices, next_cursor = selectors.notification_page(user=request.user, cursor=request.GET.get("cursor"),
                                                       unread_only=unread_only)
    context = {"notices": notices, "next_cursor": next_cursor, "unread_only": unread_only}
    if request.htmx and request.GET.get("cursor"):
        return render(request, "interactions/partials/notification_rows.html", context)
    return render(request, "interactions/notification_list.html", context)


def _own_notice(request, pk: int) -> Notification:
    return get_object_or_404(Notification, pk=pk, recipient=request.user.pk, in_app=True)


@require_GET
@login_required
@permission_required("interactions.view_notification", raise_exception=True)
def notification_open(request, pk: int):
    """Follow a notice to its object; following it is reading it."""
    notice = _own_notice(request, pk)
    services.notification_mark_read(notification=notice, actor=request.user)
    return redirect(notice.get_absolute_url())


@require_POST
@login_required
@permission_required("interactions.view_notification", raise_exception=True)
def notification_read(request, pk: int):
    notice = _own_notice(request, pk)
    services.notification_mark_read(notification=notice, actor=request.user)
    if request.htmx:
        response = render(request, "interactions/partials/notification_row.html", {"notice": notice})
        response["HX-Trigger"] = "crm:notices-changed"
        return response
    return redirect("interactions:notification-list")


@require_POST
@login_required
@permission_required("interactions.view_notification", raise_exception=True)
def notification_read_all(request):
    done = services.notification_mark_all_read(actor=request.user)
    messages.success(request, _("%(n)d notices marked read.") % {"n": done})
    return redirect("interactions:notification-list")


@require_GET
@login_required
@permission_required("interactions.view_notification", raise_exception=True)
def notification_bell(request):
    """The header's bell alone: loaded after a page whose count was not cached, and after a notice is read."""
    return render(request, "interactions/partials/bell.html",
                  {"bell_count": selectors.unread_count(user=request.user)})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("interactions.view_notification", raise_exception=True)
def notification_preferences(request):
    form = PreferencesForm(request.POST or None, current=selectors.notification_preferences(user=request.user))
    if request.method == "POST" and form.is_valid():
        services.notification_preferences_save(user=request.user, preferences=form.preferences())
        messages.success(request, _("Your notification settings are saved."))
        return redirect("interactions:notification-preferences")
    return render(request, "interactions/notification_preferences.html",
                  {"form": form, "has_email": bool(request.user.email)})


# --- the data dictionary ---------------------------------------------------------------------------------

@require_GET
@login_required
@permission_required("customers.view_customer", raise_exception=True)
def data_dictionary(request):
    return render(request, "interactions/data_dictionary.html", {"tables": selectors.data_dictionary()})


# --- the workbench ---------------------------------------------------------------------------------------

def _workbench_context(request) -> dict:
    from .widgets import WorkbenchData, arranged

    data = WorkbenchData(request.user)
    rows = arranged(request.user, data.figures["layout"])
    shown = [{"widget": widget, "pinned": pinned, "first": n == 0, "last": n == len(rows) - 1,
              "context": widget.context(data)}
             for n, (widget, hidden, pinned) in enumerate(rows) if not hidden]
    return {"shown": shown, "hidden": [widget for widget, hidden, _pinned in rows if hidden], "team": data.team,
            "now": data.now, "today": data.today, "close_form": TaskCloseForm()}


@require_GET
@login_required
@permission_required("interactions.use_workbench", raise_exception=True)
def workbench(request):
    """The relationship manager's home page (a branch manager's shows the team)."""
    template = "interactions/partials/workbench_grid.html" if request.htmx else "interactions/workbench.html"
    return render(request, template, _workbench_context(request))


@require_POST
@login_required
@permission_required("interactions.use_workbench", raise_exception=True)
def workbench_layout(request):
    """Hide, show, pin, unpin or move a widget; saved for this person."""
    try:
        services.workbench_layout_change(user=request.user, action=request.POST.get("action", ""),
                                         key=request.POST.get("key", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    if request.htmx:
        return render(request, "interactions/partials/workbench_grid.html", _workbench_context(request))
    return redirect("workbench:home")
