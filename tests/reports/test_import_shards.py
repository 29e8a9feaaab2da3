"""Validation split across shard processes gives exactly what one process gives."""

import pytest
from django.db import connection

from crm_site.importing import pipeline
from reports import imports
from reports.models import ImportJob, ImportRowError

from .importing import csv_bytes, resident_id, run, upload

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


def _validate_feed(org, settings, feed: bytes, processes: int, column: str) -> tuple:
    """A create-mode validation of `feed` in `processes` processes: the job, its (row, message) errors and its
    staged (row, customer number, `column`) rows, in row order."""
    settings.IMPORT_VALIDATION_PROCESSES = processes
    job = imports.import_start(actor=org["ops1"], upload=upload(feed), kind="customers", mode="create")
    pipeline.validate(job.pk)
    job.refresh_from_db()
    errors = list(ImportRowError.objects.filter(job=job).order_by("row", "id").values_list("row", "message"))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT _row, customer_no, {column} FROM {job.stage_table} ORDER BY _row")  # noqa: S608
        return job, errors, cursor.fetchall()


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

    one, one_errors, one_staged = _validate_feed(org, settings, feed, 1, "address_masked")
    two, two_errors, two_staged = _validate_feed(org, settings, feed, 2, "address_masked")
    assert (two.status, two.rows_total, two.count_invalid) == ("validated", 260, 9)
    assert two_errors == one_errors
    assert two_staged == one_staged


def test_repeated_keys_of_changed_unchanged_and_invalid_rows_settle_as_in_one_process(org, settings, small_chunks):
    """Shards validate repeated rows like any other and the parent settles them afterwards: a repeat of a changed
    row is no longer staged, one of an unchanged row no longer counted unchanged, one of an invalid row keeps only
    the repeated-key message; counts, report and staging table are what one process makes of the file."""
    settings.IMPORT_VALIDATION_PROCESSES = 1
    header = ["客户号", "姓名", "手机号", "所属网点"]
    run(org["ops1"], csv_bytes([header, *([f"U{n:05d}", "王五", "13812345678", "BJ01"] for n in range(200))]))
    rows = [header]
    for n in range(200):
        rows.append([f"U{n:05d}", "王六" if n % 3 == 0 else "王五", "12345" if n % 50 == 7 else "13812345678",
                     "BJ01"])
    rows += [["U00003", "王七", "13812345678", "BJ01"],  # repeats a changed row (row 5)
             ["U00004", "王五", "13812345678", "BJ01"],  # an unchanged one (row 6)
             ["U00007", "王五", "13812345678", "BJ01"],  # an invalid one (row 9)
             ["N00001", "新客户", "13812345678", "BJ01"],  # new, then repeated in the same chunk
             ["N00001", "新客户", "13812345678", "BJ01"]]
    feed = csv_bytes(rows)

    def validate(processes):
        settings.IMPORT_VALIDATION_PROCESSES = processes
        job = imports.import_start(actor=org["ops1"], upload=upload(feed), kind="customers", mode="upsert")
        pipeline.validate(job.pk)
        job.refresh_from_db()
        errors = list(ImportRowError.objects.filter(job=job).order_by("row", "id")
                      .values_list("row", "column", "value", "message"))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT _row, _action, customer_no, name FROM {job.stage_table} ORDER BY _row")  # noqa: S608
            return job, errors, cursor.fetchall()

    one, one_errors, one_staged = validate(1)
    two, two_errors, two_staged = validate(2)
    assert two.status == "validated"
    counts = ("count_new", "count_changed", "count_unchanged", "count_invalid")
    assert [getattr(two, name) for name in counts] == [getattr(one, name) for name in counts] == [1, 66, 130, 8]
    assert two_errors == one_errors
    assert (202, "客户号", "U00003", "The same key as row 5: each key may appear once in a file.") in two_errors
    assert [message for row, _c, _v, message in two_errors if row == 204] == [
        "The same key as row 9: each key may appear once in a file."]
    assert two_staged == one_staged
    assert two.first_errors == one.first_errors


def test_a_file_with_doubled_carriage_returns_gives_two_shards_what_one_process_gives(org, settings, small_chunks):
    """"\\r\\r\\n" line ends (Python's csv on Windows without newline=""): one process reads a blank record after
    every row, so rows are numbered 2, 4, 6 … The shards must name the same rows, and the repeated key must
    cost only the repeating row."""
    lines = ["客户号,姓名,所属网点"] + [f"D{n:09d},王五,{'BJ01' if n % 31 else 'XX99'}" for n in range(240)]
    lines.append("D000000003,重复,BJ01")
    feed = ("\r\r\n".join(lines) + "\r\r\n").encode()

    one, one_errors, one_staged = _validate_feed(org, settings, feed, 1, "id_number_bidx")
    two, two_errors, two_staged = _validate_feed(org, settings, feed, 2, "id_number_bidx")
    assert two_errors == one_errors
    assert two_staged == one_staged
    assert (two.count_new, two.count_invalid) == (one.count_new, one.count_invalid) == (240 - 8, 8 + 1)
    assert len(two_staged) == 240 - 8
    repeat = one_errors[-1]
    assert repeat[1].startswith("The same key as row")
    assert repeat[0] > 240


def test_an_interrupted_validation_leaves_no_shard_running(org, settings, small_chunks, monkeypatch):
    """A worker's time limit (or Ctrl-C in a shell) lands while the parent waits: the shards are killed and reaped
    with it, not left writing into a staging table that the caller drops, or as zombies."""
    import psutil

    from crm_site.importing import shards

    settings.IMPORT_VALIDATION_PROCESSES = 2
    before = {child.pid for child in psutil.Process().children()}  # e.g. a browser driver of earlier tests
    seen: list[int] = []

    def interrupted(pid: int) -> int:
        seen.extend(child.pid for child in psutil.Process().children() if child.pid not in before)
        raise KeyboardInterrupt

    monkeypatch.setattr(shards, "_wait", interrupted)
    job = imports.import_start(actor=org["ops1"], upload=upload(_feed()), kind="customers", mode="create")
    with pytest.raises(KeyboardInterrupt):
        pipeline.validate(job.pk)
    assert len(seen) >= 2  # the shards were running when the wait was cut short
    assert {child.pid for child in psutil.Process().children()} & set(seen) == set()
    for pid in seen:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
