"""The nightly data-cleansing job: safe automatic normalisations, and findings as data-quality issues.

Automatic fixes are limited to normalising how a name is written (trim, full-width → half-width,
collapsed spaces); they go through one UPDATE that the row-audit trigger records. Phones and
addresses are normalised when they are sealed (customers.pii), so their stored form is already
canonical and the job never unseals them to rewrite them. Everything else a person entered is
never changed: it becomes an issue (missing required field, ID checksum, ID vs birth date/gender,
not verified for 12 months) that stays open until the data is fixed — the next run resolves it —
or a person resolves it.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from crm_site import crypto
from org.audit import audit_record
from org.models import AuditEntry

from . import pii
from .models import Customer, DataQualityIssue, DataQualitySnapshot

STALE_DAYS = 365
CHUNK = 5000
Kind = DataQualityIssue.Kind

# Full-width ASCII (U+FF01–U+FF5E) and the ideographic space, and what they normalise to.
FULL_WIDTH = "".join(chr(code) for code in range(0xFF01, 0xFF5F)) + "\u3000"
HALF_WIDTH = "".join(chr(code) for code in range(0x21, 0x7F)) + " "

# (kind of customer, field, SQL condition that the field is missing)
REQUIRED: list[tuple[str, str, str]] = [
    (Customer.Kind.INDIVIDUAL, "id_number", "c.id_number_enc = ''"),
    (Customer.Kind.INDIVIDUAL, "phone", "c.phone_enc = ''"),
    (Customer.Kind.INDIVIDUAL, "birth_date", "c.birth_date IS NULL"),
    (Customer.Kind.INDIVIDUAL, "gender", "c.gender = ''"),
    (Customer.Kind.CORPORATE, "id_number", "c.id_number_enc = ''"),
    (Customer.Kind.CORPORATE, "phone", "c.phone_enc = ''"),
]
IN_SCOPE = "c.merged_into_id IS NULL AND c.lifecycle_status <> 'closed'"


@dataclass(frozen=True)
class CleansingResult:
    names_normalised: int
    customers_checked: int
    issues_opened: int
    issues_resolved: int

    @property
    def changed(self) -> int:
        return self.names_normalised + self.issues_opened + self.issues_resolved


def normalise_names() -> int:
    """Trim, half-width and collapse spaces in names, in one audited UPDATE; pinyin keys follow."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE customers_customer c SET name = n.clean, updated_at = now()
            FROM (SELECT id, regexp_replace(btrim(translate(name, %(full)s, %(half)s)), '\\s+', ' ', 'g') AS clean
                  FROM customers_customer) n
            WHERE c.id = n.id AND c.name <> n.clean AND n.clean <> ''
            RETURNING c.id, c.name
            """,
            {"full": FULL_WIDTH, "half": HALF_WIDTH},
        )
        changed = cursor.fetchall()
        rows = []
        for pk, name in changed:
            pinyin, initials = pii.name_keys(name)
            rows.append(Customer(pk=pk, name_pinyin=pinyin, name_initials=initials))
        Customer.objects.bulk_update(rows, ["name_pinyin", "name_initials"], batch_size=CHUNK)
    return len(changed)


@functools.lru_cache(maxsize=65_536)
def _birth_place_valid(region: str, year: int) -> bool:
    """Whether the region code existed in that year (stdnum's table lookup, ≈ 40 µs: cached per pair)."""
    try:
        ric.get_birth_place(f"{region}{year:04d}01010000")
    except ValidationError:
        return False
    return True


def _birth_date(number: str) -> datetime.date | None:
    # stdnum's get_birth_date first "cleans" the number character by character (≈ 35 µs); a stored
    # number is already compact, so the digits are read directly.
    try:
        return datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def resident_id_valid(number: str) -> bool:
    """`stdnum.cn.ric.is_valid` for a stored (already compact) number, about forty times faster.

    The same checks in the same order: length and digits, check digit, birth date, birth place in
    its year (stdnum's table lookup, cached per region and year). At 1M customers the uncached
    checks were most of the job's time.
    """
    if len(number) != 18 or not number[:-1].isdigit() or number[-1] != ric.calc_check_digit(number):
        return False
    born = _birth_date(number)
    return born is not None and _birth_place_valid(number[:6], born.year)


def _id_findings(cursor) -> int:
    """Resident IDs failing the checksum or disagreeing with birth date / gender, into dq_now (chunked).

    The rule of pii.check_id_consistency: the ID's birth date and gender (17th digit odd for men)
    against the fields, where those are filled.
    """
    checked = 0
    customers = (Customer.objects.filter(merged_into__isnull=True, id_type=Customer.IdType.RESIDENT_ID)
                 .exclude(lifecycle_status=Customer.Lifecycle.CLOSED).exclude(id_number_enc="")
                 .order_by("pk").values_list("id", "id_number_enc", "birth_date", "gender"))
    batch: list[tuple[int, str, str]] = []
    for pk, sealed, birth_date, gender in customers.iterator(chunk_size=CHUNK):
        checked += 1
        number = crypto.decrypt(sealed)
        if not resident_id_valid(number):
            batch.append((pk, Kind.INVALID_ID, "id_number"))
        else:
            if birth_date and birth_date != _birth_date(number):
                batch.append((pk, Kind.ID_MISMATCH, "birth_date"))
            if gender and gender != (Customer.Gender.MALE if int(number[16]) % 2 else Customer.Gender.FEMALE):
                batch.append((pk, Kind.ID_MISMATCH, "gender"))
        if len(batch) >= CHUNK:
            cursor.executemany("INSERT INTO dq_now VALUES (%s, %s, %s)", batch)
            batch = []
    if batch:
        cursor.executemany("INSERT INTO dq_now VALUES (%s, %s, %s)", batch)
    return checked


def cleansing_run(*, as_of: datetime.date | None = None) -> CleansingResult:
    """Normalise names, then bring the open data-quality issues in line with what the data shows today."""
    as_of = as_of or timezone.localdate()
    normalised = normalise_names()
    stale_before = as_of - datetime.timedelta(days=STALE_DAYS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE dq_now (customer_id bigint, kind varchar(16), field varchar(32)) "
                       "ON COMMIT DROP")
        for kind, field, missing in REQUIRED:
            cursor.execute(
                f"INSERT INTO dq_now SELECT c.id, %(kind)s, %(field)s FROM customers_customer c "  # noqa: S608
                f"WHERE {IN_SCOPE} AND c.kind = %(customer_kind)s AND {missing}",
                {"kind": Kind.MISSING, "field": field, "customer_kind": kind})
        cursor.execute(
            f"INSERT INTO dq_now SELECT c.id, %(kind)s, '' FROM customers_customer c "  # noqa: S608
            f"WHERE {IN_SCOPE} AND (c.last_verified_on IS NULL OR c.last_verified_on < %(before)s)",
            {"kind": Kind.STALE, "before": stale_before})
        checked = _id_findings(cursor)
        trigger_off = _bulk_audit(cursor)
        cursor.execute(
            """
            INSERT INTO customers_dataqualityissue (customer_id, kind, field, status, found_on)
            SELECT DISTINCT customer_id, kind, field, %(open)s, %(as_of)s FROM dq_now
            ON CONFLICT (customer_id, kind, field) WHERE status = 'open' DO NOTHING
            """,
            {"open": DataQualityIssue.Status.OPEN, "as_of": as_of})
        opened = cursor.rowcount
        cursor.execute(
            """
            UPDATE customers_dataqualityissue i SET status = %(resolved)s, resolved_on = %(as_of)s
            WHERE i.status = 'open' AND NOT EXISTS (
                SELECT 1 FROM dq_now n WHERE n.customer_id = i.customer_id AND n.kind = i.kind AND n.field = i.field)
            """,
            {"resolved": DataQualityIssue.Status.RESOLVED, "as_of": as_of})
        resolved = cursor.rowcount
        if trigger_off:
            # Committing with it disabled would keep it off for everyone: on again before the commit.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE customers_dataqualityissue ENABLE TRIGGER customers_dataqualityissue_audit")
        # ON COMMIT DROP alone would leave it in a caller's outer transaction (savepoint).
        cursor.execute("DROP TABLE dq_now")
        result = CleansingResult(normalised, checked, opened, resolved)
        if opened or resolved:  # a run that changes no issue leaves no trace (idempotent)
                audit_record(action=AuditEntry.Action.JOB, object_type="customers.dataqualityissue",
                         username="cleansing",
                         detail={"job": "cleansing", "as_of": as_of.isoformat(), "names_normalised": normalised,
                                 "customers_checked": checked, "issues_opened": opened, "issues_resolved": resolved})
    snapshot_take(as_of=as_of)
    return result


def _bulk_audit(cursor) -> bool:
    """Issue rows written by this job get one job-level audit entry, not one per row.

    At 1M customers the row trigger doubled the job's writes (one audit row per finding). The
    transaction-local `crm.audit_bulk` switch makes the trigger skip rows where the trigger honours
    it; otherwise the issue table's trigger is disabled for the two statements that write issues and
    enabled again before the commit (ALTER TABLE is transactional: a failure rolls the switch back too;
    taken last, its lock is held only until the commit). Returns whether the trigger was disabled.
    """
    cursor.execute("SELECT set_config('crm.audit_bulk', 'cleansing', true)")
    cursor.execute("SELECT prosrc LIKE '%%crm.audit_bulk%%' FROM pg_proc WHERE proname = 'crm_audit_row_change'")
    row = cursor.fetchone()
    if not (row and row[0]):
        cursor.execute("ALTER TABLE customers_dataqualityissue DISABLE TRIGGER customers_dataqualityissue_audit")
        return True
    return False


def parse_params(as_of: Any = None) -> datetime.date:
    if as_of in (None, ""):
        return timezone.localdate()
    return as_of if isinstance(as_of, datetime.date) else datetime.date.fromisoformat(str(as_of).strip())


def issue_queue(*, user: Any, kind: str = "") -> Any:
    """Open data-quality issues on the customers `user` sees (an RM: their own), oldest first."""
    from org import scoping

    issues = DataQualityIssue.objects.filter(status=DataQualityIssue.Status.OPEN)
    if kind in Kind.values:
        issues = issues.filter(kind=kind)
    return (scoping.visible(user, issues).select_related("customer", "customer__primary_rm")
            .order_by("found_on", "id"))


def access_issue(user: Any, pk: Any) -> DataQualityIssue:
    """One issue the user may see, or Http404 (the same for missing and invisible)."""
    from org import scoping

    return scoping.access(user, DataQualityIssue.objects.select_related("customer"), pk)


@transaction.atomic
def dataqualityissue_resolve(*, issue: DataQualityIssue, actor: Any, note: str = "") -> DataQualityIssue:
    """Mark an open issue resolved by `actor` (audited); the next run reopens it if the data still shows it."""
    from org.audit import audit_record
    from org.models import AuditEntry

    issue = DataQualityIssue.objects.select_for_update().get(pk=issue.pk)
    if issue.status == DataQualityIssue.Status.OPEN:
        issue.status = DataQualityIssue.Status.RESOLVED
        issue.resolved_on = timezone.localdate()
        issue.resolved_by = actor
        issue.save(update_fields=["status", "resolved_on", "resolved_by"])
        audit_record(action=AuditEntry.Action.UPDATE, actor=actor, obj=issue, fields=["status"],
                     detail={"note": note[:200]} if note else None)
    return issue


# The bank's targets (requirements: completeness at least 98 %, error rate at most 2 %); a deployment
# may set DATA_QUALITY_TARGETS in settings.
DEFAULT_TARGETS = {"completeness": 0.98, "error_rate": 0.02}


@dataclass(frozen=True)
class QualityRow:
    label: str
    customers: int
    completeness: float
    error_rate: float
    stale_share: float
    open_issues: int


def quality_targets() -> dict[str, float]:
    from django.conf import settings

    return {**DEFAULT_TARGETS, **getattr(settings, "DATA_QUALITY_TARGETS", {})}


def quality_metrics(*, user: Any, group_by: str = "branch", as_of: datetime.date | None = None) -> list[QualityRow]:
    """Completeness, error rate, stale share and open issues of the customers `user` sees, per branch or RM.

    Completeness = required fields present ÷ required fields (individuals: ID, phone, birth date,
    gender; corporates: ID, phone). Error rate = customers with an open ID checksum or ID-mismatch
    issue ÷ customers. Stale = not verified in the last 12 months (or never).
    """
    from django.db.models import Count, Exists, OuterRef, Q

    from org import scoping

    as_of = as_of or timezone.localdate()
    individual = Q(kind=Customer.Kind.INDIVIDUAL)
    open_issues = DataQualityIssue.objects.filter(customer=OuterRef("pk"), status=DataQualityIssue.Status.OPEN)
    errors = open_issues.filter(kind__in=[Kind.INVALID_ID, Kind.ID_MISMATCH])
    customers = scoping.visible(user, Customer.objects.filter(merged_into__isnull=True).exclude(
        lifecycle_status=Customer.Lifecycle.CLOSED))
    key = {"branch": "home_branch__name", "rm": "primary_rm__full_name"}[group_by]
    rows = (customers.values(key).annotate(
        total=Count("pk"),
        individuals=Count("pk", filter=individual),
        present=(Count("pk", filter=~Q(id_number_enc="")) + Count("pk", filter=~Q(phone_enc=""))
                 + Count("pk", filter=individual & Q(birth_date__isnull=False))
                 + Count("pk", filter=individual & ~Q(gender=""))),
        with_errors=Count("pk", filter=Q(Exists(errors))),
        stale=Count("pk", filter=Q(last_verified_on__isnull=True)
                    | Q(last_verified_on__lt=as_of - datetime.timedelta(days=STALE_DAYS))),
    ).order_by(key))
    issue_counts = dict(
        scoping.visible(user, DataQualityIssue.objects.filter(status=DataQualityIssue.Status.OPEN))
        .values_list(f"customer__{key}").annotate(n=Count("pk")).values_list(f"customer__{key}", "n"))
    result = []
    for row in rows:
        required = 2 * row["total"] + 2 * row["individuals"]
        result.append(QualityRow(
            label=row[key] or "—", customers=row["total"],
            completeness=row["present"] / required if required else 1.0,
            error_rate=row["with_errors"] / row["total"] if row["total"] else 0.0,
            stale_share=row["stale"] / row["total"] if row["total"] else 0.0,
            open_issues=issue_counts.get(row[key], 0),
        ))
    return result


# --- history: one row of counts per day, branch and RM ---------------------------------------------

SNAPSHOT_SQL = """
WITH today AS (
    SELECT c.home_branch_id AS branch_id, c.primary_rm_id AS rm_id, count(*) AS customers,
           sum(CASE WHEN c.kind = 'individual' THEN 4 ELSE 2 END) AS required_fields,
           sum((c.id_number_enc <> '')::int + (c.phone_enc <> '')::int
               + CASE WHEN c.kind = 'individual' THEN (c.birth_date IS NOT NULL)::int + (c.gender <> '')::int
                      ELSE 0 END) AS present_fields,
           count(*) FILTER (WHERE i.errors) AS with_errors,
           count(*) FILTER (WHERE c.last_verified_on IS NULL OR c.last_verified_on < %(stale_before)s) AS stale,
           COALESCE(sum(i.open), 0) AS open_issues
      FROM customers_customer c
      LEFT JOIN (SELECT customer_id, count(*) AS open, bool_or(kind IN ('invalid_id', 'id_mismatch')) AS errors
                   FROM customers_dataqualityissue WHERE status = 'open' GROUP BY customer_id) i
             ON i.customer_id = c.id
     WHERE c.merged_into_id IS NULL AND c.lifecycle_status <> 'closed'
     GROUP BY c.home_branch_id, c.primary_rm_id
), gone AS (
    DELETE FROM customers_dataqualitysnapshot s
     WHERE s.taken_on = %(day)s
       AND NOT EXISTS (SELECT 1 FROM today t WHERE t.branch_id = s.branch_id AND t.rm_id IS NOT DISTINCT FROM s.rm_id)
)
INSERT INTO customers_dataqualitysnapshot
       (taken_on, branch_id, rm_id, customers, required_fields, present_fields, with_errors, stale, open_issues)
SELECT %(day)s, branch_id, rm_id, customers, required_fields, present_fields, with_errors, stale, open_issues
  FROM today
ON CONFLICT (taken_on, branch_id, rm_id) DO UPDATE
   SET customers = EXCLUDED.customers, required_fields = EXCLUDED.required_fields,
       present_fields = EXCLUDED.present_fields, with_errors = EXCLUDED.with_errors, stale = EXCLUDED.stale,
       open_issues = EXCLUDED.open_issues
 WHERE (customers_dataqualitysnapshot.customers, customers_dataqualitysnapshot.required_fields,
        customers_dataqualitysnapshot.present_fields, customers_dataqualitysnapshot.with_errors,
        customers_dataqualitysnapshot.stale, customers_dataqualitysnapshot.open_issues)
       IS DISTINCT FROM (EXCLUDED.customers, EXCLUDED.required_fields, EXCLUDED.present_fields,
                         EXCLUDED.with_errors, EXCLUDED.stale, EXCLUDED.open_issues)
"""


@transaction.atomic
def snapshot_take(*, as_of: datetime.date | None = None) -> int:
    """The day's data-quality counts per branch and RM for the dashboard's history; a rerun changes only what moved."""
    as_of = as_of or timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute(SNAPSHOT_SQL, {"day": as_of, "stale_before": as_of - datetime.timedelta(days=STALE_DAYS)})
        return cursor.rowcount


@dataclass(frozen=True)
class HistoryPoint:
    taken_on: datetime.date
    label: str
    completeness: float
    error_rate: float
    stale_share: float


def _point(day: datetime.date, label: str, row: dict) -> HistoryPoint:
    customers = row["customers"] or 0
    return HistoryPoint(
        taken_on=day, label=label,
        completeness=row["present"] / row["required"] if row["required"] else 1.0,
        error_rate=row["errors"] / customers if customers else 0.0,
        stale_share=row["stale"] / customers if customers else 0.0,
    )


def quality_history(*, user: Any, group_by: str = "branch", days: int = 90) -> tuple[list[HistoryPoint],
                                                                                    list[HistoryPoint]]:
    """The daily snapshots of what `user` sees: totals per day, and per day and branch (or RM)."""
    from django.db.models import Sum

    from org import scoping

    since = timezone.localdate() - datetime.timedelta(days=days)
    rows = scoping.visible(user, DataQualitySnapshot.objects.filter(taken_on__gte=since))
    sums = {"customers": Sum("customers"), "required": Sum("required_fields"), "present": Sum("present_fields"),
            "errors": Sum("with_errors"), "stale": Sum("stale")}
    totals = [_point(row["taken_on"], "", row)
              for row in rows.values("taken_on").annotate(**sums).order_by("taken_on")]
    key = {"branch": "branch__name", "rm": "rm__full_name"}[group_by]
    groups = [_point(row["taken_on"], row[key] or "—", row)
              for row in rows.values("taken_on", key).annotate(**sums).order_by("taken_on", key)]
    return totals, groups
