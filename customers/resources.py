"""django-import-export resources for customers, accounts/holdings and transactions.

Each is a `ModelResource` (Django admin's import/export buttons use it) and a `FastImport` (the bulk
pipeline of crm_site/importing uses it): natural key, Chinese and English column names, per-row
validation through customers/pii.py, and the table columns the set-based commit writes. Personal data
is sealed exactly as customers/services.py does: ciphertext, blind index (ID, phone) and masked form.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import re
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import fields, resources, widgets
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

from crm_site import crypto
from crm_site.importing import FastImport, ImportColumn, RowError, register
from crm_site.importing.spec import ImportContext
from crm_site.importing.values import (
    choice_map,
    parse_amount,
    parse_bool,
    parse_choice,
    parse_date,
    parse_datetime,
)
from org.models import Branch, User

from . import pii
from .demo import SURNAMES, _person_keys
from .models import Account, Customer, Product, Transaction

C = Customer
_MOBILE = re.compile(r"^(?:\+?86)?(1\d{10})$")
_HAN_NAME = re.compile("[\u4e00-\u9fff]{2,4}")
COMPOUND_SURNAMES = {surname for surname, _weight in SURNAMES if len(surname) == 2}


@functools.lru_cache(maxsize=1 << 18)
def _name_keys(name: str) -> tuple[str, str]:
    # pypinyin costs ≈ 40 µs a name; names repeat a lot in a bank's book.
    return pii.name_keys(name)


@functools.lru_cache(maxsize=1 << 18)
def person_name_keys(name: str) -> tuple[str, str]:
    """pii.name_keys(name) from cached halves (customers.demo's surname/given split); whole names cached too
    (a bank's book repeats names: one dict lookup instead of the split and two cached halves)."""
    if _HAN_NAME.fullmatch(name):
        split = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
        return _person_keys(name[:split], name[split:])
    return _name_keys(name)


@functools.lru_cache(maxsize=1 << 16)
def _mobile_range_valid(prefix: str) -> bool:
    try:
        pii.normalise_phone(prefix + "0" * (11 - len(prefix)))
    except ValidationError:
        return False
    return True


def fast_phone(raw: str) -> str:
    """pii.normalise_phone, with 11-digit Chinese mobiles checked once per 5-digit range: libphonenumber's
    CN mobile pattern looks at no more than the first five digits, and a call costs ≈ 30 µs."""
    value = raw.strip().replace(" ", "").replace("-", "")
    match = _MOBILE.match(value)
    if match and _mobile_range_valid(match[1][:5]):
        return "+86" + match[1]
    return pii.normalise_phone(raw)


# Plain addresses (dot-atom local part, LDH labels, letter TLD) that Django's EmailValidator accepts;
# anything else goes through pii.normalise_email (≈ 3.5 µs: the validator's lazy regexes) for its verdict.
_PLAIN_EMAIL = re.compile(r"[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def fast_email(raw: str) -> str:
    value = (raw or "").strip().lower()
    if not value or (len(value) <= 254 and _PLAIN_EMAIL.fullmatch(value)):
        return value
    return pii.normalise_email(raw)


_ID_SEPARATORS = re.compile(r"[\s-]")
_SPACES = re.compile(r"\s+")


@functools.lru_cache(maxsize=1 << 16)
def _region_valid(region: str, year: int) -> bool:
    try:
        ric.get_birth_place(f"{region}{year:04d}0101000")
    except stdnum_errors.ValidationError:
        return False
    return True


def fast_resident_id(raw: str) -> tuple[str, dt.date | None]:
    """pii.normalise_id_number for a resident ID, with python-stdnum's region lookup cached per region and
    year (≈ 150 µs a call uncached); any number the fast checks do not pass goes through pii for its message."""
    value = _ID_SEPARATORS.sub("", raw or "").upper()
    if len(value) == 18 and value[:17].isdigit():
        check = (1 - 2 * int(value[:17], 13)) % 11
        if value[17] == ("X" if check == 10 else str(check)):
            try:
                born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
            except ValueError:
                born = None
            if born is not None and _region_valid(value[:6], born.year):
                return value, born
    return pii.normalise_id_number(C.IdType.RESIDENT_ID, raw), None


def _scope_problem(ctx: ImportContext, path: str) -> bool:
    """True when a branch path lies outside the importer's reach."""
    reach = ctx.reach
    if reach is None or reach.everything:
        return False
    return reach.branch is None or not path.startswith(reach.branch.path)


def _branches() -> dict[str, tuple[int, str, str]]:
    return {code.lower(): (pk, path, code) for pk, path, code in Branch.objects.values_list("pk", "path", "code")}


def _staff() -> dict[str, tuple[int, str]]:
    """RM codes (employee number or user name) → (user id, branch path) of active staff."""
    found: dict[str, tuple[int, str]] = {}
    for pk, username, employee_no, path in User.objects.filter(is_active=True).values_list(
            "pk", "username", "employee_no", "branch__path"):
        found[username.lower()] = (pk, path or "")
        if employee_no:
            found[employee_no.lower()] = (pk, path or "")
    return found


# ------------------------------------------------------------------------------------------------
# Customers.

CUSTOMER_STAGE = (
    "customer_no", "kind", "name", "name_pinyin", "name_initials", "gender", "birth_date", "id_type",
    "id_number_enc", "id_number_bidx", "id_number_masked", "phone_enc", "phone_bidx", "phone_masked",
    "email_enc", "email_masked", "address_enc", "address_masked", "occupation", "employer", "income_band",
    "source_channel", "home_branch_id", "primary_rm_id", "lifecycle_status", "risk_tolerance", "risk_assessed_on",
    "risk_expires_on", "investment_preference", "kyc_status", "kyc_review_on", "marketing_consent",
    "do_not_contact", "aum", "tier", "last_verified_on", "closed_reason", "created_at", "updated_at",
)
# Logical field → the table columns an update of it writes.
CUSTOMER_WRITES = {
    "name": ("name", "name_pinyin", "name_initials"),
    "id_number": ("id_number_enc", "id_number_bidx", "id_number_masked"),
    "phone": ("phone_enc", "phone_bidx", "phone_masked"),
    "email": ("email_enc", "email_masked"),
    "address": ("address_enc", "address_masked"),
    "branch": ("home_branch_id",),
    "rm": ("primary_rm_id",),
}
CUSTOMER_CHOICES = {
    "kind": choice_map(C.Kind.choices, ("个人", C.Kind.INDIVIDUAL), ("对公", C.Kind.CORPORATE),
                       ("企业", C.Kind.CORPORATE)),
    "gender": choice_map(C.Gender.choices, ("男", "M"), ("女", "F"), ("male", "M"), ("female", "F")),
    "id_type": choice_map(C.IdType.choices, ("身份证", C.IdType.RESIDENT_ID), ("居民身份证", C.IdType.RESIDENT_ID),
                          ("护照", C.IdType.PASSPORT), ("港澳居民来往内地通行证", C.IdType.HK_MACAU_PERMIT),
                          ("台湾居民来往大陆通行证", C.IdType.TAIWAN_PERMIT),
                          ("统一社会信用代码", C.IdType.USCC)),
    "income_band": choice_map(C.IncomeBand.choices),
    "source_channel": choice_map(C.SourceChannel.choices),
    "lifecycle_status": choice_map(C.Lifecycle.choices, ("正常", C.Lifecycle.ACTIVE), ("潜在", C.Lifecycle.PROSPECT),
                                   ("休眠", C.Lifecycle.DORMANT)),
    "risk_tolerance": choice_map(C.RiskTolerance.choices),
    "kyc_status": choice_map(C.KycStatus.choices),
}
# What pii.seal does per field, bound for the bulk path (the test pins that both agree).
BLIND_KINDS = {"id_number": "id", "phone": "phone"}
MASKS = {"id_number": pii.mask_id_number, "phone": pii.mask_phone, "email": pii.mask_email,
         "address": pii.mask_address}
EMPTY = ("", "", "")  # pii.Sealed("", "", "") as a row of the staging table
CHOICE_FIELDS = tuple(name for name in CUSTOMER_CHOICES if name not in ("kind", "gender", "id_type"))
BOOL_FIELDS = ("marketing_consent", "do_not_contact")
DATE_FIELDS = ("risk_assessed_on", "risk_expires_on", "kyc_review_on", "last_verified_on")
TEXT_FIELDS = {"occupation": 100, "employer": 200}
PREFERENCE = {"C1": C.InvestmentPreference.PRESERVATION, "C2": C.InvestmentPreference.INCOME,
              "C3": C.InvestmentPreference.BALANCED}
_mask_id, _mask_phone, _mask_email, _mask_address = (pii.mask_id_number, pii.mask_phone, pii.mask_email,
                                                     pii.mask_address)


def bulk_opener():
    """crypto.decrypt with the AEAD objects of the key ring bound once (an update compares e-mails and
    addresses with the values on file); any value these do not open goes through crypto.decrypt for its error."""
    aeads = {kid: (AESGCM(key), kid.encode()) for kid, key in crypto.key_ring()}
    b64decode, nonce_bytes = base64.b64decode, crypto.NONCE_BYTES

    def open_(token: str) -> str:
        if not token:
            return ""
        kid, _sep, body = token.partition(":")
        try:
            aead, associated = aeads[kid]
            raw = b64decode(body)
            return aead.decrypt(raw[:nonce_bytes], raw[nonce_bytes:], associated).decode()
        except Exception:  # noqa: BLE001 - crypto.decrypt raises the error that names the problem
            return crypto.decrypt(token)

    return open_


def _opened(ctx: ImportContext, current: dict[str, Any], field: str) -> str:
    """The plaintext of a sealed value on file, opened once per row."""
    key = f"_{field}_plain"
    if key not in current:
        current[key] = ctx.lookups["open"](current[f"{field}_enc"])
    return current[key]


def _blind_of(ctx: ImportContext, values: dict[str, Any], field: str) -> str:
    """The blind index of a row's ID or phone, computed once per value."""
    value = values[field]
    memo = ctx.lookups["blind"]
    found = memo.get((field, value))
    if found is None:
        if len(memo) > 4096:
            memo.clear()
        found = memo[(field, value)] = ctx.lookups["sealer"][1](BLIND_KINDS[field], value)
    return found


class CustomerFastImport(FastImport):
    import_kind = "customers"
    import_label = gettext_lazy("Customers")
    natural_key = "customer_no"
    target_table = "customers_customer"
    stage_columns = CUSTOMER_STAGE
    import_columns = (
        ImportColumn("customer_no", ("客户号", "客户编号", "customer number", "customer no"), required=True),
        ImportColumn("name", ("客户名称", "姓名", "名称", "name"), required_to_create=True),
        ImportColumn("kind", ("客户类型", "类型", "kind", "customer type")),
        ImportColumn("id_type", ("证件类型", "ID type")),
        ImportColumn("id_number", ("证件号码", "身份证号", "证件号", "ID number"), pii=True),
        ImportColumn("phone", ("手机号", "手机号码", "联系电话", "电话", "mobile", "phone"), pii=True),
        ImportColumn("email", ("电子邮箱", "邮箱", "email", "e-mail"), pii=True),
        ImportColumn("address", ("地址", "联系地址", "住址", "address"), pii=True),
        ImportColumn("gender", ("性别", "gender")),
        ImportColumn("birth_date", ("出生日期", "生日", "birth date", "date of birth")),
        ImportColumn("occupation", ("职业", "occupation")),
        ImportColumn("employer", ("工作单位", "行业", "employer", "industry")),
        ImportColumn("income_band", ("收入水平", "年收入", "income band")),
        ImportColumn("source_channel", ("来源渠道", "获客渠道", "source channel")),
        ImportColumn("branch", ("所属网点", "网点代码", "机构号", "网点", "branch", "branch code", "home branch"),
                     required_to_create=True),
        ImportColumn("rm", ("客户经理", "客户经理工号", "客户经理代码", "RM", "RM code", "relationship manager")),
        ImportColumn("lifecycle_status", ("客户状态", "状态", "lifecycle status", "status")),
        ImportColumn("risk_tolerance", ("风险承受能力", "风险等级", "risk tolerance")),
        ImportColumn("risk_assessed_on", ("风险评估日期", "risk assessed on")),
        ImportColumn("risk_expires_on", ("风险评估到期日", "risk expires on")),
        ImportColumn("kyc_status", ("KYC状态", "尽调状态", "KYC status")),
        ImportColumn("kyc_review_on", ("KYC复核日期", "KYC review on")),
        ImportColumn("marketing_consent", ("营销同意", "同意营销", "marketing consent")),
        ImportColumn("do_not_contact", ("拒绝营销", "勿扰", "do not contact")),
        ImportColumn("last_verified_on", ("最近核实日期", "last verified on")),
    )

    def prepare(self, ctx: ImportContext) -> None:
        ctx.lookups["branches"] = _branches()
        ctx.lookups["staff"] = _staff()
        ctx.lookups["now"] = timezone.now()
        ctx.lookups["sealer"] = crypto.bulk_sealer()
        ctx.lookups["open"] = bulk_opener()
        ctx.lookups["blind"] = {}
        ctx.lookups["fieldset"] = frozenset(ctx.fields)

    def clean_row(self, ctx: ImportContext, raw: dict[str, str]) -> dict[str, Any]:
        problems: list[tuple[str, str, str]] = []
        v: dict[str, Any] = {}
        text = self.text
        v["customer_no"] = text(raw, "customer_no", problems, max_length=32, required=True)
        fields_ = ctx.lookups.get("fieldset") or frozenset(ctx.fields)
        if "name" in fields_:
            v["name"] = text(raw, "name", problems, max_length=200, required=True)
        for name, spelling in (("kind", C.Kind.INDIVIDUAL), ("gender", ""), ("id_type", "")):
            if name in fields_:
                try:
                    v[name] = parse_choice(raw[name], CUSTOMER_CHOICES[name]) or spelling
                except ValueError as exc:
                    problems.append((name, raw[name], str(exc)))
        for name in CHOICE_FIELDS:
            if name in fields_:
                try:
                    v[name] = parse_choice(raw[name], CUSTOMER_CHOICES[name])
                except ValueError as exc:
                    problems.append((name, raw[name], str(exc)))
        for name in ("birth_date", *DATE_FIELDS):
            if name in fields_:
                try:
                    v[name] = parse_date(raw[name])
                except ValueError as exc:
                    problems.append((name, raw[name], str(exc)))
        for name in BOOL_FIELDS:
            if name in fields_:
                try:
                    v[name] = parse_bool(raw[name])
                except ValueError as exc:
                    problems.append((name, raw[name], str(exc)))
        for name, length in TEXT_FIELDS.items():
            if name in fields_:
                v[name] = text(raw, name, problems, max_length=length)
        if "id_number" in fields_:
            value = raw["id_number"].strip()
            id_type = v.get("id_type") or ""
            if value and not id_type:
                id_type = C.IdType.USCC if v.get("kind") == C.Kind.CORPORATE else C.IdType.RESIDENT_ID
                v["id_type"] = id_type
            try:
                if id_type == C.IdType.RESIDENT_ID:
                    v["id_number"], born = fast_resident_id(value)
                else:
                    v["id_number"], born = pii.normalise_id_number(id_type, value), None
            except ValidationError as exc:
                for messages in exc.message_dict.values():
                    problems.extend(("id_number", value, message) for message in messages)
            else:
                if v["id_number"] and id_type == C.IdType.RESIDENT_ID:
                    born = born or pii.resident_id_facts(v["id_number"])[0]
                    sex = C.Gender.MALE if int(v["id_number"][16]) % 2 else C.Gender.FEMALE
                    if v.get("birth_date") and v["birth_date"] != born:
                        problems.append(("birth_date", raw.get("birth_date", ""), _(
                            "The birth date differs from the one in the ID number (%(date)s).") % {
                            "date": born.isoformat()}))
                    if v.get("gender") and v["gender"] != sex:
                        problems.append(("gender", raw.get("gender", ""),
                                         _("The gender differs from the one the ID number encodes.")))
                    v.setdefault("birth_date", born)
                    v["birth_date"] = v["birth_date"] or born
                    v["gender"] = v.get("gender") or sex
        if "phone" in fields_:
            try:
                v["phone"] = fast_phone(raw["phone"])
            except ValidationError as exc:
                problems.extend(("phone", raw["phone"], m) for ms in exc.message_dict.values() for m in ms)
        if "email" in fields_:
            try:
                v["email"] = fast_email(raw["email"])
            except ValidationError as exc:
                problems.extend(("email", raw["email"], m) for ms in exc.message_dict.values() for m in ms)
        if "address" in fields_:
            # pii.normalise_address with its pattern compiled once.
            v["address"] = _SPACES.sub(" ", text(raw, "address", problems, max_length=500))
        if "branch" in fields_:
            code = raw["branch"].strip()
            branch = ctx.lookups["branches"].get(code.lower())
            if not code:
                problems.append(("branch", code, _("This field is required.")))
            elif branch is None:
                problems.append(("branch", code, _("Unknown branch code “%(code)s”.") % {"code": code}))
            elif _scope_problem(ctx, branch[1]):
                problems.append(("branch", code, _("Branch “%(code)s” is outside the branches you serve.")
                                 % {"code": code}))
            else:
                v["home_branch_id"] = branch[0]
                v["_branch_path"] = branch[1]
        if "rm" in fields_:
            code = raw["rm"].strip()
            v["primary_rm_id"] = None
            if code:
                staff = ctx.lookups["staff"].get(code.lower())
                if staff is None:
                    problems.append(("rm", code, _("Unknown relationship manager “%(code)s” (employee number "
                                                   "or user name of an active member of staff).") % {"code": code}))
                elif _scope_problem(ctx, staff[1]):
                    problems.append(("rm", code, _("Relationship manager “%(code)s” works outside the branches "
                                                   "you serve.") % {"code": code}))
                else:
                    v["primary_rm_id"] = staff[0]
        if problems:
            raise RowError(problems)
        return v

    def existing(self, ctx: ImportContext, cursor, keys: list[Any]) -> dict[Any, dict[str, Any]]:
        columns = ["c.id", "c.customer_no", "c.lifecycle_status", "b.path AS _branch_path",
                   *(f"c.{column}" for column in self.update_columns(ctx) if column != "updated_at")]
        cursor.execute(f"SELECT {', '.join(dict.fromkeys(columns))} FROM customers_customer AS c "  # noqa: S608
                       "JOIN org_branch AS b ON b.id = c.home_branch_id WHERE c.customer_no = ANY(%s)", [keys])
        names = [column.name for column in cursor.description]
        return {row[1]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}

    def check_existing(self, ctx: ImportContext, values: dict[str, Any], current: dict[str, Any]) -> None:
        if _scope_problem(ctx, current["_branch_path"]):
            raise RowError([("customer_no", values["customer_no"],
                             _("This customer belongs to a branch outside the ones you serve."))])
        if current["lifecycle_status"] == C.Lifecycle.CLOSED:
            raise RowError([("customer_no", values["customer_no"], _("A closed customer cannot be changed."))])

    def _plain_fields(self, ctx: ImportContext) -> list[str]:
        return [name for name in ctx.fields if name not in CUSTOMER_WRITES and name != "customer_no"]

    def update_columns(self, ctx: ImportContext) -> list[str]:
        columns: list[str] = []
        for name in ctx.fields:
            if name == "customer_no":
                continue
            columns.extend(CUSTOMER_WRITES.get(name, (name,)))
        if "id_number" in ctx.fields and "id_type" not in columns:
            columns.append("id_type")
        return [*dict.fromkeys(columns), "updated_at"]

    def differs(self, ctx: ImportContext, values: dict[str, Any], current: dict[str, Any]) -> bool:
        for name in ctx.fields:
            if name in ("customer_no",):
                continue
            if name in BLIND_KINDS:
                if _blind_of(ctx, values, name) != current[f"{name}_bidx"]:
                    return True
            elif name in ("email", "address"):
                if _opened(ctx, current, name) != values[name]:
                    return True
            elif name == "branch":
                if values["home_branch_id"] != current["home_branch_id"]:
                    return True
            elif name == "rm":
                if values["primary_rm_id"] != current["primary_rm_id"]:
                    return True
            elif values.get(name) != current.get(name):
                return True
        return False

    def _sealed(self, ctx: ImportContext, field: str, value: str, current: dict | None) -> tuple[str, str, str]:
        """pii.seal as (enc, bidx, masked) with the keys bound once per job; a value equal to the one on file
        keeps its ciphertext. The blind index or opened value differs() computed for the row is reused."""
        encrypt, index = ctx.lookups["sealer"]
        if current is not None and current.get(f"{field}_enc"):
            # ID and phone compare by blind index (an HMAC), the others by opening the value on file.
            same = (_blind_of(ctx, {field: value}, field) == current[f"{field}_bidx"] if field in BLIND_KINDS
                    else _opened(ctx, current, field) == value)
            if same:
                return (current[f"{field}_enc"], current.get(f"{field}_bidx", ""), current.get(f"{field}_masked", ""))
        if not value:
            return EMPTY
        return (encrypt(value), _blind_of(ctx, {field: value}, field) if field in BLIND_KINDS else "",
                MASKS[field](value))

    def stage_row(self, ctx: ImportContext, values: dict[str, Any], current: dict[str, Any] | None) -> tuple:
        lookups = ctx.lookups
        now = lookups["now"]
        v = values.get
        name = v("name", "")
        pinyin, initials = person_name_keys(name) if name else ("", "")
        if current is None:
            # A new row (the bulk of a large file): seal each value straight away, nothing to compare.
            seal, index = lookups["sealer"]
            number, phone, email, address = v("id_number", ""), v("phone", ""), v("email", ""), v("address", "")
            id_row = (seal(number), index("id", number), _mask_id(number)) if number else EMPTY
            phone_row = (seal(phone), index("phone", phone), _mask_phone(phone)) if phone else EMPTY
            email_row = (seal(email), "", _mask_email(email)) if email else EMPTY
            address_row = (seal(address), "", _mask_address(address)) if address else EMPTY
        else:
            id_row = self._sealed(ctx, "id_number", v("id_number", ""), current)
            phone_row = self._sealed(ctx, "phone", v("phone", ""), current)
            email_row = self._sealed(ctx, "email", v("email", ""), current)
            address_row = self._sealed(ctx, "address", v("address", ""), current)
        risk = v("risk_tolerance", "")
        return (
            values["customer_no"], v("kind") or C.Kind.INDIVIDUAL, name, pinyin, initials, v("gender") or "",
            v("birth_date"), v("id_type") or "", id_row[0], id_row[1], id_row[2], phone_row[0], phone_row[1],
            phone_row[2], email_row[0], email_row[2], address_row[0], address_row[2],
            v("occupation", ""), v("employer", ""), v("income_band", ""), v("source_channel", ""),
            v("home_branch_id"), v("primary_rm_id"), v("lifecycle_status") or C.Lifecycle.ACTIVE, risk,
            v("risk_assessed_on"), v("risk_expires_on"),
            PREFERENCE.get(risk, C.InvestmentPreference.GROWTH if risk else ""), v("kyc_status") or C.KycStatus.PENDING,
            v("kyc_review_on"), bool(v("marketing_consent", False)), bool(v("do_not_contact", False)), 0,
            C.Tier.MASS, v("last_verified_on"), "", now, now,
        )


# ------------------------------------------------------------------------------------------------
# Accounts and holdings.

ACCOUNT_STAGE = ("customer_id", "product_id", "number", "balance", "currency", "opened_on", "matures_on", "status")
ACCOUNT_WRITES = {"customer_no": ("customer_id",), "product": ("product_id",)}
ACCOUNT_STATUS = choice_map(Account.Status.choices, ("正常", Account.Status.ACTIVE), ("销户", Account.Status.CLOSED),
                            ("到期", Account.Status.MATURED))
_CURRENCY = re.compile(r"^[A-Z]{3}$")

# AUM and tier of the customers whose holdings an import wrote (the rule of customer_recalculate), set-based.
AUM_SQL = """
WITH ids AS (SELECT DISTINCT customer_id FROM {stage} WHERE customer_id IS NOT NULL
             UNION SELECT customer_id FROM customers_account WHERE id IN (SELECT _target_id FROM {stage})),
totals AS (
    SELECT ids.customer_id,
           COALESCE(SUM(a.balance) FILTER (WHERE a.status = 'active' AND p.category = ANY(%(categories)s)), 0)
               AS total
      FROM ids LEFT JOIN customers_account AS a ON a.customer_id = ids.customer_id
      LEFT JOIN customers_product AS p ON p.id = a.product_id
     GROUP BY ids.customer_id),
tiers AS (
    SELECT customer_id, total,
           COALESCE((SELECT t.tier FROM customers_tierthreshold AS t WHERE t.min_aum <= totals.total
                      ORDER BY t.min_aum DESC LIMIT 1), 'mass') AS tier
      FROM totals)
UPDATE customers_customer AS c SET aum = tiers.total, tier = tiers.tier, updated_at = now()
  FROM tiers WHERE c.id = tiers.customer_id AND (c.aum <> tiers.total OR c.tier <> tiers.tier)
"""


class AccountFastImport(FastImport):
    import_kind = "accounts"
    import_label = gettext_lazy("Accounts and holdings")
    natural_key = "number"
    target_table = "customers_account"
    stage_columns = ACCOUNT_STAGE
    import_columns = (
        ImportColumn("number", ("账号", "账户号", "卡号", "account number", "account no"), required=True),
        ImportColumn("customer_no", ("客户号", "客户编号", "customer number", "customer no"),
                     required_to_create=True),
        ImportColumn("product", ("产品代码", "产品", "product code", "product"), required_to_create=True),
        ImportColumn("balance", ("余额", "持仓金额", "balance")),
        ImportColumn("currency", ("币种", "currency")),
        ImportColumn("opened_on", ("开户日期", "opened on", "open date"), required_to_create=True),
        ImportColumn("matures_on", ("到期日", "到期日期", "matures on", "maturity date")),
        ImportColumn("status", ("账户状态", "状态", "status")),
    )

    def prepare(self, ctx: ImportContext) -> None:
        ctx.lookups["products"] = {code.lower(): pk for pk, code in Product.objects.values_list("pk", "code")}

    def clean_row(self, ctx: ImportContext, raw: dict[str, str]) -> dict[str, Any]:
        problems: list[tuple[str, str, str]] = []
        v: dict[str, Any] = {"number": self.text(raw, "number", problems, max_length=32, required=True)}
        if v["number"] and not v["number"].isdigit():
            problems.append(("number", v["number"], _("An account number has digits only.")))
        if "customer_no" in ctx.fields:
            v["customer_no"] = self.text(raw, "customer_no", problems, max_length=32, required=True)
        if "product" in ctx.fields:
            code = raw["product"].strip()
            v["product_id"] = ctx.lookups["products"].get(code.lower())
            if v["product_id"] is None:
                problems.append(("product", code, _("Unknown product code “%(code)s”.") % {"code": code}))
        if "balance" in ctx.fields:
            try:
                v["balance"] = parse_amount(raw["balance"], required=False) or 0
            except ValueError as exc:
                problems.append(("balance", raw["balance"], str(exc)))
        if "currency" in ctx.fields:
            v["currency"] = raw["currency"].strip().upper() or "CNY"
            if not _CURRENCY.match(v["currency"]):
                problems.append(("currency", raw["currency"], _("A currency is a three-letter code (CNY).")))
        for name, required in (("opened_on", True), ("matures_on", False)):
            if name in ctx.fields:
                try:
                    v[name] = parse_date(raw[name])
                except ValueError as exc:
                    problems.append((name, raw[name], str(exc)))
                else:
                    if required and v[name] is None:
                        problems.append((name, "", _("This field is required.")))
        if "status" in ctx.fields:
            try:
                v["status"] = parse_choice(raw["status"], ACCOUNT_STATUS) or Account.Status.ACTIVE
            except ValueError as exc:
                problems.append(("status", raw["status"], str(exc)))
        if problems:
            raise RowError(problems)
        return v

    def resolve(self, ctx: ImportContext, cursor, rows: list[dict[str, Any]]) -> list[list[tuple[str, str, str]]]:
        numbers = sorted({row["customer_no"] for row in rows if row.get("customer_no")})
        found: dict[str, tuple[int, str]] = {}
        if numbers:
            cursor.execute("SELECT c.customer_no, c.id, b.path FROM customers_customer AS c "
                           "JOIN org_branch AS b ON b.id = c.home_branch_id WHERE c.customer_no = ANY(%s)", [numbers])
            found = {number: (pk, path) for number, pk, path in cursor.fetchall()}
        problems = []
        for row in rows:
            mine: list[tuple[str, str, str]] = []
            number = row.get("customer_no")
            if number:
                customer = found.get(number)
                if customer is None:
                    mine.append(("customer_no", number, _("No customer “%(no)s” on file.") % {"no": number}))
                elif _scope_problem(ctx, customer[1]):
                    mine.append(("customer_no", number,
                                 _("Customer “%(no)s” belongs to a branch outside the ones you serve.") % {
                                     "no": number}))
                else:
                    row["customer_id"] = customer[0]
            problems.append(mine)
        return problems

    def existing(self, ctx: ImportContext, cursor, keys: list[Any]) -> dict[Any, dict[str, Any]]:
        cursor.execute(
            "SELECT a.id, a.number, a.customer_id, a.product_id, a.balance, a.currency, a.opened_on, a.matures_on, "
            "a.status, b.path AS _branch_path FROM customers_account AS a "
            "JOIN customers_customer AS c ON c.id = a.customer_id JOIN org_branch AS b ON b.id = c.home_branch_id "
            "WHERE a.number = ANY(%s)", [keys])
        names = [column.name for column in cursor.description]
        return {row[1]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}

    def check_existing(self, ctx: ImportContext, values: dict[str, Any], current: dict[str, Any]) -> None:
        if _scope_problem(ctx, current["_branch_path"]):
            raise RowError([("number", values["number"],
                             _("This account belongs to a customer outside the branches you serve."))])

    def update_columns(self, ctx: ImportContext) -> list[str]:
        columns: list[str] = []
        for name in ctx.fields:
            if name != "number":
                columns.extend(ACCOUNT_WRITES.get(name, (name,)))
        return list(dict.fromkeys(columns))

    def differs(self, ctx: ImportContext, values: dict[str, Any], current: dict[str, Any]) -> bool:
        return any(values.get(column) != current.get(column) for column in self.update_columns(ctx))

    def stage_row(self, ctx: ImportContext, values: dict[str, Any], current: dict[str, Any] | None) -> tuple:
        v = values.get
        customer_id = v("customer_id") or (current or {}).get("customer_id")
        return (customer_id, v("product_id"), values["number"], v("balance", 0), v("currency") or "CNY",
                v("opened_on"), v("matures_on"), v("status") or Account.Status.ACTIVE)

    def after_write(self, cursor, *, stage: str) -> None:
        cursor.execute(AUM_SQL.format(stage=stage), {"categories": list(Product.AUM_CATEGORIES)})


# ------------------------------------------------------------------------------------------------
# Transactions: facts from core banking. Keyed on (account, time, amount, direction); a row already on file
# is unchanged, never rewritten.

TRANSACTION_STAGE = ("customer_id", "account_id", "occurred_at", "amount", "direction", "channel", "counterparty")
DIRECTIONS = choice_map(Transaction.Direction.choices, ("收入", "credit"), ("贷", "credit"), ("收", "credit"),
                        ("支出", "debit"), ("借", "debit"), ("付", "debit"), ("in", "credit"), ("out", "debit"),
                        ("c", "credit"), ("d", "debit"))
CHANNELS = choice_map(Transaction.Channel.choices, ("柜面", "counter"), ("网银", "online"), ("手机银行", "mobile"),
                      ("转账", "transfer"), ("系统", "system"))


class TransactionFastImport(FastImport):
    import_kind = "transactions"
    import_label = gettext_lazy("Transactions")
    natural_key = "account"
    target_table = "customers_transaction"
    stage_columns = TRANSACTION_STAGE
    updatable = False
    import_columns = (
        ImportColumn("account", ("账号", "账户号", "卡号", "account number", "account"), required=True),
        ImportColumn("occurred_at", ("交易时间", "交易日期", "time", "occurred at", "date"), required=True),
        ImportColumn("amount", ("金额", "交易金额", "amount"), required=True),
        ImportColumn("direction", ("收支方向", "借贷标志", "方向", "direction"), required=True),
        ImportColumn("channel", ("渠道", "交易渠道", "channel"), required=True),
        ImportColumn("counterparty", ("对方", "交易对手", "摘要", "counterparty")),
    )

    def key_of(self, values: dict[str, Any]) -> Any:
        return (values["account"], values["occurred_at"], values["amount"], values["direction"])

    def raw_key(self, raw: dict[str, str]) -> Any:
        try:
            return (raw["account"].strip(), parse_datetime(raw["occurred_at"]), parse_amount(raw["amount"]),
                    parse_choice(raw["direction"], DIRECTIONS, required=True))
        except ValueError:
            return None  # the row fails validation anyway

    def clean_row(self, ctx: ImportContext, raw: dict[str, str]) -> dict[str, Any]:
        problems: list[tuple[str, str, str]] = []
        v: dict[str, Any] = {"account": self.text(raw, "account", problems, max_length=32, required=True)}
        try:
            v["occurred_at"] = parse_datetime(raw["occurred_at"])
        except ValueError as exc:
            problems.append(("occurred_at", raw["occurred_at"], str(exc)))
        try:
            v["amount"] = parse_amount(raw["amount"])
            if v["amount"] is not None and v["amount"] <= 0:
                problems.append(("amount", raw["amount"], _("An amount is positive; the direction says in or out.")))
        except ValueError as exc:
            problems.append(("amount", raw["amount"], str(exc)))
        for name, mapping in (("direction", DIRECTIONS), ("channel", CHANNELS)):
            try:
                v[name] = parse_choice(raw[name], mapping, required=True)
            except ValueError as exc:
                problems.append((name, raw[name], str(exc)))
        v["counterparty"] = self.text(raw, "counterparty", problems, max_length=100) if "counterparty" in ctx.fields \
            else ""
        if problems:
            raise RowError(problems)
        return v

    def resolve(self, ctx: ImportContext, cursor, rows: list[dict[str, Any]]) -> list[list[tuple[str, str, str]]]:
        numbers = sorted({row["account"] for row in rows})
        cursor.execute("SELECT a.number, a.id, a.customer_id, b.path FROM customers_account AS a "
                       "JOIN customers_customer AS c ON c.id = a.customer_id "
                       "JOIN org_branch AS b ON b.id = c.home_branch_id WHERE a.number = ANY(%s)", [numbers])
        found = {number: (pk, customer, path) for number, pk, customer, path in cursor.fetchall()}
        problems = []
        for row in rows:
            account = found.get(row["account"])
            if account is None:
                problems.append([("account", row["account"], _("No account “%(no)s” on file.") % {
                    "no": row["account"]})])
            elif _scope_problem(ctx, account[2]):
                problems.append([("account", row["account"],
                                  _("This account belongs to a customer outside the branches you serve."))])
            else:
                row["account_id"], row["customer_id"] = account[0], account[1]
                problems.append([])
        return problems

    def existing(self, ctx: ImportContext, cursor, keys: list[Any]) -> dict[Any, dict[str, Any]]:
        if not keys:
            return {}
        cursor.execute(
            "SELECT t.id, a.number, t.occurred_at, t.amount, t.direction FROM customers_transaction AS t "
            "JOIN customers_account AS a ON a.id = t.account_id "
            "JOIN unnest(%s::text[], %s::timestamptz[]) AS k(number, at) ON a.number = k.number "
            "AND t.occurred_at = k.at",
            [[key[0] for key in keys], [key[1] for key in keys]])
        return {(number, at, amount, direction): {"id": pk}
                for pk, number, at, amount, direction in cursor.fetchall()}

    def update_columns(self, ctx: ImportContext) -> list[str]:
        return []

    def differs(self, ctx: ImportContext, values: dict[str, Any], current: dict[str, Any]) -> bool:
        return False

    def stage_row(self, ctx: ImportContext, values: dict[str, Any], current: dict[str, Any] | None) -> tuple:
        return (values["customer_id"], values["account_id"], values["occurred_at"], values["amount"],
                values["direction"], values["channel"], values["counterparty"])


# ------------------------------------------------------------------------------------------------
# The django-import-export side: the same resources for admin's import/export buttons.

class _SealingMixin:
    """Admin imports go through customers/pii.py too: plaintext never reaches a column."""

    def before_save_instance(self, instance, row, **kwargs):
        personal = {field: str(row.get(field) or "") for field in pii.PII_FIELDS if field in row}
        if personal:
            try:
                pii.seal_pii(instance, values=personal)
            except ValidationError as exc:
                raise ValueError("; ".join(exc.messages)) from None
        instance.name_pinyin, instance.name_initials = _name_keys(instance.name or "")
        super().before_save_instance(instance, row, **kwargs)


@register
class CustomerResource(CustomerFastImport, _SealingMixin, resources.ModelResource):
    home_branch = fields.Field(attribute="home_branch", column_name="branch",
                               widget=widgets.ForeignKeyWidget(Branch, field="code"))
    primary_rm = fields.Field(attribute="primary_rm", column_name="rm",
                              widget=widgets.ForeignKeyWidget(User, field="username"))

    class Meta:
        model = Customer
        import_id_fields = ("customer_no",)
        fields = ("customer_no", "kind", "name", "gender", "birth_date", "id_type", "id_number_masked",
                  "phone_masked", "email_masked", "address_masked", "occupation", "employer", "income_band",
                  "source_channel", "home_branch", "primary_rm", "lifecycle_status", "risk_tolerance",
                  "kyc_status", "marketing_consent", "do_not_contact")
        # Masked columns are for export; an import seals the id_number/phone/email/address columns instead.
        import_exclude = ("id_number_masked", "phone_masked", "email_masked", "address_masked")
        skip_unchanged = True
        use_bulk = False


@register
class AccountResource(AccountFastImport, resources.ModelResource):
    customer = fields.Field(attribute="customer", column_name="customer_no",
                            widget=widgets.ForeignKeyWidget(Customer, field="customer_no"))
    product = fields.Field(attribute="product", column_name="product",
                           widget=widgets.ForeignKeyWidget(Product, field="code"))

    class Meta:
        model = Account
        import_id_fields = ("number",)
        fields = ("number", "customer", "product", "balance", "currency", "opened_on", "matures_on", "status")
        skip_unchanged = True


@register
class TransactionResource(TransactionFastImport, resources.ModelResource):
    account = fields.Field(attribute="account", column_name="account",
                           widget=widgets.ForeignKeyWidget(Account, field="number"))

    class Meta:
        model = Transaction
        fields = ("id", "account", "occurred_at", "amount", "direction", "channel", "counterparty")

    def before_save_instance(self, instance, row, **kwargs):
        instance.customer_id = instance.account.customer_id
        super().before_save_instance(instance, row, **kwargs)


