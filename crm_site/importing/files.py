"""Reading import files: format sniffing, encoding detection and streaming readers that yield text cells.

Cells are always text: a number typed into a spreadsheet arrives as the digits people see (an int
cell → str(int)), never as a float, so an 18-digit ID or a leading-zero account number typed as text
stays exact. CSV is decoded incrementally; XLSX is read with openpyxl's read-only mode, so neither
holds the file in memory.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import IO

from django.utils.translation import gettext as _

XLSX_MAGIC = b"PK\x03\x04"
BOMS = (codecs.BOM_UTF8,)
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
csv.field_size_limit(1024 * 1024)


class FileProblem(Exception):
    """A problem with the file as a whole (nothing of it is imported); the message is for the operator."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def sniff_format(head: bytes, name: str) -> str:
    """'xlsx' or 'csv' from the first bytes (the extension alone is not trusted); FileProblem otherwise."""
    if not head.strip():
        raise FileProblem(_("The file is empty: it holds no header and no rows."))
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    if head.startswith((b"\xd0\xcf\x11\xe0", b"%PDF", b"\x89PNG", b"\xff\xd8", b"GIF8", b"\x1f\x8b", b"Rar!",
                        b"7z\xbc\xaf")) or b"\x00" in head[:4096]:
        raise FileProblem(_("“%(name)s” is not a CSV or XLSX file (old .xls files: save as .xlsx first).")
                          % {"name": name})
    return "csv"


def detect_encoding(stream: IO[bytes], *, block: int = 1 << 20) -> str:
    """BOM → utf-8-sig; the whole file valid UTF-8 → utf-8; otherwise gb18030 (what Chinese Excel writes)."""
    stream.seek(0)
    first = stream.read(block)
    if first.startswith(codecs.BOM_UTF8):
        stream.seek(0)
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    data = first
    try:
        while data:
            decoder.decode(data, final=False)
            data = stream.read(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        stream.seek(0)
        return "gb18030"
    stream.seek(0)
    return "utf-8"


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # A float cell is what Excel made of a typed number; integral ones read as their digits.
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def read_csv(stream: IO[bytes], encoding: str) -> Iterator[list[str]]:
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="", errors="strict")
    line = 0
    try:
        for line, row in enumerate(csv.reader(text), start=1):  # noqa: B007 - line is read in except
            yield row
    except UnicodeDecodeError:
        raise FileProblem(
            _("The file cannot be read as %(encoding)s (after line %(line)d); choose the other encoding.")
            % {"encoding": encoding.upper(), "line": line}) from None
    except csv.Error as exc:
        raise FileProblem(_("Line %(line)d is not valid CSV: %(error)s") % {"line": line + 1, "error": exc}) \
            from None
    finally:
        # Leave the underlying file to its owner (closing the wrapper would close it).
        with contextlib.suppress(ValueError):
            text.detach()


def read_xlsx(stream: IO[bytes]) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    stream.seek(0)
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any failure of openpyxl means the file is not a workbook we read
        raise FileProblem(_("The file looks like XLSX but cannot be opened as a workbook.")) from None
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell_text(value) for value in values]
    finally:
        workbook.close()


def read_rows(stream: IO[bytes], *, file_format: str, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """(row number as a spreadsheet shows it — the header is row 1 —, text cells); blank lines skipped."""
    rows = read_xlsx(stream) if file_format == "xlsx" else read_csv(stream, encoding)
    for number, row in enumerate(rows, start=1):
        # csv gives [] for an empty line; the first cell usually settles it without a generator.
        if row and (row[0].strip() or any(cell.strip() for cell in row)):
            yield number, row
