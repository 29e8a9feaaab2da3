"""Segments: saved rule sets over customers, evaluated in PostgreSQL.

A segment's rules are a JSON list of `{"field", "op", "value"}`; every rule must hold. `FIELDS`
is the registry of what a rule may test; each entry turns (op, value) into ORM conditions built
from columns and `Exists` subqueries, so a rule set over a million customers is one SQL statement.

Membership is bank-wide: `segment_refresh` evaluates the rules over every customer and stores
who matched. Visibility applies when a person looks: `segment_preview` and the member list count
and show only the customers org.scoping lets that person see.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Left, Length
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm_site.pagination import keyset_page
from org import scoping
from org.models import Branch

from .models import Account, Customer, CustomerTag, Product, Segment, SegmentMember, Tag, Transaction

MAX_RULES = 20
MEMBER_PAGE_SIZE = 25

OPS: dict[str, Any] = {
    "gte": gettext_lazy("at least"),
    "lte": gettext_lazy("at most"),
    "in": gettext_lazy("is one of"),
    "eq": gettext_lazy("is"),
}


class Kind:
    """How a field's value is written and entered."""

    DECIMAL = "decimal"
    INT = "int"
    CHOICE = "choice"
    ORDERED_CHOICE = "ordered_choice"
    BOOL = "bool"


@dataclass(frozen=True)
class Today:
    """The clock a rule set is evaluated against, fixed once per evaluation."""

    date: datetime.date

    def start_of(self, day: datetime.date) -> datetime.datetime:
        """Local midnight of `day`, aware: day-granular windows keep a refresh stable within a day."""
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


@dataclass(frozen=True)
class FieldSpec:
    label: Any
    kind: str
    ops: tuple[str, ...]
    build: Callable[[str, Any, Today], Q]
    # (value, label) pairs; a callable when they come from the database (branches, tags).
    choices: Callable[[], list[tuple[Any, Any]]] | None = None
    # Choices read from the database are checked against it in validate_rules().
    db_choices: bool = False
    value_type: type = str
    minimum: int = 0
    maximum: int | None = None
    help_text: Any = ""
    extra: dict = field(default_factory=dict)


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


RISK_ORDER = [value for value, _label in Customer.RiskTolerance.choices]


def _aum(op: str, value: str, today: Today) -> Q:
    return Q(aum__gte=Decimal(value)) if op == "gte" else Q(aum__lte=Decimal(value))


def _in(column: str) -> Callable[[str, Any, Today], Q]:
    def build(op: str, value: list, today: Today) -> Q:
        return Q(**{f"{column}__in": value})

    return build


def _risk_tolerance(op: str, value: Any, today: Today) -> Q:
    if op == "in":
        return Q(risk_tolerance__in=value)
    position = RISK_ORDER.index(value)
    allowed = RISK_ORDER[: position + 1] if op == "lte" else RISK_ORDER[position:]
    # A customer never assessed (blank) is neither above nor below any level.
    return Q(risk_tolerance__in=allowed)


def _home_branch(op: str, value: list, today: Today) -> Q:
    # A branch's subtree shares its path prefix ("HO/BJ/" covers "HO/BJ/BJ01/"); comparing the
    # prefix in SQL keeps the rule right after a branch moves, without reading paths in Python.
    roots = Branch.objects.filter(code__in=value, path=Left(OuterRef("path"), Length("path")))
    return Q(home_branch__in=Branch.objects.filter(Exists(roots)).values("pk"))


def _risk_expires(op: str, value: int, today: Today) -> Q:
    # Never assessed counts as expired, as Customer.risk_assessment_expired has it.
    return Q(risk_expires_on__lte=today.date + datetime.timedelta(days=value)) | Q(risk_expires_on__isnull=True)


def _age(op: str, value: int, today: Today) -> Q:
    if op == "gte":
        return Q(birth_date__lte=_years_before(today.date, value))
    return Q(birth_date__gt=_years_before(today.date, value + 1))


def _holds_category(op: str, value: list, today: Today) -> Q:
    held = Account.objects.filter(
        customer=OuterRef("pk"), status=Account.Status.ACTIVE, product__category__in=value
    )
    return Q(Exists(held))


