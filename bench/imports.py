"""Bulk-import benchmarks (issue 5): a generated customer file through the pipeline, against raw COPY and
against django-import-export's default path, in the same run.

- import_create_rows_per_s: N generated customers (N = 1,000,000 at SCALE=1000000, else the scale) from
  the CSV on disk to committed: validation and commit each run in a child process as the worker runs
  them (`python -m bench.imports validate|commit JOB`), wall time of both, upload excluded.
- import_vs_raw_copy_ratio: that time ÷ a raw COPY of the same prepared rows (the staged, sealed rows,
  dumped before the commit) into `bench_raw_customer`, a table with the customer table's columns, every one of
  its indexes and its foreign keys, holding the same existing rows, built before and dropped after.
  import_vs_raw_copy_no_fk_ratio: the same against a copy without the foreign keys (as sessions 1-3 measured).
- import_update_100k_s: 100,000 of those customers updated (new phone and occupation), same two steps.
- import_peak_rss_mb: the larger peak RSS of the validation and commit steps (each a child process, its shards
  included, measured through bench/peak.py so that the bench process's own memory does not count).
- import_vs_library_default_ratio: a 20,000-row sample (or N when smaller) through CustomerResource's
  django-import-export path as admin runs it (import_data dry run, then again for real), rows/s compared.
Afterwards every import is reverted and the library's rows deleted, so the bench database is as before.
"""

from __future__ import annotations

import csv
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆芳娜秀英敏静丽艳娟霞燕玲桂萍红婷雪琳洁颖倩慧欣怡悦佳琪"
HEADER = ["客户号", "姓名", "客户类型", "证件号码", "手机号", "电子邮箱", "地址", "职业", "所属网点", "客户经理",
          "风险承受能力", "营销同意"]
PREFIX = "BI"  # customer numbers of bench imports: BI0000000001…
LIBRARY_PREFIX = "BL"  # and of the library's sample


def _resident_id(rng: random.Random) -> str:
    body = f"110108{rng.randint(1950, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    check = (1 - 2 * int(body, 13)) % 11
    return body + ("X" if check == 10 else str(check))


def write_customer_csv(path: Path, count: int, *, branches: list[str], rms: list[str], seed: int = 5,
                       start: int = 1, occupation: str = "", phone_salt: int = 4_242) -> None:
    """A deterministic customer feed as operations would receive it (UTF-8, Chinese headers). The same seed
    gives the same customers; another `phone_salt` gives them other mobile numbers (a contact-data refresh)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for number in range(start, start + count):
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
            prefix = rng.choice(("38", "39", "58", "59", "86", "88"))
            phone = f"1{prefix}{(number * 7_919_617 + phone_salt) % 10**8:08d}"
            writer.writerow([
                f"{PREFIX}{number:010d}", name, "个人", _resident_id(rng), phone,
                f"user{number}@example.com" if rng.random() < 0.4 else "", f"北京市海淀区学院路{number % 399 + 1}号",
                occupation or rng.choice(["教师", "医生", "工程师", "会计", "程序员"]), rng.choice(branches),
                rng.choice(rms), rng.choice(["C1", "C2", "C3", "C4", "C5"]), rng.choice(["是", "否"]),
            ])


STARTS: list[float] = []  # seconds each child spent starting Python and Django before its task


def _child(step: str, job_id: int) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one pipeline step in a child process, as a worker runs it. The seconds are
    the task's own, timed inside the child once Django is up: a Celery worker is started before the operator
    uploads, so its start-up is no part of an import (noted apart in STARTS)."""
    from bench.peak import run

    begin = time.perf_counter()
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        measured = run([sys.executable, "-m", "bench.imports", step, str(job_id), out.name], cwd=ROOT)
        elapsed = time.perf_counter() - begin
        if measured.exit_code != 0:
            raise RuntimeError(f"bench.imports {step} {job_id} failed")
        task_s = json.loads(Path(out.name).read_text())["seconds"]
    STARTS.append(elapsed - task_s)
    return task_s, measured.peak_rss_mb


def _job_for(path: Path, *, actor, mode: str):
    from django.core.files import File

    from reports.models import ImportJob

    job = ImportJob.objects.create(kind="customers", mode=mode, created_by=actor, branch=actor.branch,
                                   original_name=path.name, size=path.stat().st_size)
    with path.open("rb") as handle:
        job.file.save(path.name, File(handle, name=path.name), save=True)
    return job


def _import(path: Path, *, actor, mode: str, done: list) -> tuple[object, float, float, float]:
    """Validate and commit a file (children); (job, validate s, commit s, peak MB)."""
    from reports.models import ImportJob

    job = _job_for(path, actor=actor, mode=mode)
    done.append(job)
    validate_s, validate_mb = _child("validate", job.pk)
    job.refresh_from_db()
    if job.status != ImportJob.Status.VALIDATED or job.count_invalid:
        raise RuntimeError(f"bench import {job.pk}: {job.status} {job.file_error} {job.first_errors[:3]}")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.COMMITTING, committed_by=actor)
    commit_s, commit_mb = _child("commit", job.pk)
    job.refresh_from_db()
    return job, validate_s, commit_s, max(validate_mb, commit_mb)


