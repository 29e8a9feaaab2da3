"""What a resource tells the import engine: its columns (with Chinese and English header names), its natural
key, how to validate one row, how to find the rows already on file, and which table columns it writes.

A resource is a django-import-export `ModelResource` that also inherits `FastImport`, so Django admin's
import/export buttons and the fast pipeline share one class per model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from crm_site.masking import mask_middle

_registry: dict[str, type[FastImport]] = {}


# The hooks every resource writes itself: there is no sensible default for validating a row, finding the rows
# on file, comparing, or laying out the staging row.
REQUIRED_HOOKS = ("clean_row", "existing", "differs", "update_columns", "stage_row")


def register(resource: type[FastImport]) -> type[FastImport]:
    """Make a resource's kind importable (class decorator). A resource missing a hook or its kind, key or
    table is refused here, when its module is imported, rather than half-way through an operator's file."""
    missing = [hook for hook in REQUIRED_HOOKS if not callable(getattr(resource, hook, None))]
    missing += [name for name in ("import_kind", "natural_key", "target_table") if not getattr(resource, name)]
    if missing:
        raise TypeError(f"import resource {resource.__name__} does not define: {', '.join(missing)}")
    _registry[resource.import_kind] = resource
    return resource


def get_resource(kind: str) -> FastImport:
    try:
        return _registry[kind]()
    except KeyError:
        raise LookupError(f"no import resource for {kind!r}") from None


def registered_kinds() -> list[str]:
    return list(_registry)


def header_key(text: str) -> str:
    """Headers compare without case, spaces, underscores, BOMs, asterisks and brackets: 客户号* == 客户号."""
    return re.sub(r"[\s_\-*（）()\ufeff:：]+", "", str(text)).lower()


@dataclass(frozen=True)
class ImportColumn:
    """One column a file may carry: its field, the header names accepted, whether it must be present."""

    field: str
    aliases: tuple[str, ...]
    required: bool = False
    # Required only when rows may be created (create / upsert); an update file may leave it out.
    required_to_create: bool = False
    pii: bool = False


class RowError(Exception):  # noqa: N818 - reads as "a row error", raised per row
    """The problems of one row: [(field, raw value, message)]; the report masks personal data."""

    def __init__(self, problems: Iterable[tuple[str, str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(message for _f, _v, message in self.problems))


@dataclass
class ImportContext:
    """What one job's validation knows: who imports, how far they reach, what the file's columns are."""

    actor: Any
    mode: str
    fields: list[str]
    reach: Any = None
    lookups: dict[str, Any] = field(default_factory=dict)
    # The staging table's column types in COPY order, for binary COPY (read once per process).
    stage_types: list[str] | None = None


FORMULA_START = ("=", "+", "@", "\t", "\r")


class FastImport:
    """The fast path of a resource. Subclasses set the attributes below, implement the hooks `register` checks
    for, and may override the optional hooks defined here:

    - `clean_row(ctx, raw) -> dict`: validated, normalised values of one row (logical fields), or raise
      RowError naming each bad field.
    - `existing(ctx, cursor, keys) -> {key: {"id": …, …}}`: the rows already on file for these keys.
    - `differs(ctx, values, current) -> bool`: whether the row would change what is on file.
    - `update_columns(ctx) -> [column]`: physical columns an update writes, given the file's fields.
    - `stage_row(ctx, values, current) -> tuple`: physical values in stage_columns order (personal data sealed
      here).
    """

    import_kind: str = ""
    import_label: Any = ""
    natural_key: str = ""
    target_table: str = ""
    import_columns: tuple[ImportColumn, ...] = ()
    # Physical columns of target_table the staging table carries (the insert list, "id" excluded).
    stage_columns: tuple[str, ...] = ()
    # Whether an existing row may be changed at all (transactions are facts: matched rows stay as they are).
    updatable: bool = True

    # -- columns --------------------------------------------------------------------------------
    def header_map(self) -> dict[str, str]:
        mapping = {}
        for column in self.import_columns:
            for alias in (column.field, *column.aliases):
                mapping[header_key(alias)] = column.field
        return mapping

    def column(self, name: str) -> ImportColumn:
        return next(column for column in self.import_columns if column.field == name)

    def required_fields(self, mode: str) -> list[str]:
        creates = mode in ("create", "upsert")
        return [c.field for c in self.import_columns if c.required or (creates and c.required_to_create)]

    def column_title(self, name: str) -> str:
        """The header people know a field by (the first alias: Chinese)."""
        column = self.column(name)
        return column.aliases[0] if column.aliases else column.field

    def mask(self, name: str, value: str) -> str:
        """The value as the error report may show it: personal data masked, everything cut to 200."""
        value = (value or "")[:200]
        try:
            column = self.column(name)
        except StopIteration:
            return value
        return mask_middle(value, keep_start=3, keep_end=4) if column.pii and value else value

    # -- hooks ----------------------------------------------------------------------------------
    def prepare(self, ctx: ImportContext) -> None:
        """Load what validation looks up (branches, staff, products) once per job into ctx.lookups."""

    def resolve(self, ctx: ImportContext, cursor, rows: list[dict[str, Any]]) -> list[list[tuple[str, str, str]]]:
        """Per chunk: look up what rows refer to (customers of accounts …) in one query; problems per row."""
        return [[] for _row in rows]

    def raw_key(self, raw: dict[str, str]) -> Any:
        """The natural key as the file writes it, for duplicate detection before validation (None: no key)."""
        return (raw.get(self.natural_key) or "").strip() or None

    def key_of(self, values: dict[str, Any]) -> Any:
        return values[self.natural_key]

    def check_existing(self, ctx: ImportContext, values: dict[str, Any], current: dict[str, Any]) -> None:
        """RowError when the row on file may not be changed by this operator (outside their reach)."""

    def after_write(self, cursor, *, stage: str) -> None:
        """Set-based follow-up in the commit's (or revert's) transaction, e.g. recompute AUM."""

    # -- shared helpers -------------------------------------------------------------------------
    @staticmethod
    def text(raw: dict[str, str], name: str, problems: list, *, max_length: int, required: bool = False) -> str:
        value = (raw.get(name) or "").strip()
        if required and not value:
            problems.append((name, value, _("This field is required.")))
        elif len(value) > max_length:
            problems.append((name, value, _("At most %(n)d characters.") % {"n": max_length}))
        elif value.startswith(FORMULA_START) or (value.startswith("-") and not _NUMBER.match(value)):
            problems.append((name, value, _("Begins with a formula character (= + - @); "
                                            "spreadsheet formulas are not accepted as data.")))
        return value


_NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?$")
