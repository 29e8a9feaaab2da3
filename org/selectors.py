"""Reads of the organisation app: the audit trail page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

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
    return rows, rows[-1].pk if more else None
