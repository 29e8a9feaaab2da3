"""Validation split across shard processes gives exactly what one process gives."""

import pytest
from django.db import connection

from crm_site.importing import pipeline
from reports import imports
from reports.models import ImportJob, ImportRowError

from .importing import csv_bytes, resident_id, upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def small_chunks(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    settings.IMPORT_CHUNK_ROWS = 50
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path))  # the shard processes read the same storage
    monkeypatch.setenv("IMPORT_CHUNK_ROWS", "50")


def _feed() -> bytes:
    rows = [["客户号", "姓名", "证件号码", "手机号", "所属网点"]]
    for n in range(400):
        rows.append([f"K{n:09d}", "张三", resident_id(f"1101081990{n % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}"),
                     "13812345678" if n % 37 else "12345", "BJ01" if n % 53 else "XX99"])
    rows.append(["K000000007", "重复", "", "", "BJ01"])  # row 402 repeats row 9's key, in another chunk
    rows.append(["K000000390", "重复", "", "", "BJ01"])
    return csv_bytes(rows)


def _validate(org, settings, processes: int) -> tuple:
    settings.IMPORT_VALIDATION_PROCESSES = processes
    job = imports.import_start(actor=org["ops1"], upload=upload(_feed()), kind="customers", mode="create")
    pipeline.validate(job.pk)
    job.refresh_from_db()
    errors = list(ImportRowError.objects.filter(job=job).order_by("row", "id").values_list("row", "column", "message"))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT _row, customer_no, id_number_bidx FROM {job.stage_table} ORDER BY _row")  # noqa: S608
        staged = cursor.fetchall()
    return job, errors, staged


def test_two_shards_find_what_one_process_finds(org, settings, small_chunks):
    one, one_errors, one_staged = _validate(org, settings, 1)
    two, two_errors, two_staged = _validate(org, settings, 2)
    assert (two.status, two.rows_total, two.rows_done) == ("validated", 402, 402)
    assert (two.count_new, two.count_invalid) == (one.count_new, one.count_invalid) == (400 - 11 - 8 + 1, 18 + 2)
    assert two_errors == one_errors
    assert (402, "客户号", "The same key as row 9: each key may appear once in a file.") in two_errors
    assert (403, "客户号", "The same key as row 392: each key may appear once in a file.") in two_errors
    assert two_staged == one_staged
    assert two.first_errors == one.first_errors
    assert ImportJob.objects.count() == 2


def test_shards_reading_their_own_chunks_number_rows_as_one_process_does(org, settings, small_chunks):
    """Blank lines, a BOM and a quoted line break: each shard starts at its chunk's byte offset and still
    names the same rows as one process reading the whole file."""
    rows = [["客户号", "姓名", "地址", "所属网点"]]
    for n in range(260):
        rows.append([f"B{n:09d}", "李四", "北京市\n海淀区" if n % 41 == 0 else "北京市", "BJ01" if n % 29 else "XX99"])
        if n % 67 == 0:
            rows.append(["", "", "", ""])
    feed = b"\xef\xbb\xbf" + csv_bytes(rows)

    def run(processes: int):
        settings.IMPORT_VALIDATION_PROCESSES = processes
        job = imports.import_start(actor=org["ops1"], upload=upload(feed), kind="customers", mode="create")
        pipeline.validate(job.pk)
        job.refresh_from_db()
        errors = list(ImportRowError.objects.filter(job=job).order_by("row", "id").values_list("row", "message"))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT _row, customer_no, address_masked FROM {job.stage_table} ORDER BY _row")  # noqa: S608
            return job, errors, cursor.fetchall()

    one, one_errors, one_staged = run(1)
    two, two_errors, two_staged = run(2)
    assert (two.status, two.rows_total, two.count_invalid) == ("validated", 260, 9)
    assert two_errors == one_errors
    assert two_staged == one_staged