RAW = "bench_raw_customer"  # the customer table as it is: columns, indexes and foreign keys
RAW_NO_FK = "bench_raw_nofk_customer"  # the same without the foreign keys (the measure of sessions 1-3)


def _raw_copy_table(cursor, table: str, *, foreign_keys: bool) -> None:
    """A copy of the customer table with its rows and every one of its indexes, and its foreign keys when asked
    (setup, not timed). The audit triggers are left out: an import's rows skip them by the bulk switch."""
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute(f"CREATE TABLE {table} (LIKE customers_customer INCLUDING DEFAULTS "
                   "INCLUDING CONSTRAINTS INCLUDING IDENTITY)")
    cursor.execute(f"INSERT INTO {table} SELECT * FROM customers_customer")  # noqa: S608
    cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'customers_customer'")
    for (definition,) in cursor.fetchall():
        head, _on, tail = definition.partition(" ON ")
        name = head.split()[-1]
        cursor.execute(head.replace(name, f"{table}_{name}"[:63]) + " ON "
                       + tail.replace("customers_customer", table, 1))
    if foreign_keys:
        # A COPY into the customer table checks every row's branch and RM (≈ 8 µs a row at 1M), as the import's
        # commit does; LIKE copies no foreign key.
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE conrelid = 'customers_customer'::regclass AND contype = 'f'")
        for (definition,) in cursor.fetchall():
            cursor.execute(f"ALTER TABLE {table} ADD {definition}")
    cursor.execute(f"ANALYZE {table}")


def _raw_copy(dump: Path, table: str) -> float:
    """Seconds of one COPY … FROM STDIN of the dumped rows into `table` (autocommit: its commit, where the
    deferred foreign keys are checked, is inside the time). The table is dropped afterwards."""
    from django.db import connection

    from customers.resources import CUSTOMER_STAGE

    with connection.cursor() as cursor, dump.open("rb") as source:
        begin = time.perf_counter()
        with cursor.copy(f"COPY {table} (id, {', '.join(CUSTOMER_STAGE)}) FROM STDIN") as copy:
            for block in iter(lambda: source.read(1 << 20), b""):
                copy.write(block)
        elapsed = time.perf_counter() - begin
        cursor.execute(f"DROP TABLE {table}")
    return elapsed


