"""Leads through the bulk-import pipeline: sealed contact data, open-lead duplicates refused by row, customers
matched by blind index and linked after the commit, branches outside the importer's reach refused."""

import pytest
from django.core.files.base import ContentFile

from crm_site.importing import pipeline
from opportunities import lead_services
from opportunities.models import Lead
from reports import imports
from reports.models import ImportJob, ImportRowError
from tests.reports.importing import csv_bytes

from .lead_helpers import PHONE, create_customer

pytestmark = pytest.mark.django_db

HEADER = ["姓名", "手机号", "产品意向", "所属网点", "来源渠道", "备注"]


def _import(actor, rows):
    job = imports.import_start(actor=actor, upload=ContentFile(csv_bytes([HEADER, *rows]), name="leads.csv"),
                               kind="leads", mode="create")
    pipeline.validate(job.pk)
    job.refresh_from_db()
    return job


def _commit(job, actor):
    job = imports.import_commit(job=job, actor=actor, accept_partial=True)
    pipeline.commit(job.pk)
    job.refresh_from_db()
    return job


def test_imported_leads_are_sealed_linked_to_customers_and_duplicates_refused(org):
    customer = create_customer(org, "C0000950001", "钱芳", personal={"phone": PHONE})
    ops = org["ops1"]
    existing_phone = "13911112222"
    first = lead_services.lead_create(actor=ops, name="已有", channel="walk_in", product_interest="wealth",
                                      branch=org["rm1"].branch, phone=existing_phone)

    job = _import(ops, [
        ["钱芳", PHONE, "理财", "BJ01", "活动", "老客户"],
        ["新人", "13700009999", "贷款", "BJ02", "", ""],
        ["重复", existing_phone, "保险", "BJ01", "", ""],
        ["外地", "13700008888", "保险", "SH01", "", ""],
        ["坏号", "12345", "理财", "BJ01", "", ""],
    ])

    assert job.status == ImportJob.Status.VALIDATED, (job.file_error, job.first_errors)
    assert (job.count_new, job.count_invalid) == (2, 3)
    errors = {(e.row, e.column): e.message for e in ImportRowError.objects.filter(job=job)}
    assert f"number {first.pk}" in errors[(4, "手机号")]
    assert "outside" in errors[(5, "所属网点")]
    assert (6, "手机号") in errors
    assert "13911112222" not in str(list(ImportRowError.objects.filter(job=job).values_list("value", flat=True)))

    job = _commit(job, ops)

    assert job.status == ImportJob.Status.COMMITTED
    matched = Lead.objects.get(name="钱芳")
    assert (matched.customer, matched.matched_customer, matched.status, matched.channel) == (
        customer, True, "new", "campaign")
    assert matched.phone_bidx == customer.phone_bidx
    assert PHONE not in matched.phone_enc
    fresh = Lead.objects.get(name="新人")
    assert (fresh.customer, fresh.matched_customer, fresh.channel, fresh.branch.code) == (None, False, "import",
                                                                                          "BJ02")
    assert Lead.objects.count() == 3


def test_operations_staff_are_offered_leads_on_the_import_form_and_rms_nothing(org, client_for):
    assert ("leads", "Leads") in imports.importable_kinds(org["ops1"])
    assert imports.importable_kinds(org["rm1"]) == []
    page = client_for("ops1").get("/imports/new/")
    assert page.status_code == 200
    assert 'value="leads"' in page.content.decode()