def _matures_within(op: str, value: int, today: Today) -> Q:
    maturing = Account.objects.filter(
        customer=OuterRef("pk"), status=Account.Status.ACTIVE,
        matures_on__gte=today.date, matures_on__lte=today.date + datetime.timedelta(days=value),
    )
    return Q(Exists(maturing))


def _no_transaction(op: str, value: int, today: Today) -> Q:
    since = today.start_of(today.date - datetime.timedelta(days=value))
    recent = Transaction.objects.filter(customer=OuterRef("pk"), occurred_at__gte=since)
    return ~Q(Exists(recent))


def _marketing_consent(op: str, value: bool, today: Today) -> Q:
    return Q(marketing_consent=value)


def _tag(op: str, value: list, today: Today) -> Q:
    return Q(Exists(CustomerTag.objects.filter(customer=OuterRef("pk"), tag_id__in=value)))


def _branch_choices() -> list[tuple[Any, Any]]:
    return [(branch.code, str(branch)) for branch in Branch.objects.filter(is_active=True).order_by("path")]


def _tag_choices() -> list[tuple[Any, Any]]:
    return list(Tag.objects.order_by("name").values_list("pk", "name"))


FIELDS: dict[str, FieldSpec] = {
    "aum": FieldSpec(gettext_lazy("Assets under management (¥)"), Kind.DECIMAL, ("gte", "lte"), _aum),
    "tier": FieldSpec(gettext_lazy("Tier"), Kind.CHOICE, ("in",), _in("tier"),
                      choices=lambda: list(Customer.Tier.choices)),
    "risk_tolerance": FieldSpec(gettext_lazy("Risk tolerance"), Kind.ORDERED_CHOICE, ("lte", "gte", "in"),
                                _risk_tolerance, choices=lambda: list(Customer.RiskTolerance.choices)),
    "lifecycle_status": FieldSpec(gettext_lazy("Lifecycle status"), Kind.CHOICE, ("in",), _in("lifecycle_status"),
                                  choices=lambda: list(Customer.Lifecycle.choices)),
    "kind": FieldSpec(gettext_lazy("Customer kind"), Kind.CHOICE, ("in",), _in("kind"),
                      choices=lambda: list(Customer.Kind.choices)),
    "home_branch": FieldSpec(gettext_lazy("Home branch (with the branches under it)"), Kind.CHOICE, ("in",),
                             _home_branch, choices=_branch_choices, db_choices=True),
    "kyc_status": FieldSpec(gettext_lazy("KYC status"), Kind.CHOICE, ("in",), _in("kyc_status"),
                            choices=lambda: list(Customer.KycStatus.choices)),
    "risk_expires_within_days": FieldSpec(
        gettext_lazy("Risk assessment expires within (days)"), Kind.INT, ("lte",), _risk_expires, maximum=3650,
        help_text=gettext_lazy("Already expired and never assessed count too."),
    ),
    "age": FieldSpec(gettext_lazy("Age (years)"), Kind.INT, ("gte", "lte"), _age, maximum=150),
    "holds_product_category": FieldSpec(
        gettext_lazy("Holds an active product of category"), Kind.CHOICE, ("in",), _holds_category,
        choices=lambda: list(Product.Category.choices),
    ),
    "matures_within_days": FieldSpec(gettext_lazy("An active holding matures within (days)"), Kind.INT, ("lte",),
                                     _matures_within, maximum=3650),
    "no_transaction_in_days": FieldSpec(gettext_lazy("No transaction in the last (days)"), Kind.INT, ("gte",),
                                        _no_transaction, minimum=1, maximum=3650),
    "marketing_consent": FieldSpec(gettext_lazy("Marketing consent"), Kind.BOOL, ("eq",), _marketing_consent,
                                   choices=lambda: [(True, gettext_lazy("Yes")), (False, gettext_lazy("No"))]),
    "tag": FieldSpec(gettext_lazy("Has tag"), Kind.CHOICE, ("in",), _tag, choices=_tag_choices, db_choices=True,
                     value_type=int),
}


