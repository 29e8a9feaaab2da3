"""GET /healthz/: database, cache, broker and worker, each "ok" or "down"; 503 when any is down.

No sign-in, no data: a load balancer or an operator's probe reads it. Each check has a short
timeout so a dead Redis answers in about a second, not a minute.
"""

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

from crm_site.celery import app as celery_app

TIMEOUT = 1.0


def _database() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def _cache() -> bool:
    cache.set("healthz", "1", timeout=10)
    return cache.get("healthz") == "1"


def _connection() -> Connection:
    # Built from settings on each call (not Celery's pooled connection) so a Redis that went away
    # is noticed at once and the probe never waits on a stale socket.
    return Connection(settings.CELERY_BROKER_URL, connect_timeout=TIMEOUT,
                      transport_options={"socket_connect_timeout": TIMEOUT, "socket_timeout": TIMEOUT})


def _broker() -> bool:
    with _connection() as conn:
        conn.ensure_connection(max_retries=1, timeout=TIMEOUT)
        return True


def _worker() -> bool:
    with _connection() as conn:
        return bool(celery_app.control.ping(timeout=TIMEOUT, connection=conn))


CHECKS = {"database": _database, "cache": _cache, "broker": _broker, "worker": _worker}


@never_cache
@require_GET
def healthz(request):
    report = {}
    for name, check in CHECKS.items():
        if name == "worker" and report.get("broker") != "ok":
            report[name] = "down"  # no broker, no way to reach a worker
            continue
        try:
            report[name] = "ok" if check() else "down"
        except Exception:  # noqa: BLE001 - any failure of a part means "down"; never leak its detail
            report[name] = "down"
    status = 200 if all(value == "ok" for value in report.values()) else 503
    return JsonResponse(report, status=status)
