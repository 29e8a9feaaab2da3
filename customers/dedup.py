"""Duplicate detection: candidate pairs of customer records, scored by their evidence, and the review actions.

Candidates come from four blocks, each one set-based SQL over a narrow work table of the customers
still in play (not closed, not merged):

- same ID number (blind index), same mobile phone (blind index);
- same birth date and a similar name; same address and a similar name.

"Similar name" is: identical, the same pinyin (homophone typo), the same characters in another
order (swapped), or one edit apart (levenshtein, fuzzystrmatch). Trigrams are no use here: most
Chinese names have two or three characters, which give one or two trigrams (ARCHITECTURE.md).

Each pair's score adds the weights of its evidence (WEIGHTS, capped at 100) and subtracts a
penalty when both records carry ID numbers of the same type that differ (two valid resident IDs
are two people). Pairs from THRESHOLD up are proposed; docs/decisions.md says why these numbers.

The address is sealed, so the job unseals it in memory to compute a keyed HMAC (never stored,
kept in a temporary table for the run). Re-runs keep every decision: the upsert touches open pairs
only, so a "not duplicates" pair is never proposed again; an open pair whose evidence is gone is
withdrawn.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_site import crypto

from .models import Customer, DuplicateCandidate

Reason = DuplicateCandidate.Reason

WEIGHTS = {
    Reason.SAME_ID: 60,
    Reason.SAME_PHONE: 40,
    Reason.SAME_NAME: 25,
    Reason.SIMILAR_NAME: 15,
    Reason.SAME_BIRTH_DATE: 15,
    Reason.SAME_ADDRESS: 20,
}
DIFFERENT_ID_PENALTY = 50
THRESHOLD = 50
CHUNK = 50_000

# Customers still in play; the narrow table every block joins on itself.
PEOPLE_SQL = """
CREATE TEMP TABLE dd_people AS
SELECT c.id, c.name, c.name_pinyin AS pinyin, k.name_sorted, c.birth_date, c.id_type,
       NULLIF(c.id_number_bidx, '') AS id_bidx, NULLIF(c.phone_bidx, '') AS phone_bidx, k.address_key
  FROM customers_customer c JOIN dd_keys k ON k.id = c.id
 WHERE c.merged_into_id IS NULL AND c.lifecycle_status <> 'closed'
"""

SIMILAR = """(a.name = b.name OR (a.pinyin <> '' AND a.pinyin = b.pinyin) OR a.name_sorted = b.name_sorted
              OR levenshtein(a.name, b.name) <= 1)"""

BLOCKS = {
    "id": "a.id_bidx = b.id_bidx",
    "phone": "a.phone_bidx = b.phone_bidx",
    "birth_date": f"a.birth_date = b.birth_date AND {SIMILAR}",
    "address": f"a.address_key = b.address_key AND {SIMILAR}",
}

# Built from module constants only, never from input.
SCORE_SQL = f"""
CREATE TEMP TABLE dd_scored AS
SELECT low_id, high_id, GREATEST(0, LEAST(100, points - penalty))::smallint AS score, reasons
  FROM (SELECT p.low_id, p.high_id,
               CASE WHEN a.id_bidx = b.id_bidx THEN {WEIGHTS[Reason.SAME_ID]} ELSE 0 END
             + CASE WHEN a.phone_bidx = b.phone_bidx THEN {WEIGHTS[Reason.SAME_PHONE]} ELSE 0 END
             + CASE WHEN a.name = b.name THEN {WEIGHTS[Reason.SAME_NAME]}
                    WHEN {SIMILAR} THEN {WEIGHTS[Reason.SIMILAR_NAME]} ELSE 0 END
             + CASE WHEN a.birth_date = b.birth_date THEN {WEIGHTS[Reason.SAME_BIRTH_DATE]} ELSE 0 END
             + CASE WHEN a.address_key = b.address_key THEN {WEIGHTS[Reason.SAME_ADDRESS]} ELSE 0 END AS points,
               CASE WHEN a.id_type = b.id_type AND a.id_bidx <> b.id_bidx
                    THEN {DIFFERENT_ID_PENALTY} ELSE 0 END AS penalty,
               to_jsonb(array_remove(ARRAY[
                   CASE WHEN a.id_bidx = b.id_bidx THEN '{Reason.SAME_ID.value}' END,
                   CASE WHEN a.phone_bidx = b.phone_bidx THEN '{Reason.SAME_PHONE.value}' END,
                   CASE WHEN a.name = b.name THEN '{Reason.SAME_NAME.value}'
                        WHEN {SIMILAR} THEN '{Reason.SIMILAR_NAME.value}' END,
                   CASE WHEN a.birth_date = b.birth_date THEN '{Reason.SAME_BIRTH_DATE.value}' END,
                   CASE WHEN a.address_key = b.address_key THEN '{Reason.SAME_ADDRESS.value}' END
               ]::text[], NULL)) AS reasons
          FROM dd_pairs p JOIN dd_people a ON a.id = p.low_id JOIN dd_people b ON b.id = p.high_id) s
 WHERE points - penalty >= %(threshold)s
