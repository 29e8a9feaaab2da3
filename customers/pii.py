"""Personal data of customers: validate, normalise, seal, index, mask — and nothing else.

Everything that writes an ID number, phone, e-mail or address goes through `seal_pii()`, so the
sealed value, its blind index and its masked form always agree. Validation messages name the
field and say what is wrong, in the user's language.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc

from crm_site import crypto
from crm_site.masking import mask_middle

from .models import Customer

PII_FIELDS = ("id_number", "phone", "email", "address")
ID = Customer.IdType

_PASSPORT = re.compile(r"^[A-Z0-9]{5,17}$")
_HK_MACAU = re.compile(r"^[HM]\d{8,10}$")
_TAIWAN = re.compile(r"^\d{8}$")


def normalise_id_number(id_type: str, raw: str) -> str:
    """The canonical form of an ID number, or ValidationError({"id_number": why})."""
    value = re.sub(r"[\s-]", "", raw or "").upper()
    if not value:
        return ""
    if not id_type:
        raise ValidationError({"id_type": _("Choose the ID type of this number.")})
    try:
        if id_type == ID.RESIDENT_ID:
            return ric.validate(value)
        if id_type == ID.USCC:
            return uscc.validate(value)
    except stdnum_errors.InvalidChecksum:
        raise ValidationError({"id_number": _("The check digit is wrong: this ID number has a typing error.")}) \
            from None
    except stdnum_errors.InvalidLength:
        raise ValidationError({"id_number": _("The ID number must have %(n)d characters.") % {"n": 18}}) \
            from None
    except stdnum_errors.InvalidComponent:
        raise ValidationError({"id_number": _("The ID number contains an impossible birth date or region.")}) \
            from None
    except stdnum_errors.ValidationError:
        raise ValidationError({"id_number": _("The ID number is not in the right format.")}) from None
    patterns = {ID.PASSPORT: _PASSPORT, ID.HK_MACAU_PERMIT: _HK_MACAU, ID.TAIWAN_PERMIT: _TAIWAN}
    pattern = patterns.get(id_type)
    if pattern is None:
        raise ValidationError({"id_type": _("Unknown ID type.")})
    if not pattern.match(value):
        raise ValidationError({"id_number": _("This is not a valid number for the chosen ID type.")})
    return value


def resident_id_facts(number: str) -> tuple[dt.date, str]:
    """Birth date and gender encoded in a (valid) resident ID: the 17th digit is odd for men."""
    return ric.get_birth_date(number), (Customer.Gender.MALE if int(number[16]) % 2 else Customer.Gender.FEMALE)


def check_id_consistency(*, id_type: str, id_number: str, birth_date: dt.date | None, gender: str) -> dict:
    """Errors where the birth date or gender disagree with the resident ID (empty when they agree)."""
    errors = {}
    if id_type == ID.RESIDENT_ID and id_number:
        born, sex = resident_id_facts(id_number)
        if birth_date and birth_date != born:
            errors["birth_date"] = _("The birth date differs from the one in the ID number (%(date)s).") % {
                "date": born.isoformat()}
        if gender and gender != sex:
            errors["gender"] = _("The gender differs from the one the ID number encodes.")
    return errors


def normalise_phone(raw: str) -> str:
    """E.164 (+8613812345678); numbers without a country code are Chinese."""
    value = (raw or "").strip()
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        raise ValidationError({"phone": _("This is not a phone number.")}) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError({"phone": _("This phone number does not exist (check the digits).")})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    value = (raw or "").strip().lower()
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise ValidationError({"email": _("This is not an e-mail address.")}) from None
    return value


def normalise_address(raw: str) -> str:
    return re.sub(r"\s+", " ", (raw or "").strip())


def mask_id_number(value: str) -> str:
    return mask_middle(value, keep_start=3, keep_end=4) if value else ""


def mask_phone(e164: str) -> str:
    if not e164:
        return ""
    national = e164[3:] if e164.startswith("+86") else e164
    return mask_middle(national, keep_start=3, keep_end=4)


def mask_email(value: str) -> str:
    if not value:
        return ""
    local, _sep, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_address(value: str) -> str:
    return value[:6] + "****" if value else ""


@dataclass(frozen=True)
class Sealed:
    """What is stored for one field: ciphertext, blind index (ID and phone only) and masked form."""

    enc: str
    bidx: str
    masked: str


def seal(field: str, normalised: str) -> Sealed:
    """Seal one already-normalised value (the COPY paths call this per row)."""
    if field == "id_number":
        return Sealed(crypto.encrypt(normalised), crypto.blind_index("id", normalised), mask_id_number(normalised))
    if field == "phone":
        return Sealed(crypto.encrypt(normalised), crypto.blind_index("phone", normalised), mask_phone(normalised))
    if field == "email":
        return Sealed(crypto.encrypt(normalised), "", mask_email(normalised))
    if field == "address":
        return Sealed(crypto.encrypt(normalised), "", mask_address(normalised))
    raise ValueError(field)


def seal_pii(customer: Customer, *, values: dict[str, str]) -> list[str]:
    """Normalise, validate and seal the given plaintext fields onto `customer`; returns changed field names.

    Raises ValidationError naming every field that is wrong at once.
    """
    errors: dict[str, list[str]] = {}
    normalised: dict[str, str] = {}
    normalisers = {
        "id_number": lambda raw: normalise_id_number(customer.id_type, raw),
        "phone": normalise_phone,
        "email": normalise_email,
        "address": normalise_address,
    }
    for field, raw in values.items():
        try:
            normalised[field] = normalisers[field](raw)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(name, []).extend(messages)
    # Birth date and gender must agree with the resident ID, the one typed now or the one on file.
    id_number = normalised["id_number"] if "id_number" in normalised else (
        crypto.decrypt(customer.id_number_enc) if customer.id_number_enc else "")
    if id_number and customer.id_type == ID.RESIDENT_ID:
        for name, message in check_id_consistency(
            id_type=customer.id_type, id_number=id_number, birth_date=customer.birth_date,
            gender=customer.gender,
        ).items():
            errors.setdefault(name, []).append(message)
    if errors:
        raise ValidationError(errors)
    changed = []
    for field, value in normalised.items():
        current = getattr(customer, f"{field}_enc")
        if current and crypto.decrypt(current) == value:
            continue
        sealed = seal(field, value)
        setattr(customer, f"{field}_enc", sealed.enc)
        setattr(customer, f"{field}_masked", sealed.masked)
        if field in ("id_number", "phone"):
            setattr(customer, f"{field}_bidx", sealed.bidx)
        changed.append(field)
    return changed


def unseal(customer: Customer, field: str) -> str:
    """The plaintext of one field. Callers outside customers.services must not use this directly."""
    if field not in PII_FIELDS:
        raise ValueError(field)
    return crypto.decrypt(getattr(customer, f"{field}_enc"))


def search_index(kind: str, raw: str) -> str:
    """The blind index a search box entry would have, or '' if it is not a valid ID / phone."""
    try:
        if kind == "phone":
            return crypto.blind_index("phone", normalise_phone(raw))
        for id_type in (ID.RESIDENT_ID, ID.USCC, ID.PASSPORT, ID.HK_MACAU_PERMIT, ID.TAIWAN_PERMIT):
            try:
                return crypto.blind_index("id", normalise_id_number(id_type, raw))
            except ValidationError:
                continue
    except ValidationError:
        return ""
    return ""


def name_keys(name: str) -> tuple[str, str]:
    """Pinyin without tones and its initials, for search: 张伟 → ("zhangwei", "zw")."""
    syllables = [s for s in lazy_pinyin(name or "", style=Style.NORMAL, errors="ignore") if s.isalpha()]
    return "".join(syllables).lower(), "".join(s[0] for s in syllables).lower()