# ---------------------------------------------------------------------------------------------
# Validation


class _RuleError(Exception):
    pass


def _single_value(spec: FieldSpec, op: str) -> bool:
    """Whether (field, op) takes one value rather than a list."""
    return op != "in"


def _parse_value(spec: FieldSpec, op: str, value: Any) -> Any:
    if value is None or value == "" or value == []:
        raise _RuleError(_("choose at least one value") if op == "in" else _("the value is missing"))
    if spec.kind == Kind.DECIMAL:
        if isinstance(value, bool):
            raise _RuleError(_("the value must be an amount"))
        try:
            amount = Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation:
            raise _RuleError(_("the value must be an amount")) from None
        if not amount.is_finite() or amount < 0:
            raise _RuleError(_("the amount must be zero or more"))
        if amount.as_tuple().exponent < -2:
            raise _RuleError(_("the amount has more than two decimal places"))
        if amount >= Decimal(10) ** 16:
            raise _RuleError(_("the amount is too large"))
        return str(amount)
    if spec.kind == Kind.INT:
        if isinstance(value, bool):
            raise _RuleError(_("the value must be a whole number"))
        try:
            number = int(str(value).strip())
        except ValueError:
            raise _RuleError(_("the value must be a whole number")) from None
        if number < spec.minimum or (spec.maximum is not None and number > spec.maximum):
            raise _RuleError(
                _("the value must be between %(low)s and %(high)s") % {"low": spec.minimum, "high": spec.maximum}
            )
        return number
    if spec.kind == Kind.BOOL:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise _RuleError(_("the value must be yes or no"))
    # Choices: one value for ordered comparisons, a non-empty list for "in".
    if _single_value(spec, op):
        if isinstance(value, list):
            if len(value) != 1:
                raise _RuleError(_("the value must be a single choice"))
            value = value[0]
        values = [value]
    else:
        values = value if isinstance(value, list) else [value]
        if not values or any(item in (None, "") for item in values):
            raise _RuleError(_("choose at least one value"))
    if spec.db_choices:
        # Existence is checked against the database by validate_rules().
        try:
            values = [spec.value_type(item) for item in values]
        except (TypeError, ValueError):
            raise _RuleError(_("“%(value)s” is not a choice of this field") % {"value": values[0]}) from None
    else:
        allowed = {str(choice) for choice, _label in spec.choices()}
        unknown = [str(item) for item in values if str(item) not in allowed]
        if unknown:
            raise _RuleError(_("“%(value)s” is not a choice of this field") % {"value": unknown[0]})
        values = [str(item) for item in values]
    deduplicated = list(dict.fromkeys(values))
    return deduplicated[0] if _single_value(spec, op) else deduplicated


def _parse(rules: Any) -> tuple[list[dict], list[str]]:
    """Normalised rules and the messages of the rules that are wrong, each naming its number."""
    if not isinstance(rules, list):
        return [], [_("Rules must be a list.")]
    if not rules:
        return [], [_("A segment needs at least one rule.")]
    if len(rules) > MAX_RULES:
        return [], [_("A segment may have at most %(count)d rules.") % {"count": MAX_RULES}]
    parsed: list[dict] = []
    errors: list[str] = []
    for number, rule in enumerate(rules, start=1):
        try:
            parsed.append(_parse_rule(rule))
        except _RuleError as exc:
            errors.append(_("Rule %(number)d: %(problem)s.") % {"number": number, "problem": exc})
    return parsed, errors


def _parse_rule(rule: Any) -> dict:
    if not isinstance(rule, dict) or not {"field", "op", "value"} <= set(rule):
        raise _RuleError(_("a rule needs a field, an operator and a value"))
    spec = FIELDS.get(rule["field"]) if isinstance(rule["field"], str) else None
    if spec is None:
        raise _RuleError(_("“%(field)s” is not a field segments can use") % {"field": rule["field"]})
    op = rule["op"]
    if op not in spec.ops:
        raise _RuleError(
            _("“%(field)s” cannot use the operator “%(op)s”; use %(allowed)s")
            % {"field": spec.label, "op": OPS.get(op, op) if isinstance(op, str) else op,
               "allowed": ", ".join(f"“{OPS[allowed]}”" for allowed in spec.ops)}
        )
    return {"field": rule["field"], "op": op, "value": _parse_value(spec, op, rule["value"])}


