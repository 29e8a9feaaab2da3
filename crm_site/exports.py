"""Exports of any list as CSV or XLSX, with flat memory at a million rows.

A list's export builds two things and hands them to `csv_response()` (streamed in the request) or, for a
workbook, `write_xlsx()` (in a worker, see below):

- a header (translated column titles), and
- rows: any iterable of tuples, usually `queryset_rows()` (a Django queryset read through a
  server-side cursor in chunks) or `sql_rows()` (hand-written SQL, the same way), mapped through a
  generator that masks or labels values.

CSV is UTF-8 with a BOM (Excel opens Chinese correctly) and streams as it is produced. XLSX is
written by XlsxWriter in `constant_memory` mode (each row goes to a temporary file as it comes,
strings inline, no shared-strings table); a sheet
holds at most 1,048,576 rows, so longer exports continue on further sheets with the header repeated.

An XLSX workbook of a large list takes about a minute per million rows, so a list's XLSX export runs
as a background job (`reports/exports.py`): the list registers an exporter here with
`register_exporter(kind, source)`, and the worker calls `source(actor=…, params=…, plaintext=…)` for
the header, rows and sheet title, checked and scoped again for the person who asked.

In both formats a text cell that starts with = + - @ tab or carriage return is prefixed with an
apostrophe so a spreadsheet shows it as text instead of running it (formula injection), and XLSX
writes every text value as a string cell, so ID numbers ending in X, numbers with leading zeros and
19-digit account numbers stay exactly as they are.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import StreamingHttpResponse

# A cell starting with one of these is a formula to Excel/WPS; a leading apostrophe makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx")
CHUNK_ROWS = 5000  # rows fetched from the server-side cursor at a time
CSV_BATCH_ROWS = 500  # rows written into one chunk of the HTTP response
XLSX_MAX_ROWS = 1_048_576  # rows per worksheet, header included (Excel's limit)

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell_text(value: object) -> str:
    """A value as CSV text: numbers as written, dates in ISO form, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return neutralise(value)


# --- row sources ---------------------------------------------------------------------------------------


def queryset_rows(qs: QuerySet, fields: Sequence[str], *, chunk_size: int = CHUNK_ROWS) -> Iterator[tuple]:
    """The queryset's rows as tuples, read through a server-side cursor `chunk_size` rows at a time.

    Read inside a transaction: in autocommit mode Django declares the cursor WITH HOLD, and PostgreSQL
    then materialises the whole result before the first row (≈ 1.2 s at a million customers); in a
    transaction rows stream as they are read, from one consistent snapshot.
    """
    with transaction.atomic(using=qs.db):
        yield from qs.values_list(*fields).iterator(chunk_size=chunk_size)


def sql_rows(sql: str, params: Sequence[Any] = (), *, chunk_size: int = CHUNK_ROWS) -> Iterator[tuple]:
    """The rows of one SELECT, read through a server-side cursor `chunk_size` rows at a time (as above)."""
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield from rows


# --- writers -------------------------------------------------------------------------------------------


_STARTS = frozenset(FORMULA_STARTS)
_CONVERT = frozenset((bool, dt.datetime, dt.date))  # csv would write these as True / with a space


def _csv_row(row: Sequence[object]) -> list:
    # The hot loop of a million-row export: csv.writer writes None, numbers and Decimals itself.
    return [("'" + cell if cell[:1] in _STARTS else cell) if cell.__class__ is str
            else (_cell_text(cell) if cell.__class__ in _CONVERT else cell) for cell in row]


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[object]], *,
               batch: int = CSV_BATCH_ROWS) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM, `batch` rows per yielded chunk (one small write per row costs more than the row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([neutralise(title) for title in header])
    rows = iter(rows)
    while True:
        written = buffer.tell()
        writer.writerows(map(_csv_row, itertools.islice(rows, batch)))
        if buffer.tell() == written:
            break
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def csv_rows(header: list[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """Row by row as text (kept for callers that join the output themselves)."""
    for chunk in csv_chunks(header, rows, batch=1):
        yield chunk.decode("utf-8")


def write_xlsx(target, header: Sequence[str], rows: Iterable[Sequence[object]], *, sheet_title: str = "",
               max_rows: int = XLSX_MAX_ROWS, tmpdir: str | None = None) -> int:
    """Write an XLSX workbook to `target` (a path or a binary file) in constant memory; returns the data rows.

    Text is always a string cell (never a number or a formula), numbers are number cells, dates ISO
    text. Past `max_rows` rows (header included) the rows continue on a new sheet with the header again.
    """
    import xlsxwriter

    workbook = xlsxwriter.Workbook(target, {"constant_memory": True, "in_memory": False,
                                            "tmpdir": tmpdir or tempfile.gettempdir()})
    bold = workbook.add_format({"bold": True})
    base_title = (sheet_title or "Sheet")[:25].translate(str.maketrans("", "", "[]:*?/\\"))
    sheets = 0
    sheet = None
    row_index = max_rows
    count = 0
    for row in rows:
        if row_index >= max_rows:
            sheets += 1
            sheet = workbook.add_worksheet(base_title if sheets == 1 else f"{base_title} ({sheets})")
            for col, title in enumerate(header):
                sheet.write_string(0, col, neutralise(title), bold)
            row_index = 1
        for col, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, bool):
                sheet.write_boolean(row_index, col, value)
            elif isinstance(value, int | float | Decimal):
                sheet.write_number(row_index, col, float(value))
            elif isinstance(value, dt.datetime | dt.date):
                sheet.write_string(row_index, col, value.isoformat())
            else:
                sheet.write_string(row_index, col, neutralise(value))
        row_index += 1
        count += 1
    if sheet is None:  # no rows: still a workbook with its header
        sheet = workbook.add_worksheet(base_title)
        for col, title in enumerate(header):
            sheet.write_string(0, col, neutralise(title), bold)
    workbook.close()
    return count


# --- responses -----------------------------------------------------------------------------------------


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_chunks(header, rows), content_type=CONTENT_TYPES["csv"])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- background exports --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exporter:
    """A list that can be exported in the background.

    `source(*, actor, params, plaintext)` returns (header, rows, sheet_title) for the list's query string
    `params`, scoped to `actor`; it raises PermissionDenied when the actor may not (or no longer may)
    export, and ValidationError when the filters are not valid any more. The permissions and the
    object type are what a download is checked against and audited as.
    """

    source: Callable[..., tuple[Sequence[str], Iterable[Sequence[object]], str]]
    permission: str
    reveal_permission: str
    object_type: str
    pii_fields: tuple[str, ...] = ()


_EXPORTERS: dict[str, Exporter] = {}


def register_exporter(kind: str, exporter: Exporter) -> None:
    _EXPORTERS[kind] = exporter


def get_exporter(kind: str) -> Exporter:
    return _EXPORTERS[kind]
