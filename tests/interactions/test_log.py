"""Logging contacts from the 360° page, the timeline panel, corrections that keep history, confidentiality."""

import datetime as dt
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, InternalError, ProgrammingError, transaction
from django.urls import reverse
from django.utils import timezone

from interactions import selectors, services
from interactions.models import Interaction, InteractionRevision, Task, TimelineEvent
from org.models import AuditEntry

from .conftest import HTMX, client_as

pytestmark = pytest.mark.django_db


def _log_form(**values):
    data = {"channel": "phone", "direction": "out", "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "purpose": "maturity", "summary": "客户同意到期后续存一年。", "feedback": "", "sentiment": "positive",
            "agreements": "", "next_step": "", "related_type": "", "related_id": ""}
    data.update(values)
    return data


def _log(world, actor="rm1", customer="wang", **values):
    fields = {"channel": "phone", "occurred_at": timezone.now() - dt.timedelta(minutes=5), "summary": "电话回访",
              **values}
    return services.interaction_log(customer=world[customer], actor=world["org"][actor], **fields)


def test_rm_logs_a_call_from_the_360_page_and_gets_the_refreshed_panel_back(world):
    client = client_as(world["org"], "rm1")
    url = reverse("interactions:interaction-log", args=[world["wang"].pk])

    response = client.post(url, _log_form(next_step="下周三带理财产品资料上门", create_task="on",
                                          task_due_at=(timezone.localtime() + dt.timedelta(days=2))
                                          .strftime("%Y-%m-%dT%H:%M")), **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="panel-timeline"')  # the panel alone, no page
    assert "<html" not in html
    assert "客户同意到期后续存一年。" in html
    assert "Contact logged." in html
    interaction = Interaction.objects.get()
    assert (interaction.customer, interaction.actor, interaction.channel, interaction.purpose) == (
        world["wang"], world["org"]["rm1"], "phone", "maturity")
    task = Task.objects.get()
    assert (task.title, task.assignee, task.customer, task.source_interaction) == (
        "下周三带理财产品资料上门", world["org"]["rm1"], world["wang"], interaction)
    assert TimelineEvent.objects.get().interaction == interaction


def test_the_360_page_loads_the_timeline_panel_after_the_page(world):
    _log(world, summary="上次的通话")
    client = client_as(world["org"], "rm1")

    page = client.get(world["wang"].get_absolute_url()).content.decode()
    panel = client.get(reverse("customers:customer-panel", args=[world["wang"].pk, "timeline"]), **HTMX)

    assert 'hx-trigger="load"' in page
    assert "上次的通话" not in page
    assert "上次的通话" in panel.content.decode()
    assert 'data-testid="log-form"' in panel.content.decode()


def test_an_invalid_log_returns_the_panel_with_the_errors_and_saves_nothing(world):
    client = client_as(world["org"], "rm1")
    url = reverse("interactions:interaction-log", args=[world["wang"].pk])

    response = client.post(url, _log_form(summary="", create_task="on"), **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="error-summary"' in html
    assert "Write the next step to make a task of it." in html
    assert "Give the task a due time." in html
    assert not Interaction.objects.exists()
    assert not Task.objects.exists()


def test_a_contact_cannot_be_logged_in_the_future(world):
    with pytest.raises(ValidationError) as error:
        _log(world, occurred_at=timezone.now() + dt.timedelta(hours=2))
    assert error.value.message_dict == {"occurred_at": ["A contact cannot be logged in the future."]}
    assert not Interaction.objects.exists()


def test_a_linked_record_needs_type_and_number(world):
    with pytest.raises(ValidationError):
        _log(world, related_type="ticket")
    interaction = _log(world, related_type="opportunity", related_id=42)
    assert (interaction.related_type, interaction.related_id) == ("opportunity", 42)


def test_an_rm_cannot_log_on_another_rms_customer(world):
    from django.http import Http404

    with pytest.raises(Http404):
        _log(world, actor="rm2", customer="wang")
    assert not Interaction.objects.exists()


def test_risk_officer_may_read_the_timeline_but_not_log(world):
    with pytest.raises(PermissionDenied):
        _log(world, actor="risk1")
    panel = client_as(world["org"], "risk1").get(
        reverse("customers:customer-panel", args=[world["wang"].pk, "timeline"]), **HTMX).content.decode()
    assert 'data-testid="log-form"' not in panel
    assert 'data-testid="timeline"' in panel


# --- the timeline ------------------------------------------------------------------------------------------

def _bulk_timeline(customer, actor, count):
    start = timezone.now() - dt.timedelta(days=count)
    notes = Interaction.objects.bulk_create(
        Interaction(customer=customer, actor=actor, channel="phone", occurred_at=start + dt.timedelta(hours=n),
                    summary=f"N{n:04d}") for n in range(count))
    TimelineEvent.objects.bulk_create(
        TimelineEvent(customer=customer, kind="interaction", occurred_at=note.occurred_at, actor=actor,
                      interaction=note) for note in notes)


def test_the_timeline_is_newest_first_and_scrolls_on_without_losing_or_repeating_entries(world):
    _bulk_timeline(world["wang"], world["org"]["rm1"], 45)
    client = client_as(world["org"], "rm1")
    first = client.get(reverse("customers:customer-panel", args=[world["wang"].pk, "timeline"]), **HTMX)
    seen = re.findall(r"N\d{4}", first.content.decode())
    html = first.content.decode()
    while 'data-testid="timeline-more"' in html:
        next_url = re.search(r'hx-get="([^"]+timeline/\?cursor=[^"]+)"', html).group(1).replace("&amp;", "&")
        html = client.get(next_url, **HTMX).content.decode()
        seen += re.findall(r"N\d{4}", html)

    assert seen == [f"N{n:04d}" for n in range(44, -1, -1)]


def test_other_apps_publish_events_once_and_the_timeline_filters_by_kind(world):
    _log(world, summary="电话回访内容")
    for _ in range(2):
        services.timeline_publish(customer=world["wang"], kind="ticket", occurred_at=timezone.now(),
                                  title="投诉工单 #42 已受理", url="/service/tickets/42/",
                                  source_key="ticket:42:opened")
    client = client_as(world["org"], "rm1")
    url = reverse("customers:customer-panel", args=[world["wang"].pk, "timeline"])

    everything = client.get(url, **HTMX).content.decode()
    tickets = client.get(url, {"kind": "ticket"}, **HTMX).content.decode()

    assert TimelineEvent.objects.filter(kind="ticket").count() == 1
    assert everything.index("投诉工单 #42 已受理") < everything.index("电话回访内容")  # newest first
    assert "投诉工单 #42 已受理" in tickets
    assert "电话回访内容" not in tickets


def test_timeline_publish_refuses_unknown_kinds(world):
    with pytest.raises(ValueError, match="unknown timeline kind"):
        services.timeline_publish(customer=world["wang"], kind="gossip", occurred_at=timezone.now(), title="x")


@pytest.mark.parametrize("entries", [30, 300])
def test_the_timeline_panel_costs_the_same_few_queries_however_long_the_timeline(world, entries,
                                                                                django_assert_max_num_queries):
    _bulk_timeline(world["wang"], world["org"]["rm1"], entries)
    client = client_as(world["org"], "rm1")
    url = reverse("customers:customer-panel", args=[world["wang"].pk, "timeline"])
    client.get(url, **HTMX)

    # session, user, 2× permissions, groups, branch, customer, timeline page
    with django_assert_max_num_queries(8):
        response = client.get(url, **HTMX)

    assert len(re.findall(r'data-testid="timeline-entry"', response.content.decode())) == 20


def test_the_timeline_reads_a_customers_5000_entries_through_its_index(world):
    from django.db import connection

    _bulk_timeline(world["wang"], world["org"]["rm1"], 5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE interactions_timelineevent")
    qs = TimelineEvent.objects.filter(customer=world["wang"]).order_by("-occurred_at", "-id")[:21]
    plan = qs.explain()
    assert "tl_customer_time" in plan
    assert "Sort" not in plan.split("->")[0]


# --- corrections and history -------------------------------------------------------------------------------

def test_the_author_corrects_a_note_and_the_old_text_is_kept(world):
    note = _log(world, summary="客户想买基金")
    client = client_as(world["org"], "rm1")
    url = reverse("interactions:interaction-correct", args=[note.pk])
    form = {**_log_form(summary="客户想买定期，不买基金"), "purpose": "follow_up",
            "sentiment": "", "occurred_at": timezone.localtime(note.occurred_at).strftime("%Y-%m-%dT%H:%M"),
            "reason": "记错了产品"}

    response = client.post(url, form)

    assert response.status_code == 302
    note.refresh_from_db()
    assert (note.summary, note.version) == ("客户想买定期，不买基金", 2)
    revision = InteractionRevision.objects.get()
    assert (revision.version, revision.summary, revision.reason, revision.replaced_by) == (
        1, "客户想买基金", "记错了产品", world["org"]["rm1"])
    detail = client.get(note.get_absolute_url()).content.decode()
    assert "客户想买基金" in detail
    assert "客户想买定期，不买基金" in detail
    panel = client.get(reverse("customers:customer-panel", args=[world["wang"].pk, "timeline"]), **HTMX)
    assert 'data-testid="corrected"' in panel.content.decode()
    assert AuditEntry.objects.filter(object_type="interactions.interaction", object_id=str(note.pk),
                                     action="update", actor_username="rm1").exists()


def test_only_the_author_may_correct(world):
    note = _log(world, actor="manager1")
    with pytest.raises(PermissionDenied):
        services.interaction_correct(interaction=note, actor=world["org"]["rm1"], reason="x",
                                     values={"summary": "改"})
    assert client_as(world["org"], "rm1").post(
        reverse("interactions:interaction-correct", args=[note.pk]), {"summary": "改", "reason": "x"}
    ).status_code == 403
    note.refresh_from_db()
    assert (note.summary, note.version) == ("电话回访", 1)


def test_a_correction_needs_a_reason_and_a_change(world):
    note = _log(world)
    with pytest.raises(ValidationError):
        services.interaction_correct(interaction=note, actor=world["org"]["rm1"], reason="", values={"summary": "改"})
    with pytest.raises(ValidationError):
        services.interaction_correct(interaction=note, actor=world["org"]["rm1"], reason="x",
                                     values={"summary": "电话回访"})
    assert not InteractionRevision.objects.exists()


def test_the_database_refuses_to_delete_a_note_or_rewrite_its_history(world):
    note = _log(world)
    services.interaction_correct(interaction=note, actor=world["org"]["rm1"], reason="x", values={"summary": "改"})

    with pytest.raises((InternalError, ProgrammingError, IntegrityError)), transaction.atomic():
        Interaction.objects.filter(pk=note.pk)._raw_delete(Interaction.objects.db)
    with pytest.raises((InternalError, ProgrammingError, IntegrityError)), transaction.atomic():
        InteractionRevision.objects.update(summary="篡改")
    assert Interaction.objects.filter(pk=note.pk).exists()
    assert InteractionRevision.objects.get().summary == "电话回访"


def test_logging_is_audited_with_the_actor(world):
    client = client_as(world["org"], "rm1")
    client.post(reverse("interactions:interaction-log", args=[world["wang"].pk]), _log_form(), **HTMX)
    note = Interaction.objects.get()
    entry = AuditEntry.objects.get(object_type="interactions.interaction", object_id=str(note.pk))
    assert (entry.action, entry.actor_username) == ("create", "rm1")
    assert "summary" in entry.fields
    assert "客户" not in str(entry.detail)  # names of fields, never the text


# --- confidentiality ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("username", "reads"), [
    ("rm1", True),        # the customer's relationship manager
    ("manager1", True),   # branch-level role in the customer's home branch (BJ01)
    ("service1", True),   # ditto
    ("risk1", False),     # head office sees the customer, not the confidential text
    ("auditor1", False),
])
def test_a_confidential_note_reads_only_for_the_owners_team(world, username, reads):
    _log(world, summary="客户家庭变故，暂缓营销", confidential=True)
    _log(world, summary="普通回访")
    client = client_as(world["org"], username)

    panel = client.get(reverse("customers:customer-panel", args=[world["wang"].pk, "timeline"]), **HTMX)
    detail = client.get(Interaction.objects.get(confidential=True).get_absolute_url())

    html = panel.content.decode()
    assert "普通回访" in html
    assert ("客户家庭变故" in html) is reads
    assert ('data-testid="confidential-placeholder"' in html) is not reads
    assert ("客户家庭变故" in detail.content.decode()) is reads


def test_a_confidential_note_is_readable_by_its_author_outside_the_team(world, org):
    from customers.services import customer_share

    customer_share(customer=world["wang"], with_user=org["rm2"], actor=org["manager1"])
    note = _log(world, actor="rm2", summary="代班客户经理的保密记录", confidential=True)
    assert selectors.interaction_readable(org["rm2"], note)
    assert not selectors.interaction_readable(org["risk1"], note)
    assert selectors.interaction_readable(org["rm1"], note)
