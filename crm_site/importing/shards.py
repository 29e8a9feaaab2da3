"""Validation of one CSV import in several processes: each shard process reads the file and validates every
n-th chunk; repeated keys across shards are settled afterwards from the keys each shard noted.

Shards are forked from the validating process (a Celery worker, or a bench or test process), so they start with
Django set up and the resources imported: starting a fresh interpreter cost each shard ≈ 1.5 s before its first
row (measured, and a tenth of a 100,000-row update). The parent closes its database connection first, so no
two processes share a socket, and each shard opens its own. os.fork is used directly, not multiprocessing: a
Celery prefork worker is a daemon process, which multiprocessing forbids to have children. Each shard dies
with its parent (PR_SET_PDEATHSIG), so a killed worker leaves no shard writing into a staging table that the
redelivered validation is rebuilding; a shard also stops when the job's attempt number is no longer its own.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import ctypes
import functools
import io
import json
import logging
import os
import pickle
import signal
import tempfile
from pathlib import Path
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from .files import FileProblem, read_rows

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


# Signals a worker may get while it forks (Celery's soft time limit is SIGUSR1): blocked across the fork, so no
# handler of the worker's runs in a shard before the shard has taken the default handlers back.
FORK_BLOCKED = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2,
                signal.SIGALRM}


@functools.cache
def _libc():
    """libc, loaded in the parent (never first in a forked child)."""
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


def _fork_shard(job_id: int, attempt: int, shard: int, shards: int, plan_path: str, out_path: str) -> int:
    """Fork one shard and return its pid; the child never returns from here."""
    libc, parent = _libc(), os.getpid()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORK_BLOCKED)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the shard
        try:
            if libc is not None:
                libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the parent died before the line above took effect
                os._exit(1)
            for number in FORK_BLOCKED:
                signal.signal(number, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            _shard_process(job_id, attempt, shard, shards, plan_path, out_path)
        finally:
            os._exit(1)  # _shard_process leaves with its own code; this only catches what escaped it
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return pid


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


def chunk_bounds(stream, *, encoding: str, chunk_rows: int) -> list[tuple[int, int]] | None:
    """Where each chunk of about `chunk_rows` records begins: [(byte offset, row number)]. None when the file cannot
    be split as bytes (then every shard reads the whole file and takes its own chunks)."""
    if encoding.lower() not in LINE_SAFE:
        return None
    bounds = _line_bounds(stream, chunk_rows)
    if bounds is not None:
        return bounds
    if _has_lone_cr(stream):
        # One process ends a record at a lone "\r" ("\r\r\n" from Python's csv on Windows, old Mac files) and
        # the byte bounds would not: such a file is read whole by every shard, so rows number alike.
        return None
    try:
        return _record_bounds(stream, encoding, chunk_rows)
    except (UnicodeDecodeError, csv.Error, ValueError):
        return None  # a shard reading the whole file names the problem as a single process would


def _line_bounds(stream, chunk_rows: int) -> list[tuple[int, int]] | None:
    """Bounds by counting line feeds, at the speed of bytes.count: every line is one record unless the file holds
    a quote (a quoted field may span lines) or a carriage return that is not part of CRLF (a record separator to
    csv); then None, and the records are parsed instead."""
    stream.seek(0)
    header = stream.readline()
    if b'"' in header or header.count(b"\r") != header.count(b"\r\n"):
        return None
    offset, number = len(header), 2  # the header is row 1
    bounds: list[tuple[int, int]] = []
    lines_left = 0  # lines until the next bound
    while block := stream.read(1 << 22):
        block += stream.readline()  # a block ends on a line feed, so CRLF never splits
        if b'"' in block or block.count(b"\r") != block.count(b"\r\n"):
            return None
        position = 0
        lines = block.count(b"\n") + (not block.endswith(b"\n"))
        while lines_left < lines:
            # the bound lies in this block: skip lines_left lines from position
            for _skip in range(lines_left):
                position = block.index(b"\n", position) + 1
            if position >= len(block):
                break
            bounds.append((offset + position, number + lines_left))
            number += lines_left
            lines -= lines_left
            lines_left = chunk_rows
        lines_left -= lines
        number += lines
        offset += len(block)
    return bounds


def _has_lone_cr(stream) -> bool:
    """Whether the file holds a carriage return that is not the first half of a CRLF."""
    stream.seek(0)
    while block := stream.read(1 << 22):
        if block.endswith(b"\r"):
            block += stream.read(1)  # its line feed, if it has one
        if block.count(b"\r") != block.count(b"\r\n"):
            return True
    return False


def _record_bounds(stream, encoding: str, chunk_rows: int) -> list[tuple[int, int]]:
    """Bounds from the parsed records (csv.reader), for files in which a record may span lines."""
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
    return bounds


def chunk_at(stream, encoding: str, offset: int, number: int, end: int | None) -> list[tuple[int, list[str]]]:
    """The rows of the records from a byte offset (with the given row number) to the next chunk's offset: the
    bytes between two record bounds are read and decoded at once and parsed from memory (a line at a time, with
    the offset tracked, took 2.2 s over 1M rows against 0.9 s)."""
    stream.seek(offset)
    data = stream.read() if end is None else stream.read(end - offset)
    try:
        text = data.decode(encoding if offset == 0 else encoding.replace("-sig", ""))
    except UnicodeDecodeError as exc:
        raise FileProblem(
            _("The file cannot be read as %(encoding)s (after line %(line)d); choose the other encoding.")
            % {"encoding": encoding.upper(), "line": number - 1 + data.count(b"\n", 0, exc.start)}) from None
    chunk = []
    try:
        # Lines end as one process reading the file sees them (newline=""); files with a lone "\r" never get here.
        for cells in csv.reader(io.StringIO(text, newline="")):
            if cells and (cells[0].strip() or any(cell.strip() for cell in cells)):
                chunk.append((number, cells))
            number += 1
    except csv.Error as exc:
        raise FileProblem(_("Line %(line)d is not valid CSV: %(error)s") % {"line": number, "error": exc}) from None
    return chunk


def settle_duplicates(job, resource, key_files: list[Path], tally) -> None:
    """Repeated keys across shards: every row whose key an earlier row of the file has is made what one process
    makes it (invalid, with the one message "the same key as row n"): its staged row and other problems go.

    Each shard wrote the (row, key, value) of every row it read; duplicates are rare, so the repair is small."""
    from reports.models import ImportRowError

    from .pipeline import FIRST_ERRORS, NEW, duplicate_message

    first: dict[Any, int] = {}
    repeated = False
    for path in key_files:
        for number, key, _value in pickle.loads(path.read_bytes()):  # noqa: S301 - our own shards wrote it
            earlier = first.setdefault(key, number)
            if earlier != number:
                repeated = True
                if earlier > number:
                    first[key] = number
    if not repeated:  # the usual file: no second read of the key files (≈ 0.5 s at 1M rows)
        return
    repeats: list[tuple[int, int, str]] = []
    for path in key_files:
        repeats.extend((number, first[key], value)
                       for number, key, value in pickle.loads(path.read_bytes())  # noqa: S301
                       if first[key] != number)
    del first
    rows = [number for number, _first, _value in repeats]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {job.stage_table} WHERE _row = ANY(%s) RETURNING _action", [rows])  # noqa: S608
        actions = [action for (action,) in cursor.fetchall()]
    invalid_before = set(ImportRowError.objects.filter(job=job, row__in=rows).values_list("row", flat=True))
    ImportRowError.objects.filter(job=job, row__in=rows).delete()
    ImportRowError.objects.bulk_create([
        ImportRowError(job=job, row=number, column=resource.column_title(resource.natural_key),
                       value=resource.mask(resource.natural_key, value), message=str(duplicate_message(earlier)))
        for number, earlier, value in repeats])
    tally.new -= sum(1 for action in actions if action == NEW)
    tally.changed -= sum(1 for action in actions if action != NEW)
    tally.unchanged -= len(repeats) - len(actions) - len(invalid_before)
    tally.invalid += len(repeats) - len(invalid_before)
    tally.first_errors = [
        {"row": row, "column": column, "value": value, "message": message}
        for row, column, value, message in ImportRowError.objects.filter(job=job).order_by("row", "id")
        .values_list("row", "column", "value", "message")[:FIRST_ERRORS]]


def shard_chunk_rows(total: int, processes: int) -> int:
    """Rows per chunk: IMPORT_CHUNK_ROWS, or fewer so that each shard takes eight chunks or more (with five chunks
    of a 100,000-row file between two shards, one did three and the other waited on it)."""
    from django.conf import settings

    return max(1_000, min(settings.IMPORT_CHUNK_ROWS, -(-total // (processes * 8))))


def validate_sharded(job, resource, plan, stream, *, encoding: str, processes: int, total: int):
    """The shards start at once (no pass over the file before them): each validates its chunks and notes the key
    of every row; repeated keys are settled afterwards (settle_duplicates)."""
    from .pipeline import Tally

    chunk_rows = shard_chunk_rows(total, processes)
    bounds = chunk_bounds(stream, encoding=encoding, chunk_rows=chunk_rows)
    with tempfile.TemporaryDirectory() as folder:
        plan_path = Path(folder) / "plan.json"
        plan_path.write_text(json.dumps({"bounds": bounds, "chunk_rows": chunk_rows}))
        # The shards inherit the active language (their row messages) and settings; not this connection.
        connection.close()
        outs = [Path(folder) / f"shard{shard}.json" for shard in range(processes)]
        running: list[int] = []
        failed = 0
        try:
            for shard, out in enumerate(outs):
                running.append(_fork_shard(job.pk, job.attempts, shard, processes, str(plan_path), str(out)))
            while running:
                failed += os.waitstatus_to_exitcode(_wait(running[0])) != 0
                running.pop(0)
        finally:
            # Leaving on an error (a time limit, a failed fork, an interrupt): no shard outlives this validation,
            # none keeps writing into a staging table the caller drops, and none is left a zombie.
            for pid in running:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
        if failed:
            raise RuntimeError(f"import {job.pk}: {failed} validation shard(s) failed")
        tally = Tally()
        for out in outs:
            result = json.loads(out.read_text())
            if "file_problem" in result:
                raise FileProblem(result["file_problem"])
            tally.add(Tally(**result))
        settle_duplicates(job, resource, [out.with_suffix(".keys") for out in outs], tally)
    return tally


def _wait(pid: int) -> int:
    """The wait status of a shard (its own function, so a test can interrupt the wait)."""
    return os.waitpid(pid, 0)[1]


def run_shard(job_id: int, attempt: int, shard: int, shards: int, plan_path: str, out_path: str) -> None:
    """One shard: validate chunks shard, shard + shards, … of the file; write its tally as JSON and the key of every
    row it read (pickled, beside it) for settle_duplicates."""
    from reports.models import ImportJob

    from .pipeline import ChunkPlan, Tally, _chunks, context_for, validate_chunk
    from .spec import get_resource

    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    resource = get_resource(job.kind)
    found = json.loads(Path(plan_path).read_text())
    bounds, chunk_rows = found["bounds"], found["chunk_rows"]
    plan = ChunkPlan([tuple(pair) for pair in job.columns], 0)
    plan.width = len(job.columns)
    ctx = context_for(job, resource, plan)
    tally = Tally()
    keys: list[tuple[int, Any, str]] = []

    def duplicate_of(number: int, key: Any, value: str) -> int | None:
        keys.append((number, key, value))
        return None  # known only once every shard is done

    try:
        with job.file.open("rb") as stream:
            if bounds is not None:
                # Only this shard's chunks are parsed: each begins at the byte offset the parent noted.
                ends = [offset for offset, _number in bounds[1:]] + [None]
                chunks = (chunk_at(stream, job.encoding_used, offset, number, end)
                          if index % shards == shard else None
                          for index, ((offset, number), end) in enumerate(zip(bounds, ends, strict=True)))
            else:
                rows = read_rows(stream, file_format="csv", encoding=job.encoding_used)
                next(rows)
                chunks = (chunk if index % shards == shard else None
                          for index, chunk in enumerate(_chunks(rows, chunk_rows)))
            for chunk in chunks:
                if not chunk:
                    continue
                if ImportJob.objects.filter(pk=job_id, attempts=attempt).count() != 1:
                    raise SystemExit(_("validation restarted elsewhere"))
                tally.add(validate_chunk(job, resource, ctx, plan, chunk, duplicate_of))
    except FileProblem as problem:
        Path(out_path).write_text(json.dumps({"file_problem": problem.message}))
        return
    Path(out_path).with_suffix(".keys").write_bytes(pickle.dumps(keys, protocol=pickle.HIGHEST_PROTOCOL))
    Path(out_path).write_text(json.dumps(tally.as_dict()))


def _shard_process(job_id: int, attempt: int, shard: int, shards: int, plan_path: str,
                   out_path: str) -> None:  # pragma: no cover - runs in a forked shard
    """The body of a forked shard (_fork_shard has made it die with its parent and given it the default signal
    handlers): validate, and leave with os._exit, never through the parent's cleanup (its atexit hooks, Celery's
    handlers and the test runner's stack belong to the parent)."""
    code = 1
    try:
        from django.db import connections

        from org.audit import audit_context

        for each in connections.all(initialized_only=True):
            each.connection = None  # closed in the parent before the fork; never reuse its socket
        with audit_context(username="import", job=f"import_validate:{job_id}"):
            run_shard(job_id, attempt, shard, shards, plan_path, out_path)
        connections.close_all()
        code = 0
    except SystemExit as stop:  # the job restarted elsewhere
        log.warning("import %s shard %s: %s", job_id, shard, stop)
    except BaseException:  # the parent reports that a shard failed; the log has why
        log.exception("import %s shard %s failed", job_id, shard)
    finally:
        logging.shutdown()
        os._exit(code)
