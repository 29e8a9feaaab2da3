"""Request middleware: session lifetime limits and the audit context for row-change triggers."""

from __future__ import annotations

import time

import pghistory
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.utils.translation import gettext as _

from .audit import audit_record, client_ip
from .models import AuditEntry

SESSION_STARTED = "crm_started_at"
SESSION_SEEN = "crm_last_seen_at"
# Write the "last seen" stamp at most this often, so a page view is not a session write.
SEEN_RESOLUTION = 60


class SessionLifetimeMiddleware:
    """End a session after the idle timeout or the absolute lifetime, or when the user is deactivated."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            started = request.session.get(SESSION_STARTED, now)
            seen = request.session.get(SESSION_SEEN, now)
            reason = None
            if now - seen > settings.SESSION_IDLE_TIMEOUT:
                reason = "idle"
                text = _("Your session ended after %(minutes)d minutes without activity. Please sign in again.") % {
                    "minutes": settings.SESSION_IDLE_TIMEOUT // 60
                }
            elif now - started > settings.SESSION_ABSOLUTE_LIFETIME:
                reason = "lifetime"
                text = _("Your session reached its maximum length of %(hours)d hours. Please sign in again.") % {
                    "hours": settings.SESSION_ABSOLUTE_LIFETIME // 3600
                }
            if reason:
                audit_record(action=AuditEntry.Action.SESSION_EXPIRED, actor=user, request=request,
                             detail={"reason": reason})
                logout(request)
                messages.warning(request, text)
                if request.htmx:
                    return self.get_response_for_htmx(request)
                return redirect_to_login(request.get_full_path())
            if SESSION_STARTED not in request.session:
                request.session[SESSION_STARTED] = now
            if now - seen >= SEEN_RESOLUTION or SESSION_SEEN not in request.session:
                request.session[SESSION_SEEN] = now
        return self.get_response(request)

    @staticmethod
    def get_response_for_htmx(request):
        # An htmx swap would put the sign-in page inside a panel; send the whole page there.
        response = HttpResponse(status=204)
        response["HX-Redirect"] = resolve_url(settings.LOGIN_URL)
        return response


class AuditContextMiddleware:
    """Open the context the row-change trigger reads: who (id and username), from which IP, which URL."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return self.get_response(request)
        user = getattr(request, "user", None)
        authenticated = user is not None and user.is_authenticated
        with pghistory.context(
            user=user.pk if authenticated else None,
            username=user.username if authenticated else "",
            ip=client_ip(request),
            url=request.path,
        ):
            return self.get_response(request)
