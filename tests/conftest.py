"""Fixtures shared by every test: the demo organisation (branch tree, one user per role) and customers.

Tests run against real PostgreSQL and Redis (the embedded ones unless DATABASE_URL / REDIS_URL are
set), and worker tests against a real Celery worker process (tests/workers.py).
"""

import os

import pytest
from django.apps import apps as django_apps
from django.test import Client

from org.demo import seed_organisation
from org.roles import ROLE_PERMISSIONS, sync_role_permissions

from .factories import CustomerFactory


def pytest_configure(config):
    # Tasks sent by tests go to a queue of their own, so a `make run` worker on the same Redis
    # (which uses the development database) never takes them.
    from crm_site.celery import app as celery_app

    if celery_app.conf.task_default_queue == "celery":
        celery_app.conf.task_default_queue = f"crm-test-{os.getpid()}"


@pytest.fixture
def shared_media(settings, tmp_path, monkeypatch):
    """One media folder for this process (the web side, the live server) and the workers it starts (other
    processes read the environment): an upload stored here is read there, and a file written there is served here."""
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path))
    return tmp_path


@pytest.fixture
def media_worker(roles, shared_media):
    """A real Celery worker process (tests/workers.py) on the test's queue, database and media folder."""
    from .workers import Worker

    running = Worker().start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _english_unless_asked(settings):
    # Messages are asserted in English; the Chinese UI is exercised by the browser tests, whose
    # Chinese browsers ask for zh-CN (Accept-Language wins over LANGUAGE_CODE).
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 at its production cost makes every demo user take ~0.4 s to create; hashing is
    # Django's, not ours, so tests use its cheapest hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def roles(db):
    """The role Groups. A data migration creates them; transactional tests' flush removes them."""
    sync_role_permissions(django_apps, ROLE_PERMISSIONS)


@pytest.fixture
def tiers(db):
    """Default tier thresholds (a data migration creates them; a transactional test's flush removes them)."""
    from decimal import Decimal

    from customers.models import TierThreshold

    for tier, amount in (("mass", "0"), ("affluent", "500000"), ("wealth", "6000000"), ("private", "30000000")):
        TierThreshold.objects.get_or_create(tier=tier, defaults={"min_aum": Decimal(amount)})


@pytest.fixture
def org(roles, tiers):
    """The demo branch tree and staff: org["rm1"], org["manager1"], … (see org/demo.py)."""
    return seed_organisation()


@pytest.fixture
def customers(org):
    """Two customers per RM; one customer in Shanghai that nobody in Beijing sees."""
    from org.models import Branch

    made = {}
    for rm in ("rm1", "rm2", "rm3"):
        user = org[rm]
        made[rm] = [CustomerFactory(home_branch=user.branch, primary_rm=user) for _ in range(2)]
    made["shanghai"] = [CustomerFactory(home_branch=Branch.objects.get(code="SH01"), primary_rm=None)]
    return made


@pytest.fixture
def client_for(org):
    """A signed-in test client for a demo user: client_for("rm1")."""

    def make(username: str) -> Client:
        client = Client()
        client.force_login(org[username])
        return client

    return make
