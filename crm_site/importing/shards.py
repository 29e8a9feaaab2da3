"""Validation of one CSV import in several processes: each shard process reads the file and validates every
n-th chunk; the parent found the duplicate keys beforehand, so no shard needs to see the others' rows.

Shards are processes of their own (`python -m crm_site.importing.shards`), not multiprocessing children: a
Celery prefork worker is a daemon process and may not fork those. Each shard dies with its parent
(PR_SET_PDEATHSIG), so a killed worker leaves no shard writing into a staging table that the redelivered
validation is rebuilding; a shard also stops when the job's attempt number is no longer its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from .files import FileProblem, read_rows

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _database_url() -> str:
    """DATABASE_URL as is (options such as sslmode kept) unless this process uses another database (tests)."""
    from urllib.parse import urlsplit

    db = connection.settings_dict
    current = os.environ.get("DATABASE_URL", "")
    if current and urlsplit(current).path.lstrip("/") == db["NAME"]:
        return current
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def find_duplicates(resource, plan, stream, *, encoding: str) -> tuple[dict[int, int], int]:
    """{row number: first row with the same key} over the whole file, and the number of data rows."""
    from .pipeline import raw_values

    seen: dict[Any, int] = {}
    duplicates: dict[int, int] = {}
    rows = read_rows(stream, file_format="csv", encoding=encoding)
    next(rows)
    count = 0
    for number, cells in rows:
        count += 1
        key = resource.raw_key(raw_values(plan, cells))
        if key is None:
            continue
        first = seen.setdefault(key, number)
        if first != number:
            duplicates[number] = first
    return duplicates, count


def validate_sharded(job, resource, plan, stream, *, encoding: str, processes: int):
    from .pipeline import Tally

    duplicates, _count = find_duplicates(resource, plan, stream, encoding=encoding)
    from django.utils import translation

    # The shards write messages in the language this validation speaks, and to the database it uses.
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "crm_site.settings",
           "CRM_IMPORT_LANGUAGE": translation.get_language() or ""}
    root = Path(__file__).resolve().parent.parent.parent
    with tempfile.TemporaryDirectory() as folder:
        dup_path = Path(folder) / "duplicates.json"
        dup_path.write_text(json.dumps(duplicates))
        children = []
        for shard in range(processes):
            out = Path(folder) / f"shard{shard}.json"
            command = [sys.executable, "-m", "crm_site.importing.shards", str(job.pk), str(job.attempts), str(shard),
                       str(processes), str(dup_path), str(out)]
            children.append((subprocess.Popen(command, cwd=root, env=env, preexec_fn=_die_with_parent), out))  # noqa: S603, PLW1509
        failed = [child for child, _out in children if child.wait() != 0]
        if failed:
            raise RuntimeError(f"import {job.pk}: {len(failed)} validation shard(s) failed")
        tally = Tally()
        for _child, out in children:
            result = json.loads(out.read_text())
            if "file_problem" in result:
                raise FileProblem(result["file_problem"])
            tally.add(Tally(**result))
    return tally


def run_shard(job_id: int, attempt: int, shard: int, shards: int, dup_path: str, out_path: str) -> None:
    """One shard: validate chunks shard, shard + shards, … of the file; write its tally as JSON."""
    from django.conf import settings

    from reports.models import ImportJob

    from .pipeline import ChunkPlan, Tally, _chunks, context_for, validate_chunk
    from .spec import get_resource

    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    resource = get_resource(job.kind)
    duplicates = {int(row): first for row, first in json.loads(Path(dup_path).read_text()).items()}
    plan = ChunkPlan([tuple(pair) for pair in job.columns], 0)
    plan.width = len(job.columns)
    ctx = context_for(job, resource, plan)
    tally = Tally()

    def duplicate_of(number: int, _key: Any) -> int | None:
        return duplicates.get(number)

    try:
        with job.file.open("rb") as stream:
            rows = read_rows(stream, file_format="csv", encoding=job.encoding_used)
            next(rows)
            for index, chunk in enumerate(_chunks(rows, settings.IMPORT_CHUNK_ROWS)):
                if index % shards != shard:
                    continue
                if ImportJob.objects.filter(pk=job_id, attempts=attempt).count() != 1:
                    raise SystemExit(_("validation restarted elsewhere"))
                tally.add(validate_chunk(job, resource, ctx, plan, chunk, duplicate_of))
    except FileProblem as problem:
        Path(out_path).write_text(json.dumps({"file_problem": problem.message}))
        return
    Path(out_path).write_text(json.dumps(tally.as_dict()))


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
    import django

    django.setup()
    from django.conf import settings as django_settings

    django_settings.DEBUG = False
    from django.utils import translation

    from org.audit import audit_context

    job_arg, attempt_arg, shard_arg, shards_arg, dup_arg, out_arg = sys.argv[1:7]
    translation.activate(os.environ.get("CRM_IMPORT_LANGUAGE") or django_settings.LANGUAGE_CODE)
    with audit_context(username="import", job=f"import_validate:{job_arg}"):
        run_shard(int(job_arg), int(attempt_arg), int(shard_arg), int(shards_arg), dup_arg, out_arg)