def _library(results: dict, path: Path, count: int) -> float:
    """Rows/s of django-import-export's admin path (dry run + confirm) over the first `count` rows."""
    import tablib

    from customers.resources import CustomerResource

    with path.open(encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        rows = [row for _i, row in zip(range(count), reader, strict=False)]
    # Admin's column names (the resource's own fields); the library sample takes numbers of its own.
    header = ["customer_no", "name", "kind", "id_type", "id_number", "phone", "email", "address", "occupation",
              "branch", "rm", "risk_tolerance", "marketing_consent"]
    data = tablib.Dataset(headers=header)
    for row in rows:
        data.append([LIBRARY_PREFIX + row[0][2:], row[1], "individual", "resident_id", row[3], row[4], row[5],
                     row[6], row[7], row[8], "", row[10], "true" if row[11] == "是" else "false"])
    resource = CustomerResource()
    begin = time.perf_counter()
    dry = resource.import_data(data, dry_run=True, raise_errors=True)
    real = CustomerResource().import_data(data, dry_run=False, raise_errors=True)
    elapsed = time.perf_counter() - begin
    if dry.has_errors() or real.has_errors():
        raise RuntimeError("the library path reported errors")
    results["import_library_rows"] = count
    results["import_library_s"] = round(elapsed, 3)
    return count / elapsed


def measure(results: dict, *, scale: int) -> None:
    from django.db import connection, transaction

    from crm_site.importing.pipeline import drop_tables
    from org.models import User
    from reports.models import ImportJob

    actor = User.objects.filter(is_superuser=True, is_active=True).select_related("branch").first()
    branches = ["BJ01", "BJ02", "BJ0101", "SH01"]
    rms = list(User.objects.filter(groups__name="relationship_manager", is_active=True)
               .values_list("employee_no", flat=True)[:4]) or [""]
    count = min(scale, 1_000_000)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        feed = folder / "customers.csv"
        write_customer_csv(feed, count, branches=branches, rms=rms)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM customers_customer")
            results["import_existing_customers"] = cursor.fetchone()[0]
            _raw_copy_table(cursor, RAW, foreign_keys=True)
            _raw_copy_table(cursor, RAW_NO_FK, foreign_keys=False)
        done: list = []
        try:
            _measure(results, folder, feed, count, actor=actor, branches=branches, rms=rms, done=done)
        finally:
            # Leave the bench database as it was: revert what was committed, newest first.
            for job in reversed(done):
                job.refresh_from_db()
                if job.status in (ImportJob.Status.COMMITTED, ImportJob.Status.REVERTING):
                    _revert(job, actor=actor)
                job.file.delete(save=False)
                drop_tables(job)
                job.delete()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {RAW}, {RAW_NO_FK}")
                cursor.execute("SELECT set_config('crm.audit_bulk', 'bench', true)")
                cursor.execute(f"DELETE FROM customers_customer WHERE customer_no LIKE '{LIBRARY_PREFIX}%%'")  # noqa: S608


def _measure(results: dict, folder: Path, feed: Path, count: int, *, actor, branches, rms, done: list) -> None:
    from django.db import connection

    from customers.resources import CUSTOMER_STAGE

    job, validate_s, commit_s, peak = _import(feed, actor=actor, mode="upsert", done=done)
    total = validate_s + commit_s
    results["import_rows"] = count
    results["import_validate_s"] = round(validate_s, 3)
    results["import_commit_s"] = round(commit_s, 3)
    results["import_create_rows_per_s"] = round(count / total)
    # Raw COPY of the same prepared rows (dumped from the staging table; the dump is not timed).
    dump = folder / "prepared.copy"
    columns = ", ".join(CUSTOMER_STAGE)
    with connection.cursor() as cursor, dump.open("wb") as out, cursor.copy(
            f"COPY (SELECT _target_id, {columns} FROM {job.stage_table} "  # noqa: S608
            f"WHERE _action = 'n') TO STDOUT") as copy:
        for block in copy:
            out.write(block)
    raw_s = _raw_copy(dump, RAW)
    results["import_raw_copy_no_fk_s"] = round(_raw_copy(dump, RAW_NO_FK), 3)
    results["import_vs_raw_copy_no_fk_ratio"] = round(total / results["import_raw_copy_no_fk_s"], 2)
    results["import_raw_copy_s"] = round(raw_s, 3)
    results["import_vs_raw_copy_ratio"] = round(total / raw_s, 2)
    # Update 100,000 of them, as a monthly contact-data refresh from core banking would: the full rows again (every
    # column is read, cleaned and compared), with new mobile numbers and a new occupation.
    updates = min(100_000, count)
    changed = folder / "update.csv"
    write_customer_csv(changed, updates, branches=branches, rms=rms, occupation="律师", phone_salt=7_777)
    update_job, u_validate, u_commit, u_peak = _import(changed, actor=actor, mode="update", done=done)
    results["import_update_rows"] = updates
    results["import_update_100k_s"] = round(u_validate + u_commit, 3)
    results["import_update_validate_s"] = round(u_validate, 3)
    results["import_update_commit_s"] = round(u_commit, 3)
    results["import_peak_rss_mb"] = round(max(peak, u_peak), 1)
    # Same file again: nothing changes.
    again = _job_for(changed, actor=actor, mode="upsert")
    done.append(again)
    _child("validate", again.pk)
    again.refresh_from_db()
    results["import_rerun_unchanged"] = again.count_unchanged
    # The harder case: a file that changes every column of the same customers (other names, IDs, phones,
    # branches and RMs), so every index of every row is rewritten. Reverted straight away.
    rewrite = folder / "rewrite.csv"
    write_customer_csv(rewrite, updates, branches=branches, rms=rms, seed=6, occupation="律师")
    rewrite_job, r_validate, r_commit, r_peak = _import(rewrite, actor=actor, mode="update", done=done)
    results["import_update_all_columns_100k_s"] = round(r_validate + r_commit, 3)
    results["import_peak_rss_mb"] = round(max(peak, u_peak, r_peak), 1)
    _revert(rewrite_job, actor=actor)
    library = _library(results, feed, min(20_000, count))
    results["import_library_rows_per_s"] = round(library, 1)
    results["import_vs_library_default_ratio"] = round(results["import_create_rows_per_s"] / library, 1)
    begin = time.perf_counter()
    _revert(update_job, actor=actor)
    _revert(job, actor=actor)
    results["import_revert_s"] = round(time.perf_counter() - begin, 3)
    results["import_child_start_s"] = round(max(STARTS), 3)


def _revert(job, *, actor) -> None:
    """The revert task's body, run here: marked "reverting" as imports.import_revert does (without queueing a
    message no bench worker would take), then reverted in one transaction as the worker does."""
    from crm_site.importing.pipeline import revert_job
    from reports.models import ImportJob

    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.REVERTING, reverted_by=actor)
    job = revert_job(job.pk)
    if job.status != ImportJob.Status.REVERTED:
        raise RuntimeError(f"bench import {job.pk}: revert ended {job.status}: {job.revert_error}")


def _main(step: str, job_id: int, out: str | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
    import django

    django.setup()
    from django.conf import settings

    from crm_site.importing import pipeline

    settings.DEBUG = False  # as a worker runs (DEBUG keeps a log of every query)

    begin = time.perf_counter()
    if step == "validate":
        pipeline.validate(job_id)
    else:
        pipeline.commit(job_id)
    if out:
        Path(out).write_text(json.dumps({"seconds": time.perf_counter() - begin}))


if __name__ == "__main__":
    _main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:4])
