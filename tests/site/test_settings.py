"""Production settings: refuse to start without secrets, and pass `check --deploy` with zero findings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Set by the browser tests' conftest for their own process; a deployment never has it.
TEST_ONLY = {"DJANGO_ALLOW_ASYNC_UNSAFE"}

PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "x7#Qp2!vL9@mZ4$wR8^tY1&kN6*bH3(jD5)gF0_sA-eC+uI=oP" * 2,
    "FIELD_ENCRYPTION_KEYS": "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "BLIND_INDEX_KEY": "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
    "DJANGO_ALLOWED_HOSTS": "crm.bank.example",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if key not in PRODUCTION.keys() | TEST_ONLY}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_production_settings_pass_check_deploy_with_zero_findings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY",
                                     "DJANGO_ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_a_required_setting(missing):
    env = {key: value for key, value in PRODUCTION.items() if key != missing}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert missing in result.stderr
    # The message names the variable and never prints the other secrets.
    assert PRODUCTION["BLIND_INDEX_KEY"] not in result.stderr
    assert PRODUCTION["DJANGO_SECRET_KEY"] not in result.stderr


def test_a_malformed_setting_is_named():
    result = _manage("check", env={**PRODUCTION, "SESSION_IDLE_TIMEOUT_MINUTES": "half an hour"})
    assert result.returncode != 0
    assert "half an hour" in result.stderr or "SESSION_IDLE_TIMEOUT_MINUTES" in result.stderr


def test_production_pages_carry_the_security_headers(tmp_path):
    static = {"STATIC_ROOT": str(tmp_path / "static")}
    collected = _manage("collectstatic", "--noinput", env={**PRODUCTION, **static})
    assert collected.returncode == 0, collected.stderr
    code = (
        "import django;django.setup();"
        "from django.test import Client;"
        "r=Client().get('/accounts/login/', secure=True, HTTP_HOST='crm.bank.example');"
        "print(r.status_code);print(r.headers['Content-Security-Policy']);"
        "print(r.headers['Strict-Transport-Security'])"
    )
    base = {key: value for key, value in os.environ.items() if key not in PRODUCTION.keys() | TEST_ONLY}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**base, **PRODUCTION, **static, "DJANGO_SETTINGS_MODULE": "crm_site.settings"})
    assert result.returncode == 0, result.stderr
    status, csp, hsts = result.stdout.strip().splitlines()[-3:]
    assert status == "200"
    assert "unsafe-inline" not in csp
    assert "script-src 'self'" in csp
    assert "max-age=31536000" in hsts
