"""Where messages to customers leave the CRM: one gateway per channel, chosen by settings.

A gateway takes a plaintext address only for the length of `send()`; it never stores it. Pages,
logs and the database keep the masked form. `interactions.services.outbound_deliver` is the only
caller.

- E-mail goes through Django's mail backend (`EMAIL_BACKEND`: the console in development, SMTP
  configured from the environment in production).
- SMS goes through `SMS_GATEWAY` (a dotted path to an `SmsGateway` subclass). The default,
  `DevelopmentSmsGateway`, records each message in the database (the "development SMS outbox" in
  admin) instead of reaching a phone; a bank plugs its SMS provider in with a subclass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string

DEFAULT_SMS_GATEWAY = "interactions.gateways.DevelopmentSmsGateway"


class GatewayError(Exception):
    """The gateway refused or could not take the message; the text says why (no personal data)."""


class Gateway(ABC):
    channel: str = ""

    @property
    def name(self) -> str:
        return f"{type(self).__module__}.{type(self).__qualname__}"

    @abstractmethod
    def send(self, *, to: str, subject: str, body: str, reference: str) -> str:
        """Hand one message over; return the gateway's reference for it, or raise GatewayError."""


class EmailGateway(Gateway):
    """E-mail through Django's configured mail backend."""

    channel = "email"

    def send(self, *, to: str, subject: str, body: str, reference: str) -> str:
        message = EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to],
                               headers={"X-CRM-Reference": reference})
        try:
            sent = message.send(fail_silently=False)
        except Exception as exc:  # noqa: BLE001 - SMTP and socket errors alike mean "not sent"
            raise GatewayError(type(exc).__name__) from exc
        if not sent:
            raise GatewayError("the mail backend accepted no message")
        return str(message.extra_headers.get("Message-ID") or reference)


class SmsGateway(Gateway):
    """The interface an SMS provider's adapter implements (`send` posts to the provider's API)."""

    channel = "sms"
    # A Chinese SMS segment holds 70 characters; providers join up to about 7 segments.
    MAX_LENGTH = 500


class DevelopmentSmsGateway(SmsGateway):
    """Records the message in the database (masked number and text) instead of sending it."""

    def send(self, *, to: str, subject: str, body: str, reference: str) -> str:
        from customers.pii import mask_phone

        from .models import DevelopmentSms

        if len(body) > self.MAX_LENGTH:
            raise GatewayError(f"longer than {self.MAX_LENGTH} characters")
        message_id = int(reference) if reference.isdigit() else None
        record = DevelopmentSms.objects.create(to_masked=mask_phone(to), body=body, message_id=message_id)
        return f"dev-sms-{record.pk}"


def gateway_for(channel: str) -> Gateway:
    if channel == EmailGateway.channel:
        return EmailGateway()
    if channel == SmsGateway.channel:
        gateway = import_string(getattr(settings, "SMS_GATEWAY", DEFAULT_SMS_GATEWAY))()
        if not isinstance(gateway, SmsGateway):
            raise TypeError("SMS_GATEWAY must name an SmsGateway subclass")
        return gateway
    raise ValueError(channel)
