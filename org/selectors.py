"""Reads of the organisation app: the audit trail page."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.apps import apps
from django.db.models import QuerySet
from django.utils import translation

from .models import AuditEntry

PAGE_SIZE = 50


def audit_entries(*, filters: dict[str, Any], before: int | None = None) -> tuple[list[AuditEntry], int | None]:
    """One keyset page of the audit trail, newest first, and the id to continue from (or None)."""
    qs: QuerySet[AuditEntry] = AuditEntry.objects.all()
    if filters.get("actor"):
        qs = qs.filter(actor_username=filters["actor"])
    if filters.get("action"):
        qs = qs.filter(action=filters["action"])
    if filters.get("object_type"):
        qs = qs.filter(object_type=filters["object_type"])
    if filters.get("object_id"):
        qs = qs.filter(object_id=filters["object_id"])
    tz = dt.UTC  # the page shows and filters times in UTC, as auditors compare across systems
    if filters.get("date_from"):
        qs = qs.filter(occurred_at__gte=dt.datetime.combine(filters["date_from"], dt.time.min, tzinfo=tz))
    if filters.get("date_to"):
        qs = qs.filter(occurred_at__lt=dt.datetime.combine(filters["date_to"], dt.time.min, tzinfo=tz)
                       + dt.timedelta(days=1))
    if before:
        qs = qs.filter(id__lt=before)
    rows = list(qs.order_by("-id")[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    for row in rows:
        row.object_label, row.field_labels = _labels(row.object_type, tuple(row.fields))
    return rows, rows[-1].pk if more else None


@functools.lru_cache(maxsize=4096)
def _labels_cached(object_type: str, fields: tuple[str, ...], language: str) -> tuple[str, tuple[str, ...]]:
    app_label, _dot, model_name = object_type.partition(".")
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return object_type, fields  # a link table (e.g. org.user_groups): its name says enough
    by_column = {getattr(field, "column", None): field for field in model._meta.get_fields()}
    names = []
    for name in fields:
        field = by_column.get(name)
        names.append(str(field.verbose_name) if field is not None and hasattr(field, "verbose_name") else name)
    return str(model._meta.verbose_name), tuple(names)


def _labels(object_type: str, fields: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The model's and fields' names in the reader's language (the raw names stay in the row)."""
    if not object_type:
        return "", fields
    return _labels_cached(object_type, fields, translation.get_language() or "")