"""  # noqa: S608

UPSERT_SQL = """
INSERT INTO customers_duplicatecandidate (low_id, high_id, score, reasons, status, found_at, seen_at)
SELECT low_id, high_id, score, reasons, 'open', %(now)s, %(now)s FROM dd_scored
 WHERE low_id >= %(first)s AND low_id < %(last)s
ON CONFLICT (low_id, high_id) DO UPDATE SET score = EXCLUDED.score, reasons = EXCLUDED.reasons,
                                            seen_at = EXCLUDED.seen_at
 WHERE customers_duplicatecandidate.status = 'open'
   AND (customers_duplicatecandidate.score, customers_duplicatecandidate.reasons)
       IS DISTINCT FROM (EXCLUDED.score, EXCLUDED.reasons)
"""

WITHDRAW_SQL = """
DELETE FROM customers_duplicatecandidate d
 WHERE d.status = 'open'
   AND NOT EXISTS (SELECT 1 FROM dd_scored s WHERE s.low_id = d.low_id AND s.high_id = d.high_id)
"""

TEMP_TABLES = ("dd_keys", "dd_people", "dd_pairs", "dd_scored")


@dataclass(frozen=True)
class DedupResult:
    customers: int
    pairs_considered: int
    candidates: int
    upserted: int
    withdrawn: int

    @property
    def changed(self) -> int:
        return self.upserted + self.withdrawn


def _address_keys(cursor, progress: Any = None) -> int:
    """dd_keys(id, name_sorted, address_key): the address HMAC needs the plaintext, so it is made here."""
    cursor.execute("CREATE TEMP TABLE dd_keys (id bigint PRIMARY KEY, name_sorted text, address_key text)")
    rows: list[tuple[int, str, str | None]] = []
    done = 0

    def flush() -> None:
        with cursor.copy("COPY dd_keys (id, name_sorted, address_key) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        rows.clear()

    last = 0
    while True:
        # Keyset batches over the primary key: one COPY may not run while another result is being read.
        cursor.execute("SELECT id, name, address_enc FROM customers_customer WHERE id > %s "
                       "AND merged_into_id IS NULL AND lifecycle_status <> 'closed' ORDER BY id LIMIT %s",
                       [last, CHUNK])
        batch = cursor.fetchall()
        if not batch:
            break
        for pk, name, sealed in batch:
            address = crypto.decrypt(sealed) if sealed else ""
            rows.append((pk, "".join(sorted(name)), crypto.blind_index("address", address) or None))
        last = batch[-1][0]
        done += len(batch)
        flush()
        if progress is not None:
            progress.advance(len(batch))
    return done


def dedup_run(*, progress: Any = None) -> DedupResult:
    """Find, score and upsert duplicate candidates; keeps decisions; withdraws open pairs whose evidence went."""
    from org.audit import audit_record
    from org.models import AuditEntry

    now = timezone.now()
    with connection.cursor() as cursor:
        for table in TEMP_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        # The self-joins hash a million narrow rows; the default 4 MB would spill them to disk.
        cursor.execute("SET work_mem = '256MB'")
        try:
            if progress is not None:
                cursor.execute("SELECT count(*) FROM customers_customer WHERE merged_into_id IS NULL "
                               "AND lifecycle_status <> 'closed'")
                progress.set_total(cursor.fetchone()[0])
            customers = _address_keys(cursor, progress)
            cursor.execute(PEOPLE_SQL)
            cursor.execute("ANALYZE dd_people")
            cursor.execute("CREATE TEMP TABLE dd_pairs (low_id bigint, high_id bigint)")
            for condition in BLOCKS.values():
                cursor.execute(
                    "INSERT INTO dd_pairs SELECT a.id, b.id FROM dd_people a JOIN dd_people b "  # noqa: S608
                    f"ON {condition} AND a.id < b.id")
            cursor.execute("SELECT count(*) FROM (SELECT DISTINCT low_id, high_id FROM dd_pairs) d")
            considered = cursor.fetchone()[0]
            cursor.execute("CREATE TEMP TABLE dd_unique AS SELECT DISTINCT low_id, high_id FROM dd_pairs")
            cursor.execute("DROP TABLE dd_pairs")
            cursor.execute("ALTER TABLE dd_unique RENAME TO dd_pairs")
            cursor.execute(SCORE_SQL, {"threshold": THRESHOLD})
            cursor.execute("CREATE INDEX ON dd_scored (low_id, high_id)")
            cursor.execute("ANALYZE dd_scored")
            cursor.execute("SELECT count(*), min(low_id), max(low_id) FROM dd_scored")
            candidates, first, last = cursor.fetchone()
            upserted = 0
            # One transaction per range of ids: a killed run keeps what it wrote, and a rerun converges.
            step = 100_000
            start = first or 0
            while first is not None and start <= last:
                with transaction.atomic():
                    cursor.execute(UPSERT_SQL, {"now": now, "first": start, "last": start + step})
                    upserted += cursor.rowcount
                start += step
            with transaction.atomic():
                cursor.execute(WITHDRAW_SQL)
                withdrawn = cursor.rowcount
                result = DedupResult(customers, considered, candidates, upserted, withdrawn)
                if result.changed:  # a run that changes nothing leaves no trace (idempotent)
                        audit_record(action=AuditEntry.Action.JOB, object_type="customers.duplicatecandidate",
                                 username="dedup", detail={"job": "dedup", "customers": customers,
                                                           "pairs_considered": considered, "candidates": candidates,
                                                           "upserted": upserted, "withdrawn": withdrawn})
        finally:
            for table in TEMP_TABLES:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute("RESET work_mem")
    return result


# --- the review queue -----------------------------------------------------------------------------


def _visible_customers(user: Any) -> QuerySet[Customer]:
    from org import scoping

    return scoping.visible(user, Customer.objects.all())


def candidate_queue(*, user: Any) -> QuerySet[DuplicateCandidate]:
    """Open pairs whose two customers `user` both sees, best evidence first."""
    from org import scoping

    qs = DuplicateCandidate.objects.filter(status=DuplicateCandidate.Status.OPEN)
    if not scoping.reach_of(user).everything:
        visible = _visible_customers(user).values("pk")
        qs = qs.filter(low__in=visible, high__in=visible)
    return qs.select_related("low", "high", "low__home_branch", "high__home_branch", "low__primary_rm",
                             "high__primary_rm")


def access_candidate(user: Any, pk: Any) -> DuplicateCandidate:
    """One pair whose two customers `user` sees, or Http404 (the same for missing and out of reach)."""
    try:
        candidate = DuplicateCandidate.objects.select_related(
            "low", "high", "low__home_branch", "high__home_branch", "low__primary_rm", "high__primary_rm",
            "decided_by").get(pk=int(pk))
    except (DuplicateCandidate.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if _visible_customers(user).filter(pk__in=[candidate.low_id, candidate.high_id]).count() != 2:
        raise Http404
    return candidate


@transaction.atomic
def duplicatecandidate_dismiss(*, candidate: DuplicateCandidate, actor: Any) -> DuplicateCandidate:
    """Mark a pair "not duplicates": remembered, so the job never proposes it again (audited)."""
    from org.audit import audit_record
    from org.models import AuditEntry

    if not actor.has_perm("customers.change_duplicatecandidate"):
        raise PermissionDenied(_("Your role may not decide on duplicates."))
    candidate = DuplicateCandidate.objects.select_for_update().get(pk=candidate.pk)
    if candidate.status != DuplicateCandidate.Status.OPEN:
        raise ValidationError(_("This pair has already been decided."))
    candidate.status = DuplicateCandidate.Status.NOT_DUPLICATE
    candidate.decided_by, candidate.decided_at = actor, timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(action=AuditEntry.Action.UPDATE, actor=actor, obj=candidate, fields=["status"],
                 detail={"decision": candidate.status, "low": candidate.low_id, "high": candidate.high_id})
    return candidate


@transaction.atomic
def duplicatecandidate_merge(*, candidate: DuplicateCandidate, actor: Any, survivor_id: int,
                             choices: dict[str, str] | None = None) -> Customer:
    """Merge the pair through customers.services.customer_merge with the reviewer's survivorship choices."""
    from org.audit import audit_record
    from org.models import AuditEntry

    from .services import customer_merge

    if not actor.has_perm("customers.change_duplicatecandidate"):
        raise PermissionDenied(_("Your role may not decide on duplicates."))
    candidate = DuplicateCandidate.objects.select_for_update().get(pk=candidate.pk)
    if candidate.status != DuplicateCandidate.Status.OPEN:
        raise ValidationError(_("This pair has already been decided."))
    if survivor_id not in (candidate.low_id, candidate.high_id):
        raise ValidationError({"survivor": _("Choose which of the two records survives.")})
    duplicate_id = candidate.high_id if survivor_id == candidate.low_id else candidate.low_id
    survivor = customer_merge(survivor=Customer(pk=survivor_id), duplicate=Customer(pk=duplicate_id), actor=actor,
                              choices=choices)
    candidate.status = DuplicateCandidate.Status.MERGED
    candidate.decided_by, candidate.decided_at = actor, timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at"])
    # Other open pairs of the closed record are moot; the next run proposes the survivor instead if it matches.
    from django.db.models import Q

    DuplicateCandidate.objects.filter(Q(low_id=duplicate_id) | Q(high_id=duplicate_id),
                                      status=DuplicateCandidate.Status.OPEN).delete()
    audit_record(action=AuditEntry.Action.UPDATE, actor=actor, obj=candidate, fields=["status"],
                 detail={"decision": candidate.status, "survivor": survivor_id, "duplicate": duplicate_id,
                         "choices": choices or {}})
    return survivor


def parse_date(value: Any) -> datetime.date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))
