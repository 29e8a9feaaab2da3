"""Sign-in security: lockout, idle timeout, absolute lifetime, deactivation, password strength."""

import time

import pytest
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.urls import reverse

from org.middleware import SESSION_SEEN, SESSION_STARTED
from org.models import AuditEntry

pytestmark = pytest.mark.django_db


def _sign_in(client, username, password, ip="10.0.0.5"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_wrong_password_gets_a_clear_message_and_no_session(client, org):
    response = _sign_in(client, "rm1", "not-the-password")
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode() or "not correct" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_after_repeated_failures_refuses_even_the_right_password(client, org, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "rm1", "not-the-password")
    response = _sign_in(client, "rm1", "crm-demo-2026")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="locked_out", actor_username="rm1").exists()


def test_lockout_is_per_user_and_ip(client, org, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "rm1", "not-the-password", ip="10.0.0.5")
    # The same person from another address, and another user from the same address, still sign in.
    assert _sign_in(client, "rm1", "crm-demo-2026", ip="10.0.0.6").status_code == 302
    client.post(reverse("logout"))
    assert _sign_in(client, "rm2", "crm-demo-2026", ip="10.0.0.5").status_code == 302


def _age_session(client, *, idle=0, lifetime=0):
    session = client.session
    session[SESSION_SEEN] = time.time() - idle
    session[SESSION_STARTED] = time.time() - lifetime
    session.save()


def test_idle_session_ends_with_a_message(client_for, settings):
    client = client_for("rm1")
    client.get(reverse("customers:customer-list"))
    _age_session(client, idle=settings.SESSION_IDLE_TIMEOUT + 60)
    response = client.get(reverse("customers:customer-list"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("login"))
    assert "30" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="session_expired", actor_username="rm1",
                                     detail__reason="idle").exists()


def test_active_session_past_its_absolute_lifetime_ends(client_for, settings):
    client = client_for("rm1")
    client.get(reverse("customers:customer-list"))
    _age_session(client, idle=10, lifetime=settings.SESSION_ABSOLUTE_LIFETIME + 60)
    response = client.get(reverse("customers:customer-list"))
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="session_expired", detail__reason="lifetime").exists()


def test_recent_activity_keeps_the_session(client_for, settings):
    client = client_for("rm1")
    _age_session(client, idle=settings.SESSION_IDLE_TIMEOUT - 60)
    assert client.get(reverse("customers:customer-list")).status_code == 200


def test_deactivated_users_sessions_end_at_once(client_for, org):
    client = client_for("rm1")
    assert client.get(reverse("customers:customer-list")).status_code == 200
    rm1 = org["rm1"]
    rm1.is_active = False
    rm1.save()
    assert not any(s.get_decoded().get("_auth_user_id") == str(rm1.pk) for s in Session.objects.all())
    response = client.get(reverse("customers:customer-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_deactivated_user_cannot_sign_in(client, org):
    rm1 = org["rm1"]
    rm1.is_active = False
    rm1.save()
    response = _sign_in(client, "rm1", "crm-demo-2026")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("weak", ["short1A!", "alllowercaseletters", "12345678901234", "password12345"])
def test_weak_passwords_are_refused(weak):
    with pytest.raises(ValidationError):
        validate_password(weak)


def test_a_strong_password_passes():
    validate_password("Branch-CRM-2026-ok")


def test_logout_needs_post_and_csrf(client_for):
    client = client_for("rm1")
    assert client.get(reverse("logout")).status_code == 405


def test_user_without_a_role_is_told_whom_to_ask(client, org):
    from ..factories import UserFactory

    client.force_login(UserFactory(branch=org["rm1"].branch))
    response = client.get(reverse("org:home"), follow=True)
    assert response.status_code == 403
    assert response.templates[0].name == "org/no_access.html"


def test_every_role_lands_on_its_home_page(client_for):
    expectations = {
        "rm1": reverse("workbench:home"),
        "manager1": reverse("workbench:home"),
        "risk1": reverse("customers:customer-list"),
        "auditor1": reverse("org:audit-list"),
        "admin": reverse("reports:jobrun-list"),
    }
    for username, url in expectations.items():
        response = client_for(username).get(reverse("org:home"))
        assert response.status_code == 302
        assert response["Location"] == url


def test_forged_forwarded_for_does_not_dodge_the_lockout(client, org, settings):
    # No proxy is configured, so X-Forwarded-For is the client's own claim and is ignored.
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "rm1", "password": "nope"}, REMOTE_ADDR="10.0.0.5",
                    HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    response = client.post(reverse("login"), {"username": "rm1", "password": "crm-demo-2026"},
                           REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(client, org, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "rm1", "password": "nope"}, REMOTE_ADDR="10.0.0.1",
                    HTTP_X_FORWARDED_FOR="198.51.100.7")
    # Another client behind the same proxy is not locked out.
    response = client.post(reverse("login"), {"username": "rm1", "password": "crm-demo-2026"},
                           REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="login_failed", ip_address="198.51.100.7").count() == 5
