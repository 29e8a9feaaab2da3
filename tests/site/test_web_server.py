"""The production web server (gunicorn with gunicorn.conf.py, as the Dockerfile and docker-compose start it) lets a
request run past the worker timeout: an XLSX export of a million customers takes about a minute, and under the
sync workers it used to have, the arbiter killed the worker at 30 s and the operator's download failed with 500."""

from __future__ import annotations

import http.cookiejar
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import psycopg
import pytest

from tests.workers import ROOT, _test_database_url, free_port

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 2  # the worker timeout the server runs with here (30 s in production)


@pytest.fixture
def web(tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "DJANGO_DEBUG": "true",
           "WEB_BIND": f"127.0.0.1:{port}", "WEB_WORKERS": "1", "WEB_THREADS": "2", "WEB_TIMEOUT": str(TIMEOUT)}
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "crm_site.wsgi:application"],  # noqa: S603
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        raise AssertionError(f"gunicorn did not start: {log_path.read_text()[-2000:]}")
    yield f"http://127.0.0.1:{port}", log_path
    server.terminate()
    server.wait(timeout=15)


def test_a_request_that_outlasts_the_worker_timeout_is_answered_and_other_users_are_served_meanwhile(web):
    base, log_path = web
    cookies = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    browser.open(f"{base}/accounts/login/", timeout=10).read()
    token = next(cookie.value for cookie in cookies if cookie.name == "csrftoken")
    form = urllib.parse.urlencode({"username": "nobody", "password": "wrong", "csrfmiddlewaretoken": token}).encode()
    outcome: dict = {}

    def sign_in() -> None:
        begin = time.monotonic()
        request = urllib.request.Request(f"{base}/accounts/login/", data=form,  # noqa: S310 - http to the test server
                                         headers={"Referer": f"{base}/accounts/login/"})
        try:
            with browser.open(request, timeout=60) as response:
                outcome.update(status=response.status, body=response.read().decode())
        except (urllib.error.URLError, ConnectionError) as exc:  # a killed worker drops the connection
            outcome.update(error=repr(exc))
        outcome["seconds"] = time.monotonic() - begin

    # The sign-in reads the user table; holding it locked makes the request last three worker timeouts.
    with psycopg.connect(_test_database_url()) as blocker:
        blocker.execute("LOCK TABLE org_user IN ACCESS EXCLUSIVE MODE")
        request = threading.Thread(target=sign_in)
        request.start()
        time.sleep(3 * TIMEOUT)
        # Meanwhile the same worker answers another user from its other thread.
        with urllib.request.urlopen(f"{base}/accounts/login/", timeout=TIMEOUT) as other:  # noqa: S310
            assert other.status == 200
        blocker.rollback()
    request.join(timeout=60)
    assert "error" not in outcome, outcome
    assert outcome["status"] == 200
    assert outcome["seconds"] >= 3 * TIMEOUT
    assert 'name="password"' in outcome["body"]  # the form again, with its message: the request ran to its end
    assert "WORKER TIMEOUT" not in log_path.read_text()
