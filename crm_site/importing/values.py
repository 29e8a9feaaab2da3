"""Parsers for the values real feeds carry: dates in the common formats, amounts with thousands separators,
yes/no in Chinese or English, choices by code or by label. Each returns the value or raises ValueError
with a message for the operator."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_AMOUNT = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
TRUE = {"1", "true", "yes", "y", "是", "有", "同意", "t"}
FALSE = {"0", "false", "no", "n", "否", "无", "不同意", "f", ""}


def parse_date(value: str) -> dt.date | None:
    """2024-03-05, 2024/3/5, 2024.3.5, 2024年3月5日, 20240305; '' → None."""
    value = value.strip()
    if not value:
        return None
    match = _DATE.match(value) or _COMPACT_DATE.match(value)
    if match is None and len(value) > 10 and value[10] in " T":
        match = _DATE.match(value[:10])  # a datetime cell with a zero time
    if match is None:
        raise ValueError(_("Not a date (write 2024-03-05)."))
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ValueError(_("This date does not exist.")) from None


def parse_datetime(value: str) -> dt.datetime:
    """A date and a time of day in the site's time zone: 2024-03-05 14:30[:00]."""
    value = value.strip().replace("T", " ")
    day, _sep, clock = value.partition(" ")
    date = parse_date(day)
    if date is None:
        raise ValueError(_("This field is required."))
    hour = minute = second = 0
    if clock:
        match = _TIME.match(clock.strip())
        if match is None:
            raise ValueError(_("Not a time (write 2024-03-05 14:30:00)."))
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    try:
        naive = dt.datetime(date.year, date.month, date.day, hour, minute, second)  # noqa: DTZ001
    except ValueError:
        raise ValueError(_("This time does not exist.")) from None
    return timezone.make_aware(naive)


def parse_amount(value: str, *, required: bool = True) -> Decimal | None:
    """1234.5, 1,234.50, ¥1,234.50, 1 234.50 → Decimal with two places."""
    cleaned = value.strip().replace("¥", "").replace("￥", "").replace(" ", "").replace("\u00a0", "")
    if not cleaned:
        if required:
            raise ValueError(_("This field is required."))
        return None
    if not _AMOUNT.match(cleaned):
        raise ValueError(_("Not an amount (write 1234.56 or 1,234.56)."))
    try:
        amount = Decimal(cleaned.replace(",", ""))
    except InvalidOperation:
        raise ValueError(_("Not an amount (write 1234.56 or 1,234.56).")) from None
    if amount.as_tuple().exponent < -2:
        raise ValueError(_("At most two decimal places."))
    if abs(amount) >= Decimal("1e16"):
        raise ValueError(_("This amount is too large."))
    return amount.quantize(Decimal("0.01"))


def parse_bool(value: str) -> bool:
    key = value.strip().lower()
    if key in TRUE:
        return True
    if key in FALSE:
        return False
    raise ValueError(_("Write yes or no (是/否)."))


def choice_map(choices, *extra: tuple[str, str]) -> dict[str, str]:
    """Accepted spellings (code, English label, Chinese label, extras) → code, lower-cased."""
    mapping: dict[str, str] = {}
    for code, label in choices:
        mapping[str(code).lower()] = code
        for language in ("en", "zh-hans"):
            with override(language):
                mapping[str(label).strip().lower()] = code
    for spelling, code in extra:
        mapping[spelling.lower()] = code
    return mapping


def parse_choice(value: str, mapping: dict[str, str], *, required: bool = False) -> str:
    key = value.strip().lower()
    if not key:
        if required:
            raise ValueError(_("This field is required."))
        return ""
    try:
        return mapping[key]
    except KeyError:
        raise ValueError(_("Unknown value; use one of: %(values)s.") % {
            "values": ", ".join(sorted(set(mapping.values())))}) from None