def validate_rules(rules: Any) -> list[dict]:
    """The rules normalised (amounts as text, numbers as int, lists deduplicated), or ValidationError."""
    parsed, errors = _parse(rules)
    if not errors:
        errors = _missing_references(parsed)
    if errors:
        raise ValidationError(errors)
    return parsed


def _missing_references(parsed: list[dict]) -> list[str]:
    """Branch codes and tags that rules name but the database does not hold."""
    wanted_branches = {code for rule in parsed if rule["field"] == "home_branch" for code in rule["value"]}
    wanted_tags = {pk for rule in parsed if rule["field"] == "tag" for pk in rule["value"]}
    known_branches = set(Branch.objects.filter(code__in=wanted_branches).values_list("code", flat=True)) \
        if wanted_branches else set()
    known_tags = set(Tag.objects.filter(pk__in=wanted_tags).values_list("pk", flat=True)) if wanted_tags else set()
    errors = []
    for number, rule in enumerate(parsed, start=1):
        if rule["field"] == "home_branch":
            missing = [code for code in rule["value"] if code not in known_branches]
            if missing:
                errors.append(_("Rule %(number)d: there is no branch with code “%(code)s”.")
                              % {"number": number, "code": missing[0]})
        elif rule["field"] == "tag":
            missing = [pk for pk in rule["value"] if pk not in known_tags]
            if missing:
                errors.append(_("Rule %(number)d: there is no tag number %(tag)s.")
                              % {"number": number, "tag": missing[0]})
    return errors


# ---------------------------------------------------------------------------------------------
# Evaluation


def rules_to_q(rules: Any, *, today: datetime.date | None = None) -> Q:
    """The ORM condition on Customer that every rule holds (ValidationError for malformed rules).

    Branches or tags deleted since the rules were saved simply match no one.
    """
    parsed, errors = _parse(rules)
    if errors:
        raise ValidationError(errors)
    clock = Today(today or timezone.localdate())
    condition = Q()
    for rule in parsed:
        condition &= FIELDS[rule["field"]].build(rule["op"], rule["value"], clock)
    return condition


def matching_customers(rules: Any, *, today: datetime.date | None = None) -> QuerySet[Customer]:
    """Every customer the rules match, bank-wide. Duplicates merged into another customer never match."""
    return Customer.objects.filter(merged_into__isnull=True).filter(rules_to_q(rules, today=today)).order_by()


def segment_preview(*, user: Any, rules: Any) -> int:
    """How many customers the user may see match the rules (ValidationError for bad rules)."""
    return scoping.visible(user, matching_customers(validate_rules(rules))).count()


# Schema-qualified so no DROP can ever reach a permanent table of the same name.
MATCH_TABLE = "pg_temp.crm_segment_match"


