"""Messages to customers: e-mail through Django's mail, SMS through the development gateway, each logged."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from customers import services as customer_services
from interactions import services
from interactions.gateways import DevelopmentSmsGateway, GatewayError, SmsGateway, gateway_for
from interactions.models import DevelopmentSms, Interaction, Notification, OutboundMessage, TimelineEvent

from .conftest import EMAIL, HTMX, PHONE, client_as

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _send(world, django_capture_on_commit_callbacks, **values):
    fields = {"channel": "sms", "body": "您的定期存款将于下周到期。", **values}
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_send(customer=world["wang"], actor=world["org"]["rm1"], **fields)
    message.refresh_from_db()
    return message


def test_an_email_is_sent_through_djangos_mail_and_logged_as_an_outgoing_contact(world,
                                                                                   django_capture_on_commit_callbacks):
    message = _send(world, django_capture_on_commit_callbacks, channel="email", subject="到期提醒",
                    body="王女士您好，您的定期存款将于下周到期。")

    assert message.status == "sent"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [EMAIL]
    assert mail.outbox[0].subject == "到期提醒"
    note = Interaction.objects.get()
    assert (note.channel, note.direction, note.actor, note.customer) == (
        "email", "out", world["org"]["rm1"], world["wang"])
    assert note.summary == "到期提醒\n\n王女士您好，您的定期存款将于下周到期。"
    assert message.interaction == note
    assert message.to_masked == "w***@example.com"
    assert TimelineEvent.objects.get().interaction == note


def test_an_sms_goes_through_the_development_gateway_and_is_logged(world, django_capture_on_commit_callbacks):
    message = _send(world, django_capture_on_commit_callbacks)

    recorded = DevelopmentSms.objects.get()
    assert (recorded.to_masked, recorded.body, recorded.message) == ("138****5678", "您的定期存款将于下周到期。",
                                                                     message)
    assert message.status == "sent"
    assert message.external_id == f"dev-sms-{recorded.pk}"
    assert message.gateway == "interactions.gateways.DevelopmentSmsGateway"
    note = Interaction.objects.get()
    assert (note.channel, note.direction, note.purpose) == ("sms", "out", "service")


def test_no_plaintext_address_is_stored_anywhere(world, django_capture_on_commit_callbacks):
    from django.db import connection

    _send(world, django_capture_on_commit_callbacks)
    _send(world, django_capture_on_commit_callbacks, channel="email", subject="s", body="b")
    with connection.cursor() as cursor:
        for table in ("interactions_outboundmessage", "interactions_developmentsms", "interactions_interaction",
                      "org_auditentry"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            text = repr(cursor.fetchall())
            assert PHONE not in text
            assert EMAIL not in text


def test_marketing_needs_consent_and_respects_do_not_contact(world, django_capture_on_commit_callbacks):
    li = world["li"]
    customer_services.customer_update(customer=li, actor=world["org"]["rm1"], data={"marketing_consent": False},
                                      personal={"phone": "13700001111"})
    with pytest.raises(ValidationError):
        services.message_send(customer=li, actor=world["org"]["rm1"], channel="sms", body="新品推荐",
                              purpose="marketing")
    # A service notice is allowed without marketing consent.
    services.message_send(customer=li, actor=world["org"]["rm1"], channel="sms", body="您的卡片已寄出")
    wang = world["wang"]
    customer_services.customer_update(customer=wang, actor=world["org"]["rm1"], data={"do_not_contact": True},
                                      personal={})
    with pytest.raises(ValidationError):
        services.message_send(customer=wang, actor=world["org"]["rm1"], channel="sms", body="新品推荐",
                              purpose="marketing")
    assert OutboundMessage.objects.count() == 1


def test_a_customer_without_the_address_or_closed_gets_nothing(world):
    with pytest.raises(ValidationError, match="No e-mail address"):
        services.message_send(customer=world["li"], actor=world["org"]["rm1"], channel="email", subject="s", body="b")
    customer_services.customer_close(customer=world["wang"], actor=world["org"]["rm1"], reason="销户")
    with pytest.raises(ValidationError, match="closed"):
        services.message_send(customer=world["wang"], actor=world["org"]["rm1"], channel="sms", body="b")
    assert not OutboundMessage.objects.exists()
    assert not Interaction.objects.exists()


class FailingSms(SmsGateway):
    def send(self, *, to, subject, body, reference):
        raise GatewayError("provider rejected the number")


def test_a_gateway_failure_is_recorded_and_the_sender_is_told(world, settings, django_capture_on_commit_callbacks):
    settings.SMS_GATEWAY = "tests.interactions.test_messages.FailingSms"
    message = _send(world, django_capture_on_commit_callbacks)
    assert (message.status, message.error) == ("failed", "provider rejected the number")
    notice = Notification.objects.get()
    assert (notice.recipient, notice.kind) == (world["org"]["rm1"], "message_failed")
    assert Interaction.objects.count() == 1  # the attempt stays on the record


def test_a_message_is_handed_to_the_gateway_once(world, django_capture_on_commit_callbacks):
    message = _send(world, django_capture_on_commit_callbacks)
    assert services.outbound_deliver(message_id=message.pk) is None
    assert DevelopmentSms.objects.count() == 1


def test_sending_from_the_360_page_returns_the_refreshed_timeline(world):
    client = client_as(world["org"], "rm1")
    response = client.post(reverse("interactions:message-send", args=[world["wang"].pk]),
                           {"channel": "sms", "purpose": "service", "subject": "", "body": "您好，资料已收到。"},
                           **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="panel-timeline"')
    assert "资料已收到" in html
    assert OutboundMessage.objects.get().status in ("queued", "sent")


def test_a_sent_message_cannot_be_corrected(world, django_capture_on_commit_callbacks):
    message = _send(world, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError):
        services.interaction_correct(interaction=message.interaction, actor=world["org"]["rm1"], reason="x",
                                     values={"summary": "改写"})


def test_the_sms_gateway_is_pluggable_and_checked():
    assert isinstance(gateway_for("sms"), DevelopmentSmsGateway)
    with pytest.raises(ValueError, match="fax"):
        gateway_for("fax")


def test_risk_officer_may_not_send(world):
    response = client_as(world["org"], "risk1").post(
        reverse("interactions:message-send", args=[world["wang"].pk]), {"channel": "sms", "body": "x"})
    assert response.status_code == 403
    assert not OutboundMessage.objects.exists()
