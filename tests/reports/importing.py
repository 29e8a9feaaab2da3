"""Helpers for the import tests: build files, and run an import the way the worker does."""

from __future__ import annotations

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile

from crm_site.importing import pipeline
from reports import imports
from reports.models import ImportJob

HEADER_ZH = ["客户号", "姓名", "证件号码", "手机号", "所属网点", "客户经理"]
HEADER_EN = ["customer number", "name", "ID number", "mobile", "branch", "RM"]


def resident_id(body: str) -> str:
    """A valid resident ID from its first 17 digits."""
    check = (1 - 2 * int(body, 13)) % 11
    return body + ("X" if check == 10 else str(check))


def csv_bytes(rows: list[list[str]], *, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def upload(content: bytes, name: str = "customers.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def start(actor, content: bytes, *, name: str = "customers.csv", kind: str = "customers", mode: str = "create",
          encoding: str = "") -> ImportJob:
    """Upload and validate (the validation task's work, run here in the test's process)."""
    job = imports.import_start(actor=actor, upload=upload(content, name), kind=kind, mode=mode, encoding=encoding)
    if job.status == ImportJob.Status.UPLOADED:
        pipeline.validate(job.pk)
    job.refresh_from_db()
    return job


def commit(job: ImportJob, actor, *, accept_partial: bool = False) -> ImportJob:
    job = imports.import_commit(job=job, actor=actor, accept_partial=accept_partial)
    pipeline.commit(job.pk)
    job.refresh_from_db()
    return job


def revert(job: ImportJob, actor) -> ImportJob:
    """Ask for the revert (the page's button), then the revert task's work, run here in the test's process."""
    job = imports.import_revert(job=job, actor=actor)
    assert job.status == ImportJob.Status.REVERTING
    pipeline.revert_job(job.pk)
    job.refresh_from_db()
    return job


def run(actor, content: bytes, **kwargs) -> ImportJob:
    job = start(actor, content, **kwargs)
    assert job.status == ImportJob.Status.VALIDATED, (job.status, job.file_error, job.first_errors)
    return commit(job, actor)
