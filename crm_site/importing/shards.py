"""Validation of one CSV import in several processes: each shard process reads the file and validates every
n-th chunk; the parent found the duplicate keys beforehand, so no shard needs to see the others' rows.

Shards are processes of their own (`python -m crm_site.importing.shards`), not multiprocessing children: a
Celery prefork worker is a daemon process and may not fork those. Each shard dies with its parent
(PR_SET_PDEATHSIG), so a killed worker leaves no shard writing into a staging table that the redelivered
validation is rebuilding; a shard also stops when the job's attempt number is no longer its own.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
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


# Encodings in which the byte 0x0A only ever means a line feed, so a file splits into lines as bytes.
LINE_SAFE = {"utf-8", "utf-8-sig", "utf8", "gb18030", "gbk", "gb2312", "ascii"}


def _tracked_rows(stream, encoding: str, offset: int = 0):
    """(byte offset after the record, cells) of the CSV records from `offset`: csv.reader pulls lines only until
    its record is complete, so the offset after a record is where the next one begins."""
    stream.seek(offset)
    decode = codecs.getincrementaldecoder(encoding if offset == 0 else encoding.replace("-sig", ""))("strict").decode
    position = [offset]

    def lines():
        for line in iter(stream.readline, b""):  # only b"\n" ends a line (a File's iterator seeks to 0)
            position[0] += len(line)
            yield decode(line)

    for cells in csv.reader(lines()):
        yield position[0], cells


def _has_cells(row: list[str]) -> bool:
    return bool(row) and bool(row[0].strip() or any(cell.strip() for cell in row))


def find_duplicates(resource, plan, stream, *, encoding: str, chunk_rows: int = 0
                    ) -> tuple[dict[int, int], int, list[tuple[int, int]] | None]:
    """{row number: first row with the same key} over the whole file, the number of data rows, and where each
    chunk of `chunk_rows` rows begins ([(byte offset, row number)]) so that a shard parses only its own chunks.
    The bounds are None when the file cannot be split as bytes (then every shard reads the whole file)."""
    from .pipeline import raw_values

    if chunk_rows and encoding.lower() in LINE_SAFE:
        try:
            return _find_tracked(resource, plan, stream, encoding=encoding, chunk_rows=chunk_rows)
        except (UnicodeDecodeError, csv.Error, ValueError):
            pass  # the reading below names the problem as a single process would
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
    return duplicates, count, None


def _find_tracked(resource, plan, stream, *, encoding: str, chunk_rows: int):
    from .pipeline import raw_values

    seen: dict[Any, int] = {}
    duplicates: dict[int, int] = {}
    bounds: list[tuple[int, int]] = []
    count = 0
    rows = _tracked_rows(stream, encoding)
    offset, _header = next(rows)
    number = 1
    for end, cells in rows:
        number += 1
        if not _has_cells(cells):
            offset = end
            continue
        if count % chunk_rows == 0:
            bounds.append((offset, number))
        offset = end
        count += 1
        key = resource.raw_key(raw_values(plan, cells))
        if key is None:
            continue
        first = seen.setdefault(key, number)
        if first != number:
            duplicates[number] = first
    return duplicates, count, bounds


def chunk_at(stream, encoding: str, offset: int, number: int, size: int) -> list[tuple[int, list[str]]]:
    """The chunk of `size` rows that begins at a byte offset with the given row number (blank lines skipped)."""
    chunk = []
    for _end, cells in _tracked_rows(stream, encoding, offset):
        if _has_cells(cells):
            chunk.append((number, cells))
            if len(chunk) >= size:
                break
        number += 1
    return chunk


def shard_chunk_rows(total: int, processes: int) -> int:
    """Rows per chunk: IMPORT_CHUNK_ROWS, or fewer so that each shard takes eight chunks or more (with five chunks
    of a 100,000-row file between two shards, one did three and the other waited on it)."""
    from django.conf import settings

    return max(1_000, min(settings.IMPORT_CHUNK_ROWS, -(-total // (processes * 8))))


def validate_sharded(job, resource, plan, stream, *, encoding: str, processes: int, total: int):
    from .pipeline import Tally

    chunk_rows = shard_chunk_rows(total, processes)
    duplicates, _count, bounds = find_duplicates(resource, plan, stream, encoding=encoding, chunk_rows=chunk_rows)
    from django.utils import translation

    # The shards write messages in the language this validation speaks, and to the database it uses.
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "crm_site.settings",
           "CRM_IMPORT_LANGUAGE": translation.get_language() or ""}
    root = Path(__file__).resolve().parent.parent.parent
    with tempfile.TemporaryDirectory() as folder:
        dup_path = Path(folder) / "duplicates.json"
        dup_path.write_text(json.dumps({"duplicates": duplicates, "bounds": bounds, "chunk_rows": chunk_rows}))
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
    from reports.models import ImportJob

    from .pipeline import ChunkPlan, Tally, _chunks, context_for, validate_chunk
    from .spec import get_resource

    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    resource = get_resource(job.kind)
    found = json.loads(Path(dup_path).read_text())
    duplicates = {int(row): first for row, first in found["duplicates"].items()}
    bounds, chunk_rows = found["bounds"], found["chunk_rows"]
    plan = ChunkPlan([tuple(pair) for pair in job.columns], 0)
    plan.width = len(job.columns)
    ctx = context_for(job, resource, plan)
    tally = Tally()

    def duplicate_of(number: int, _key: Any) -> int | None:
        return duplicates.get(number)

    try:
        with job.file.open("rb") as stream:
            if bounds is not None:
                # Only this shard's chunks are parsed: each begins at the byte offset the parent noted.
                chunks = (chunk_at(stream, job.encoding_used, offset, number, chunk_rows)
                          if index % shards == shard else None
                          for index, (offset, number) in enumerate(bounds))
            else:
                rows = read_rows(stream, file_format="csv", encoding=job.encoding_used)
                next(rows)
                chunks = (chunk if index % shards == shard else None
                          for index, chunk in enumerate(_chunks(rows, chunk_rows)))
            for chunk in chunks:
                if chunk is None:
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
