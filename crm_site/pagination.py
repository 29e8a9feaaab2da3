"""Keyset pagination: page N costs what page 1 costs, where OFFSET grows with N.

The cursor is the sort key of the last row shown, signed so a user cannot forge one that
reaches around a filter, and opaque so it does not show values in the address bar.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core import signing
from django.db.models import Q, QuerySet

SALT = "crm.keyset"


def cursor_for(row: Any, fields: tuple[str, ...]) -> str:
    values = [getattr(row, field.lstrip("-")) for field in fields]
    # Decimals and datetimes travel as text; the ORM parses them back in the lookup.
    values = [v.isoformat() if isinstance(v, dt.datetime | dt.date) else str(v) if isinstance(v, Decimal) else v
              for v in values]
    return signing.dumps(values, salt=SALT, compress=True)


def _decode(cursor: str | None) -> list | None:
    if not cursor:
        return None
    try:
        return signing.loads(cursor, salt=SALT)
    except signing.BadSignature:
        return None


def keyset_page(
    queryset: QuerySet, *, fields: tuple[str, ...], cursor: str | None, size: int
) -> tuple[list, str | None]:
    """Rows after `cursor` in `fields` order ("-name" for descending), and the next page's cursor (or None)."""
    values = _decode(cursor)
    qs = queryset.order_by(*fields)
    if values is not None and len(values) == len(fields):
        # (a, b) > (x, y)  ==  a > x OR (a = x AND b > y), which PostgreSQL serves from the index;
        # a descending field compares with < instead.
        names = [field.lstrip("-") for field in fields]
        condition = Q()
        for depth in range(len(fields)):
            step = Q(**{names[i]: values[i] for i in range(depth)})
            operator = "lt" if fields[depth].startswith("-") else "gt"
            step &= Q(**{f"{names[depth]}__{operator}": values[depth]})
            condition |= step
        # The OR above is exact but PostgreSQL cannot start an index scan from it; the redundant
        # bound on the first field can, so page 10,000 reads as few rows as page 1.
        first = "lte" if fields[0].startswith("-") else "gte"
        qs = qs.filter(Q(**{f"{names[0]}__{first}": values[0]}) & condition)
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (cursor_for(rows[-1], fields) if more else None)
