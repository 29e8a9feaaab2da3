"""Keyset pagination: page N costs what page 1 costs, where OFFSET grows with N.

The cursor is the sort key of the last row shown, signed so a user cannot forge one that
reaches around a filter, and opaque so it does not show values in the address bar.
"""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.db.models import Q, QuerySet

SALT = "crm.keyset"


def cursor_for(row: Any, fields: tuple[str, ...]) -> str:
    return signing.dumps([getattr(row, field) for field in fields], salt=SALT, compress=True)


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
    """Rows after `cursor` in ascending `fields` order, and the cursor of the next page (or None)."""
    values = _decode(cursor)
    qs = queryset.order_by(*fields)
    if values is not None and len(values) == len(fields):
        # (a, b) > (x, y)  ==  a > x OR (a = x AND b > y), which PostgreSQL serves from the index.
        condition = Q()
        for depth in range(len(fields)):
            step = Q(**{f"{fields[i]}": values[i] for i in range(depth)})
            step &= Q(**{f"{fields[depth]}__gt": values[depth]})
            condition |= step
        qs = qs.filter(condition)
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (cursor_for(rows[-1], fields) if more else None)
