"""Leads through the bulk-import pipeline (crm_site/importing): a purchased list, a campaign's sign-ups.

Each row is one lead, keyed on its phone's blind index. The rules are the ones lead_services.lead_create
applies to one lead: phone (and ID number, if given) sealed with customers.pii, a person with an open lead
already is refused with that lead's number, a row in a branch outside the importer's reach is refused, and
after the commit every new lead whose phone or ID matches a customer is linked to that customer and flagged
(one UPDATE, ID matches preferred). Imported leads arrive new and the lead_assignment job places them.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import resources

from crm_site.importing import FastImport, ImportColumn, RowError, register
from crm_site.importing.spec import ImportContext
from crm_site.importing.values import choice_map, parse_choice
from customers import pii
from org.models import Branch

from .models_leads import Lead, ProductArea

LEAD_STAGE = (
    "name", "id_type", "id_number_enc", "id_number_bidx", "id_number_masked", "phone_enc", "phone_bidx",
    "phone_masked", "channel", "product_interest", "note", "branch_id", "status", "disqualify_reason",
    "disqualify_note", "matched_customer", "created_by_id", "created_at", "updated_at",
)
INTERESTS = choice_map(ProductArea.choices, ("理财", "wealth"), ("基金", "wealth"), ("贷款", "loans"),
                       ("保险", "insurance"), ("存款", "deposits"), ("定期", "deposits"), ("信用卡", "cards"))
CHANNELS = choice_map(Lead.Channel.choices, ("网点", "walk_in"), ("网站", "web_form"), ("电话", "phone"),
                      ("活动", "campaign"))
ID_TYPES = choice_map(Lead._meta.get_field("id_type").choices, ("身份证", "resident_id"), ("护照", "passport"))

# Joins each newly written lead to the best customer on file: an ID match first (it names one person), then
# a phone match; closed and merged-away customers never match.
LINK_SQL = """
UPDATE opportunities_lead AS l SET customer_id = m.customer_id, matched_customer = TRUE
FROM (
    SELECT DISTINCT ON (s._target_id) s._target_id AS lead_id, c.id AS customer_id
    FROM {stage} AS s
    JOIN customers_customer AS c
      ON (s.id_number_bidx <> '' AND c.id_number_bidx = s.id_number_bidx)
      OR (s.phone_bidx <> '' AND c.phone_bidx = s.phone_bidx)
    WHERE s._action = %(new)s AND c.lifecycle_status <> 'closed' AND c.merged_into_id IS NULL
    ORDER BY s._target_id, (s.id_number_bidx <> '' AND c.id_number_bidx = s.id_number_bidx) DESC, c.id
) AS m
WHERE l.id = m.lead_id
"""


class LeadFastImport(FastImport):
    import_kind = "leads"
    import_label = gettext_lazy("Leads")
    natural_key = "phone"
    target_table = "opportunities_lead"
    stage_columns = LEAD_STAGE
    # A lead on file is never changed by a file: a duplicate row is refused and names the open lead.
    updatable = False
    import_columns = (
        ImportColumn("name", ("姓名", "客户姓名", "name"), required=True),
        ImportColumn("phone", ("手机号", "手机号码", "mobile", "phone"), required=True, pii=True),
        ImportColumn("product_interest", ("产品意向", "意向产品", "product interest", "interest"), required=True),
        ImportColumn("branch", ("所属网点", "网点", "branch"), required=True),
        ImportColumn("channel", ("来源渠道", "渠道", "channel")),
        ImportColumn("id_type", ("证件类型", "ID type")),
        ImportColumn("id_number", ("证件号码", "身份证号", "ID number"), pii=True),
        ImportColumn("note", ("备注", "note")),
    )

    def prepare(self, ctx: ImportContext) -> None:
        ctx.lookups["branches"] = {code.lower(): (pk, path) for pk, path, code in
                                   Branch.objects.values_list("pk", "path", "code")}
        ctx.lookups["now"] = timezone.now()

    def key_of(self, values: dict[str, Any]) -> Any:
        return values["phone_bidx"]

    def clean_row(self, ctx: ImportContext, raw: dict[str, str]) -> dict[str, Any]:
        problems: list[tuple[str, str, str]] = []
        v: dict[str, Any] = {"name": self.text(raw, "name", problems, max_length=200, required=True)}
        phone = (raw.get("phone") or "").strip()
        try:
            v["phone"] = pii.normalise_phone(phone)
            if not v["phone"]:
                problems.append(("phone", phone, _("This field is required.")))
        except ValidationError as exc:
            problems.append(("phone", phone, exc.messages[0]))
        for name, mapping, default in (("product_interest", INTERESTS, ""), ("channel", CHANNELS, "import"),
                                       ("id_type", ID_TYPES, "")):
            try:
                v[name] = parse_choice(raw.get(name, ""), mapping, required=name == "product_interest") or default
            except ValueError as exc:
                problems.append((name, raw.get(name, ""), str(exc)))
        code = (raw.get("branch") or "").strip()
        branch = ctx.lookups["branches"].get(code.lower())
        reach = ctx.reach
        if branch is None:
            problems.append(("branch", code, _("Unknown branch code “%(code)s”.") % {"code": code}))
        elif reach is not None and not reach.everything and (
                reach.branch is None or not branch[1].startswith(reach.branch.path)):
            problems.append(("branch", code, _("Branch “%(code)s” is outside the branches you serve.") % {
                "code": code}))
        else:
            v["branch_id"] = branch[0]
        number = (raw.get("id_number") or "").strip()
        v["id_number"] = ""
        if number:
            try:
                v["id_number"] = pii.normalise_id_number(v.get("id_type") or "resident_id", number)
                v["id_type"] = v.get("id_type") or "resident_id"
            except ValidationError as exc:
                problems.append(("id_number", number, exc.messages[0]))
        v["note"] = self.text(raw, "note", problems, max_length=2000)
        if problems:
            raise RowError(problems)
        for field in ("phone", "id_number"):
            sealed = pii.seal(field, v[field]) if v[field] else pii.Sealed("", "", "")
            v[f"{field}_sealed"] = sealed
        v["phone_bidx"] = v["phone_sealed"].bidx
        v["id_number_bidx"] = v["id_number_sealed"].bidx
        return v

    def resolve(self, ctx: ImportContext, cursor, rows: list[dict[str, Any]]) -> list[list[tuple[str, str, str]]]:
        """One query per chunk: rows whose person already has an open lead are refused, naming it."""
        phones = [row["phone_bidx"] for row in rows]
        ids = [row["id_number_bidx"] for row in rows if row["id_number_bidx"]]
        cursor.execute(
            "SELECT id, phone_bidx, id_number_bidx FROM opportunities_lead WHERE status = ANY(%s) "
            "AND (phone_bidx = ANY(%s) OR (id_number_bidx <> '' AND id_number_bidx = ANY(%s)))",
            [list(Lead.OPEN_STATUSES), phones, ids])
        by_phone, by_id = {}, {}
        for pk, phone_bidx, id_bidx in cursor.fetchall():
            by_phone.setdefault(phone_bidx, pk)
            if id_bidx:
                by_id.setdefault(id_bidx, pk)
        problems = []
        for row in rows:
            found = by_phone.get(row["phone_bidx"]) or by_id.get(row["id_number_bidx"])
            problems.append([("phone", row["phone"], _(
                "This person already has an open lead (number %(pk)d): add to that lead instead.") % {"pk": found})]
                if found else [])
        return problems

    def existing(self, ctx: ImportContext, cursor, keys: list[Any]) -> dict[Any, dict[str, Any]]:
        # Open leads were refused in resolve(); closed ones do not stop a new lead for the same person.
        return {}

    def differs(self, ctx: ImportContext, values: dict[str, Any], current: dict[str, Any]) -> bool:
        return False

    def update_columns(self, ctx: ImportContext) -> list[str]:
        return []

    def stage_row(self, ctx: ImportContext, values: dict[str, Any], current: dict[str, Any] | None) -> tuple:
        phone, number, now = values["phone_sealed"], values["id_number_sealed"], ctx.lookups["now"]
        return (values["name"], values["id_type"], number.enc, number.bidx, number.masked, phone.enc, phone.bidx,
                phone.masked, values["channel"], values["product_interest"], values["note"], values["branch_id"],
                Lead.Status.NEW, "", "", False, getattr(ctx.actor, "pk", None), now, now)

    def after_write(self, cursor, *, stage: str) -> None:
        from crm_site.importing.pipeline import NEW

        cursor.execute(LINK_SQL.format(stage=stage), {"new": NEW})


@register
class LeadResource(LeadFastImport, resources.ModelResource):
    """Export (admin) shows masked contact data only; imports go through the pipeline above."""

    class Meta:
        model = Lead
        fields = ("id", "name", "phone_masked", "id_number_masked", "channel", "product_interest", "status",
                  "branch__code", "assigned_to__username", "created_at")
