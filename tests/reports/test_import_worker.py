"""Imports on a real Celery worker: a SIGKILLed worker mid-validation and mid-commit, then exactly the file's rows."""

import signal

import pytest
from django.db import connection

from customers.models import Customer
from org.models import AuditEntry
from reports import imports
from reports.models import ImportJob

from ..workers import wait_for
from .importing import csv_bytes, resident_id, upload

pytestmark = pytest.mark.django_db(transaction=True)
ROWS = 40_000  # validated in two forked shards in ≈ 1 s: long enough to be caught part-way


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch):
    # Read by the worker when it starts (autouse fixtures come first): many small chunks, so a kill lands between two.
    monkeypatch.setenv("IMPORT_CHUNK_ROWS", "500")


def _feed(count: int) -> bytes:
    rows = [["客户号", "姓名", "证件号码", "所属网点"]]
    for n in range(count):
        rows.append([f"K{n:09d}", "张三", resident_id(f"1101081990{n % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}"),
                     "BJ01"])
    return csv_bytes(rows)


def _job(job):
    job.refresh_from_db()
    return job


def _kill(worker) -> None:
    victims = worker.pool_children()
    assert len(victims) == 1
    victims[0].send_signal(signal.SIGKILL)


@pytest.mark.worker
def test_worker_killed_mid_validation_and_mid_commit_ends_with_exactly_the_files_rows(org, media_worker):
    job = imports.import_start(actor=org["ops1"], upload=upload(_feed(ROWS)), kind="customers", mode="create")
    wait_for(lambda: 0 < _job(job).rows_done < ROWS and job.status == "validating", timeout=90,
             interval=0.05, what="validation to be part-way")
    _kill(media_worker)
    wait_for(lambda: _job(job).status == "validated", timeout=180, what="the redelivered validation")
    assert job.attempts == 2
    assert (job.count_new, job.count_invalid, job.rows_done) == (ROWS, 0, ROWS)

    imports.import_commit(job=job, actor=org["ops1"])

    def inserting() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND query LIKE 'INSERT INTO customers_customer%%' AND state = 'active'")
            return cursor.fetchone()[0] > 0

    wait_for(inserting, timeout=90, interval=0.02, what="the commit's INSERT to run")
    _kill(media_worker)
    wait_for(lambda: _job(job).status == "committed", timeout=180, what="the redelivered commit")
    assert job.rows_created == ROWS
    assert Customer.objects.filter(customer_no__startswith="K").count() == ROWS
    assert ImportJob.objects.count() == 1
    assert AuditEntry.objects.filter(action="import", object_id=str(job.pk), detail__has_key="created").count() == 1
