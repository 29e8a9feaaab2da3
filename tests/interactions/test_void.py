"""A note logged on the wrong customer is voided, never deleted: by its author or a branch manager, with a
reason, audited, and shown struck through on the timeline; it no longer counts as contact with the customer."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from interactions import services
from interactions.models import Interaction
from org.models import AuditEntry

from .conftest import HTMX, client_as

pytestmark = pytest.mark.django_db


def _log(world, actor="rm1", customer="wang", **values):
    fields = {"channel": "phone", "occurred_at": timezone.now() - dt.timedelta(minutes=5), "summary": "电话回访",
              **values}
    return services.interaction_log(customer=world[customer], actor=world["org"][actor], **fields)


def test_the_author_voids_a_note_with_a_reason_and_the_timeline_strikes_it_through(world):
    note = _log(world, summary="客户要求提前支取")
    client = client_as(world["org"], "rm1")

    page = client.get(note.get_absolute_url()).content.decode()
    assert 'data-testid="void"' in page
    response = client.post(reverse("interactions:interaction-void", args=[note.pk]), {"reason": "记错客户了"})

    assert response.status_code == 302
    note.refresh_from_db()
    assert note.voided_at is not None
    assert (note.voided_by, note.void_reason) == (world["org"]["rm1"], "记错客户了")
    assert Interaction.objects.filter(pk=note.pk).exists()  # never deleted
    panel = client.get(reverse("customers:customer-panel", args=[world["wang"].pk, "timeline"]), **HTMX)
    html = panel.content.decode()
    assert 'data-testid="voided"' in html
    assert "记错客户了" in html
    assert "text-decoration-line-through" in html
    assert "客户要求提前支取" in html  # still there to read, struck through
    detail = client.get(note.get_absolute_url()).content.decode()
    assert 'data-testid="void-notice"' in detail
    assert 'data-testid="void"' not in detail  # nothing left to void
    assert "/correct/" not in detail


def test_voiding_is_audited_with_who_and_which_fields(world):
    note = _log(world)
    client_as(world["org"], "rm1").post(reverse("interactions:interaction-void", args=[note.pk]), {"reason": "错了"})

    entry = AuditEntry.objects.filter(object_type="interactions.interaction", object_id=str(note.pk),
                                      action="update").get()
    assert entry.actor_username == "rm1"
    assert {"voided_at", "void_reason"} <= set(entry.fields)
    assert "错了" not in str(entry.detail)  # field names, never the text


def test_the_branch_manager_voids_an_rms_note_another_rm_may_not(world):
    note = _log(world)
    with pytest.raises(Http404):  # rm3 works in the same branch but does not see rm1's customer
        services.interaction_void(interaction=note, actor=world["org"]["rm3"], reason="x")
    with pytest.raises(PermissionDenied):  # service1 sees the customer and writes notes, but not this one
        services.interaction_void(interaction=note, actor=world["org"]["service1"], reason="x")
    services.interaction_void(interaction=note, actor=world["org"]["manager1"], reason="挂错客户")
    note.refresh_from_db()
    assert note.voided_by == world["org"]["manager1"]


def test_a_void_needs_a_reason_happens_once_and_a_voided_note_cannot_be_corrected(world):
    note = _log(world)
    rm1 = world["org"]["rm1"]
    with pytest.raises(ValidationError):
        services.interaction_void(interaction=note, actor=rm1, reason="  ")
    response = client_as(world["org"], "rm1").post(reverse("interactions:interaction-void", args=[note.pk]),
                                                    {"reason": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    note.refresh_from_db()
    assert note.voided_at is None

    services.interaction_void(interaction=note, actor=rm1, reason="错了")
    with pytest.raises(ValidationError):
        services.interaction_void(interaction=note, actor=rm1, reason="再来一次")
    with pytest.raises(ValidationError):
        services.interaction_correct(interaction=note, actor=rm1, reason="x", values={"summary": "改"})


def test_a_message_sent_to_the_customer_cannot_be_voided(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_send(customer=world["wang"], actor=world["org"]["rm1"], channel="sms",
                                        purpose="service", body="您的存款即将到期")
    with pytest.raises(ValidationError):
        services.interaction_void(interaction=message.interaction, actor=world["org"]["rm1"], reason="x")


def test_a_voided_contact_no_longer_counts_as_contact_with_the_customer(world):
    from customers.models import Customer

    Customer.objects.filter(pk=world["wang"].pk).update(tier="wealth")
    note = _log(world)
    client = client_as(world["org"], "rm1")
    assert "C0000600001" not in _quiet(client)
    services.interaction_void(interaction=note, actor=world["org"]["rm1"], reason="记错客户了")
    assert "C0000600001" in _quiet(client)


def _quiet(client):
    html = client.get(reverse("workbench:home")).content.decode()
    start = html.index('data-testid="contact-quiet"')
    return html[start:html.index("</ul>", start)]