@transaction.atomic
def segment_refresh(*, segment: Segment) -> tuple[int, int]:
    """Store who matches the segment now, and keep its dynamic tag on exactly them: (added, removed)."""
    # One refresh of a segment at a time: a second one waits, then finds nothing to change.
    locked = Segment.objects.select_for_update().get(pk=segment.pk)
    matching_sql, params = matching_customers(locked.rules).values("pk").query.sql_with_params()
    now = timezone.now()
    # Only table names (model meta, constants) and Django-compiled SQL are formatted into the
    # statements below; every value travels as a parameter.
    member_table = SegmentMember._meta.db_table
    with connection.cursor() as cursor:
        # The match is computed once into a temporary table so the insert, the delete and the tag
        # sync all see the same set, even though each statement takes its own snapshot.
        cursor.execute(f"DROP TABLE IF EXISTS {MATCH_TABLE}")
        cursor.execute(f"CREATE TABLE {MATCH_TABLE} (customer_id bigint PRIMARY KEY) ON COMMIT DROP")
        cursor.execute(f"INSERT INTO {MATCH_TABLE} (customer_id) {matching_sql}", params)
        member_count = cursor.rowcount
        cursor.execute(f"ANALYZE {MATCH_TABLE}")
        cursor.execute(
            f"INSERT INTO {member_table} (segment_id, customer_id, since) "  # noqa: S608
            f"SELECT %s, customer_id, %s FROM {MATCH_TABLE} "
            f"ON CONFLICT (segment_id, customer_id) DO NOTHING",
            [locked.pk, now],
        )
        added = cursor.rowcount
        cursor.execute(
            f"DELETE FROM {member_table} AS member WHERE member.segment_id = %s "  # noqa: S608
            f"AND NOT EXISTS (SELECT 1 FROM {MATCH_TABLE} AS m WHERE m.customer_id = member.customer_id)",
            [locked.pk],
        )
        removed = cursor.rowcount
        tag = Tag.objects.filter(segment=locked).first()
        if tag is not None:
            _sync_tag(cursor, tag=tag, now=now)
        cursor.execute(f"DROP TABLE {MATCH_TABLE}")
    Segment.objects.filter(pk=locked.pk).update(refreshed_at=now, member_count=member_count)
    segment.refreshed_at, segment.member_count = now, member_count
    return added, removed


def _sync_tag(cursor: Any, *, tag: Tag, now: datetime.datetime) -> None:
    """Make the dynamic tag's rows equal the match: insert the missing, delete the extra."""
    tag_table = CustomerTag._meta.db_table
    cursor.execute(
        f"INSERT INTO {tag_table} (customer_id, tag_id, added_at, added_by_id) "  # noqa: S608
        f"SELECT customer_id, %s, %s, NULL FROM {MATCH_TABLE} "
        f"ON CONFLICT (customer_id, tag_id) DO NOTHING",
        [tag.pk, now],
    )
    cursor.execute(
        f"DELETE FROM {tag_table} AS ct WHERE ct.tag_id = %s "  # noqa: S608
        f"AND NOT EXISTS (SELECT 1 FROM {MATCH_TABLE} AS m WHERE m.customer_id = ct.customer_id)",
        [tag.pk],
    )


# ---------------------------------------------------------------------------------------------
# Writes and reads for the pages


@transaction.atomic
def segment_save(*, segment: Segment | None, name: str, description: str, rules: Any, actor: Any) -> Segment:
    """Create or change a segment with validated rules (the row trigger audits the change)."""
    normalised = validate_rules(rules)
    if segment is None:
        segment = Segment(owner=actor)
    segment.name, segment.description, segment.rules = name, description, normalised
    segment.full_clean()
    segment.save()
    return segment


def segment_members(
    *, user: Any, segment: Segment, cursor: str | None = None
) -> tuple[list[Customer], str | None]:
    """One page of the segment's members that the user may see, by customer number."""
    members = Customer.objects.filter(
        Exists(SegmentMember.objects.filter(segment=segment, customer=OuterRef("pk")))
    ).select_related("home_branch")
    return keyset_page(scoping.visible(user, members), fields=("customer_no", "id"), cursor=cursor,
                       size=MEMBER_PAGE_SIZE)


def rule_text(rule: dict) -> str:
    """A rule as a person reads it: “Tier is one of Wealth, Private banking”."""
    spec = FIELDS.get(rule.get("field"))
    if spec is None:
        return str(rule)
    value = rule.get("value")
    if spec.choices is not None:
        labels = {str(choice): str(label) for choice, label in spec.choices()}
        values = value if isinstance(value, list) else [value]
        shown = ", ".join(labels.get(str(item), str(item)) for item in values)
    elif spec.kind == Kind.DECIMAL:
        try:
            shown = f"{Decimal(str(value)):,}"
        except InvalidOperation:
            shown = str(value)
    else:
        shown = str(value)
    return f"{spec.label} {OPS.get(rule.get('op'), rule.get('op'))} {shown}"


def rules_text(rules: Iterable[dict]) -> list[str]:
    return [rule_text(rule) for rule in rules] if isinstance(rules, list) else []
