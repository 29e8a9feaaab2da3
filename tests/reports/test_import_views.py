"""The operations staff's import pages: who may reach them, the preview, the confirmations, the error report,
revert, the history and its query budget, and the whole flow on a real Celery worker."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from crm_site.importing import pipeline
from customers.models import Account, Customer, Product
from org.models import AuditEntry, Branch, User
from org.roles import Role
from reports.models import ImportJob

from ..workers import wait_for
from .importing import HEADER_ZH, commit, csv_bytes, resident_id, start, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _bad_id(body: str) -> str:
    good = resident_id(body)
    return good[:-1] + ("1" if good[-1] != "1" else "2")


GOOD_ID = resident_id("11010819900101123")
BAD_ID = _bad_id("11010819850505432")


def _rows(*, broken: bool = True) -> list[list[str]]:
    return [
        HEADER_ZH,
        ["C800000001", "张三", GOOD_ID, "13812345678", "BJ01", "E1001"],
        ["C800000002", "李四", resident_id("11010819920202234"), "13912345678", "BJ02", "E1002"],
        ["C800000003", "王五", BAD_ID if broken else resident_id("11010819850505432"), "13712345678", "BJ01", ""],
    ]


@pytest.fixture
def ops_sh(org):
    """An operator of the Shanghai branch: same role as ops1, another part of the tree."""
    user = User.objects.create_user(username="ops_sh", full_name="沈洁", employee_no="E6002",
                                    branch=Branch.objects.get(code="SH"), password="x")
    user.groups.add(Group.objects.get(name=Role.OPERATIONS))
    return user


@pytest.fixture
def validated(org):
    """ops1's upload of three customers, the last with a wrong ID checksum, checked and waiting for a decision."""
    job = start(org["ops1"], csv_bytes(_rows()))
    assert job.status == ImportJob.Status.VALIDATED, (job.file_error, job.first_errors)
    return job


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ------------------------------------------------------------------------------------------------
# Who may reach what.

def _state():
    return {
        "jobs": list(ImportJob.objects.order_by("pk").values("pk", "status", "accept_partial", "rows_created")),
        "customers": Customer.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


def _request(route: str, job: ImportJob):
    url = reverse(f"imports:{route}", args=[job.pk]) if route not in ("import-list", "import-new") else \
        reverse(f"imports:{route}")
    body = {
        "import-new": {"kind": "customers", "mode": "create", "upload": upload(csv_bytes(_rows(broken=False)))},
        "import-commit": {"accept_partial": "on", "confirm_partial": "on"},
        "import-revert": {"confirm": "on"},
        "import-rerun": {"encoding": "gb18030"},
    }.get(route, {})
    return url, body


ROUTES = [
    ("import-list", "get"), ("import-new", "get"), ("import-new", "post"), ("import-detail", "get"),
    ("import-errors", "get"), ("import-commit", "post"), ("import-revert", "post"), ("import-rerun", "post"),
]
# ops1 owns the job (Beijing); ops_sh is an operator in Shanghai; admin is head office.
EXPECTED = {
    "rm1": dict.fromkeys(ROUTES, 403),
    "manager1": dict.fromkeys(ROUTES, 403),
    "ops_sh": {route: (200 if route[0] in ("import-list", "import-new") and route[1] == "get" else
                       302 if route == ("import-new", "post") else 404) for route in ROUTES},
    "ops1": {route: (200 if route[1] == "get" else 302) for route in ROUTES},
    "admin": {route: (200 if route[1] == "get" else 302) for route in ROUTES},
}


@pytest.mark.parametrize(("route", "method"), ROUTES)
@pytest.mark.parametrize("who", ["anonymous", "rm1", "manager1", "ops_sh", "ops1", "admin"])
def test_authorisation_matrix(who, route, method, org, ops_sh, validated):
    url, body = _request(route, validated)
    client = Client() if who == "anonymous" else _client(ops_sh if who == "ops_sh" else org[who])
    before = _state()

    response = getattr(client, method)(url, body)

    if who == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == EXPECTED[who][(route, method)], response.content[:300]
    if who in ("anonymous", "rm1", "manager1") or response.status_code == 404:
        assert _state() == before


def test_rm_gets_403_on_a_direct_commit_post_and_nothing_is_written(client_for, validated):
    response = client_for("rm1").post(reverse("imports:import-commit", args=[validated.pk]),
                                      {"accept_partial": "on", "confirm_partial": "on"})
    assert response.status_code == 403
    validated.refresh_from_db()
    assert validated.status == ImportJob.Status.VALIDATED
    assert not Customer.objects.filter(customer_no__startswith="C8").exists()


@pytest.mark.parametrize("route", [route for route, method in ROUTES if method == "post"])
def test_every_post_needs_the_csrf_token(route, org, validated):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org["ops1"])
    url, body = _request(route, validated)
    before = _state()
    response = client.post(url, body)
    assert response.status_code == 403
    assert _state() == before


def test_a_missing_import_is_404(client_for):
    assert client_for("ops1").get(reverse("imports:import-detail", args=[987654])).status_code == 404


def test_operations_staff_land_on_the_import_history_and_see_it_in_the_navigation(client_for):
    ops = client_for("ops1")
    assert ops.get("/")["Location"] == reverse("imports:import-list")
    page = ops.get(reverse("imports:import-list")).content.decode()
    assert f'href="{reverse("imports:import-list")}"' in page
    rm_page = client_for("rm1").get(reverse("customers:customer-list")).content.decode()
    assert reverse("imports:import-list") not in rm_page


# ------------------------------------------------------------------------------------------------
# Upload form.

def test_upload_without_a_file_or_type_says_which_field_is_missing(client_for):
    response = client_for("ops1").post(reverse("imports:import-new"), {"mode": "create"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Choose the file to import." in page
    assert "Choose what the file holds." in page
    assert not ImportJob.objects.exists()


def test_the_form_lists_the_columns_each_kind_accepts(client_for):
    page = client_for("ops1").get(reverse("imports:import-new")).content.decode()
    guide = page.split('data-testid="column-guide"')[1]
    assert "rows are matched on 客户号" in guide
    assert "客户号 *" in guide
    assert "customer number" in guide
    assert "Accounts and holdings" in guide


def test_upload_creates_the_job_and_opens_its_page(client_for, org):
    response = client_for("ops1").post(reverse("imports:import-new"), {
        "kind": "customers", "mode": "upsert", "encoding": "",
        "upload": upload(csv_bytes(_rows(broken=False)), "客户名单.csv")})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == job.get_absolute_url()
    assert (job.kind, job.mode, job.original_name) == ("customers", "upsert", "客户名单.csv")
    assert job.created_by == org["ops1"]
    assert job.status == ImportJob.Status.UPLOADED
    page = client_for("ops1").get(job.get_absolute_url()).content.decode()
    assert "Queued: the check starts as soon as a worker is free." in page
    assert 'data-testid="import-progress"' in page


def test_a_file_that_is_not_csv_or_xlsx_is_rejected_with_its_message_on_the_page(client_for):
    client = client_for("ops1")
    client.post(reverse("imports:import-new"), {
        "kind": "customers", "mode": "create",
        "upload": upload(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "photo.png")})
    job = ImportJob.objects.get()
    pipeline.validate(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REJECTED
    page = client.get(job.get_absolute_url()).content.decode()
    assert 'data-testid="import-file-error"' in page
    assert job.file_error in page.replace("&#x27;", "'").replace("&quot;", '"')
    assert "Nothing was written." in page
    assert 'data-testid="commit-all"' not in page
    assert reverse("imports:import-rerun", args=[job.pk]) not in page  # not a text file: no encoding to choose


def test_an_xlsx_upload_is_checked_and_offers_no_encoding_choice(client_for):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in _rows():
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    client = client_for("ops1")
    client.post(reverse("imports:import-new"), {
        "kind": "customers", "mode": "create",
        "upload": SimpleUploadedFile("客户.xlsx", buffer.getvalue(),
                                     content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
    job = ImportJob.objects.get()
    pipeline.validate(job.pk)
    page = client.get(job.get_absolute_url()).content.decode()
    assert 'data-testid="count-new">2<' in page
    assert 'data-testid="count-invalid">1<' in page
    assert reverse("imports:import-rerun", args=[job.pk]) not in page


def test_a_file_past_the_size_limit_is_refused_before_it_is_stored(client_for, settings):
    settings.IMPORT_MAX_FILE_BYTES = 100
    client = client_for("ops1")
    response = client.post(reverse("imports:import-new"), {
        "kind": "customers", "mode": "create", "upload": upload(csv_bytes(_rows(broken=False)))}, follow=True)
    job = ImportJob.objects.get()
    page = response.content.decode()
    assert job.status == ImportJob.Status.REJECTED
    assert not job.file
    assert "can be imported at once. Split it." in page
    assert "data-polling" not in page


# ------------------------------------------------------------------------------------------------
# Progress, preview, confirmations.

def test_progress_polls_while_checking_and_stops_once_validated(client_for, org):
    client = client_for("ops1")
    job = ImportJob.objects.create(kind="customers", mode="create", created_by=org["ops1"],
                                   branch=org["ops1"].branch, original_name="big.csv",
                                   status=ImportJob.Status.VALIDATING, rows_total=1000, rows_done=250)
    partial = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial
    assert 'hx-trigger="every 1s"' in partial
    assert '<progress class="w-100 crm-import-progress" max="1000" value="250"' in partial
    assert "250 of 1,000 rows" in partial
    assert "style=" not in partial  # CSP: no inline styles

    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.VALIDATED, rows_done=1000, count_new=1000)
    partial = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in partial
    assert 'data-testid="count-new">1,000<' in partial


def test_the_polled_panel_costs_a_fixed_number_of_queries(client_for, org, django_assert_max_num_queries):
    job = ImportJob.objects.create(kind="customers", mode="create", created_by=org["ops1"],
                                   branch=org["ops1"].branch, original_name="big.csv",
                                   status=ImportJob.Status.VALIDATING, rows_total=1000, rows_done=250)
    client = client_for("ops1")
    # Every open import page asks for this once a second while the file is checked.
    with django_assert_max_num_queries(7):
        client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")


def test_preview_shows_counts_encoding_first_errors_and_refuses_commit_all(client_for, validated):
    page = client_for("ops1").get(validated.get_absolute_url()).content.decode()
    assert 'data-testid="count-new">2<' in page
    assert 'data-testid="count-invalid">1<' in page
    assert 'data-testid="encoding-used">UTF-8<' in page
    assert "(detected automatically)" in page
    assert reverse("imports:import-rerun", args=[validated.pk]) in page
    errors = page.split('data-testid="import-errors"')[1].split("</table>")[0]
    assert "<td>4</td>" in errors  # the file's 4th line: header + 3 rows
    assert BAD_ID not in page  # values are masked
    assert reverse("imports:import-errors", args=[validated.pk]) in page
    assert 'data-testid="commit-all" disabled' in page
    assert "Commit the 2 valid rows and reject the 1 invalid" in page


def test_commit_all_is_refused_while_invalid_rows_exist(client_for, validated):
    client = client_for("ops1")
    response = client.post(reverse("imports:import-commit", args=[validated.pk]), follow=True)
    assert "1 rows are invalid" in response.content.decode() or "rows are invalid" in response.content.decode()
    validated.refresh_from_db()
    assert validated.status == ImportJob.Status.VALIDATED
    assert not validated.accept_partial


def test_committing_valid_rows_only_needs_the_box_ticked(client_for, validated):
    response = client_for("ops1").post(reverse("imports:import-commit", args=[validated.pk]),
                                       {"accept_partial": "on"})
    assert response.status_code == 400
    assert "Tick the box to confirm that the invalid rows are left out." in response.content.decode()
    validated.refresh_from_db()
    assert validated.status == ImportJob.Status.VALIDATED


def test_committing_valid_rows_only_is_recorded_and_the_result_shows_the_counts(client_for, org, validated):
    client = client_for("ops1")
    response = client.post(reverse("imports:import-commit", args=[validated.pk]),
                           {"accept_partial": "on", "confirm_partial": "on"})
    assert response.status_code == 302
    validated.refresh_from_db()
    assert (validated.status, validated.accept_partial, validated.committed_by) == (
        ImportJob.Status.COMMITTING, True, org["ops1"])
    committing = client.get(validated.get_absolute_url()).content.decode()
    assert 'hx-trigger="every 1s"' in committing
    assert "Writing 2 rows in one transaction: all of them or none." in committing

    pipeline.commit(validated.pk)  # what the worker does with the queued message

    page = client.get(validated.get_absolute_url()).content.decode()
    assert 'data-testid="count-created">2<' in page
    assert 'data-testid="count-rejected">1<' in page
    assert 'data-testid="import-partial-note"' in page
    assert reverse("customers:customer-list") in page
    assert 'data-testid="import-revert-form"' in page
    assert set(Customer.objects.filter(customer_no__startswith="C8").values_list("customer_no", flat=True)) == {
        "C800000001", "C800000002"}
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.IMPORT, object_id=str(validated.pk),
                                      detail__has_key="accept_partial").get()
    assert (entry.actor_username, entry.detail["accept_partial"], entry.detail["created"],
            entry.detail["rejected"]) == ("ops1", True, 2, 1)


def test_the_error_report_downloads_as_masked_csv_with_bom_and_is_audited(client_for, org, validated):
    response = client_for("ops1").get(reverse("imports:import-errors", args=[validated.pk]))
    body = b"".join(response.streaming_content).decode("utf-8")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="import-{validated.pk}-errors.csv"' in response["Content-Disposition"]
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0] == ["Row", "Column", "Value (masked)", "Message"]
    assert len(rows) == 2
    assert rows[1][0] == "4"
    assert BAD_ID not in body
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).latest("id")
    assert (entry.actor_username, entry.object_type, entry.object_id) == ("ops1", "reports.importjob",
                                                                         str(validated.pk))


def test_rereading_with_another_encoding_starts_a_new_check_of_the_same_file(client_for, org):
    rows = _rows(broken=False)
    job = start(org["ops1"], csv_bytes(rows, encoding="gb18030"), encoding="utf-8")
    client = client_for("ops1")
    assert job.status == ImportJob.Status.REJECTED
    page = client.get(job.get_absolute_url()).content.decode()
    assert "UTF-8" in job.file_error
    assert reverse("imports:import-rerun", args=[job.pk]) in page
    assert '<option value="gb18030" selected>' in page
    response = client.post(reverse("imports:import-rerun", args=[job.pk]), {"encoding": "gb18030"})
    rerun = ImportJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == rerun.get_absolute_url()
    assert (rerun.rerun_of, rerun.encoding_requested, rerun.sha256) == (job, "gb18030", job.sha256)
    pipeline.validate(rerun.pk)
    rerun.refresh_from_db()
    assert (rerun.status, rerun.count_new, rerun.encoding_used) == (ImportJob.Status.VALIDATED, 3, "gb18030")
    page = client.get(rerun.get_absolute_url()).content.decode()
    assert f'data-testid="import-rerun-of">#{job.pk}<' in page
    assert 'data-testid="encoding-used">GB18030<' in page
    assert "(chosen by the operator)" in page


def test_revert_needs_confirmation_then_removes_the_created_customers(client_for, org):
    job = commit(start(org["ops1"], csv_bytes(_rows(broken=False))), org["ops1"])
    assert Customer.objects.filter(customer_no__startswith="C8").count() == 3
    client = client_for("ops1")

    refused = client.post(reverse("imports:import-revert", args=[job.pk]), {})
    assert refused.status_code == 400
    assert "Tick the box to confirm the revert." in refused.content.decode()
    assert Customer.objects.filter(customer_no__startswith="C8").count() == 3

    response = client.post(reverse("imports:import-revert", args=[job.pk]), {"confirm": "on"}, follow=True)
    page = response.content.decode()
    assert f"Import #{job.pk} is being reverted: the page shows when it is done." in page
    # Queued for the worker: the rows are still there and the page keeps polling with the indeterminate bar.
    assert 'hx-trigger="every 1s"' in page
    assert 'data-testid="import-reverting"' in page
    assert 'data-testid="import-revert-form"' not in page
    assert Customer.objects.filter(customer_no__startswith="C8").count() == 3

    pipeline.revert_job(job.pk)  # what the worker does with the queued message

    page = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' not in page
    assert 'data-testid="import-reverted-note"' in page
    assert 'data-testid="import-revert-form"' not in page
    assert not Customer.objects.filter(customer_no__startswith="C8").exists()


def test_a_revert_refused_on_the_worker_says_why_and_can_be_asked_again(client_for, org):
    job = commit(start(org["ops1"], csv_bytes(_rows(broken=False))), org["ops1"])
    product = Product.objects.create(code="DD01", name="活期", category="deposit")
    Account.objects.create(customer=Customer.objects.get(customer_no="C800000001"), product=product,
                           number="6222000011112222", balance=Decimal("100"), opened_on=dt.date(2020, 1, 1))
    client = client_for("ops1")
    client.post(reverse("imports:import-revert", args=[job.pk]), {"confirm": "on"})
    pipeline.revert_job(job.pk)  # what the worker does with the queued message
    page = client.get(job.get_absolute_url()).content.decode()
    assert 'data-testid="import-revert-error"' in page
    assert "used by later data" in page
    assert 'data-testid="import-revert-form"' in page
    assert Customer.objects.filter(customer_no__startswith="C8").count() == 3


def test_revert_is_not_offered_after_the_window(client_for, org, settings):
    job = commit(start(org["ops1"], csv_bytes(_rows(broken=False))), org["ops1"])
    settings.IMPORT_REVERT_WINDOW = settings.IMPORT_REVERT_WINDOW * 0
    client = client_for("ops1")
    assert 'data-testid="import-revert-form"' not in client.get(job.get_absolute_url()).content.decode()
    response = client.post(reverse("imports:import-revert", args=[job.pk]), {"confirm": "on"}, follow=True)
    assert "can no longer be reverted" in response.content.decode()
    assert Customer.objects.filter(customer_no__startswith="C8").count() == 3


# ------------------------------------------------------------------------------------------------
# History.

def _jobs(user, n: int) -> None:
    ImportJob.objects.bulk_create([
        ImportJob(kind="customers", mode="create", created_by=user, branch=user.branch, original_name=f"f{i}.csv",
                  sha256=f"{i:064x}", status=ImportJob.Status.COMMITTED, rows_total=10, rows_created=10)
        for i in range(n)])


def test_history_is_scoped_to_the_operators_branches(client_for, org, ops_sh):
    _jobs(org["ops1"], 2)
    _jobs(ops_sh, 1)
    beijing = client_for("ops1").get(reverse("imports:import-list")).content.decode()
    assert beijing.count('data-testid="import-row"') == 2
    shanghai = _client(ops_sh).get(reverse("imports:import-list")).content.decode()
    assert shanghai.count('data-testid="import-row"') == 1
    head_office = client_for("admin").get(reverse("imports:import-list")).content.decode()
    assert head_office.count('data-testid="import-row"') == 3


def test_history_row_shows_who_type_mode_file_checksum_counts_and_status(client_for, org, validated):
    page = client_for("ops1").get(reverse("imports:import-list")).content.decode()
    row = page.split('data-testid="import-row"')[1].split("</tr>")[0]
    for text in ("黄磊", "Customers", "Create new rows only", "customers.csv", validated.sha256[:12],
                 "2 new · 0 changed · 0 unchanged · 1 invalid", "Validated"):
        assert text in row


def test_history_pages_by_keyset_in_a_fixed_number_of_queries(client_for, org, django_assert_max_num_queries):
    _jobs(org["ops1"], 30)
    client = client_for("ops1")
    client.get(reverse("imports:import-list"))  # session and permission caches warm
    with django_assert_max_num_queries(7):
        first = client.get(reverse("imports:import-list")).content.decode()
    assert first.count('data-testid="import-row"') == 25
    more = first.split('hx-get="?after=')[1].split('"')[0]
    with django_assert_max_num_queries(7):
        second = client.get(reverse("imports:import-list") + "?after=" + more, HTTP_HX_REQUEST="true").content.decode()
    assert second.count('data-testid="import-row"') == 5
    assert "<html" not in second
    assert "hx-get" not in second


# ------------------------------------------------------------------------------------------------
# The whole flow on a real worker.

def _job_status(job):
    job.refresh_from_db()
    return job.status


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_upload_preview_download_commit_revert_on_a_real_worker(client_for, org, media_worker):
    client = client_for("ops1")
    response = client.post(reverse("imports:import-new"), {
        "kind": "customers", "mode": "create", "upload": upload(csv_bytes(_rows()), "客户.csv")})
    job = ImportJob.objects.get()
    assert response["Location"] == job.get_absolute_url()
    wait_for(lambda: _job_status(job) == ImportJob.Status.VALIDATED, what="validation on the worker")

    page = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="count-new">2<' in page
    assert 'data-testid="count-invalid">1<' in page
    report = b"".join(client.get(reverse("imports:import-errors", args=[job.pk])).streaming_content).decode()
    assert report.startswith("\ufeff")
    assert "\r\n4," in report

    client.post(reverse("imports:import-commit", args=[job.pk]), {"accept_partial": "on", "confirm_partial": "on"})
    wait_for(lambda: _job_status(job) == ImportJob.Status.COMMITTED, what="commit on the worker")
    assert (job.rows_created, job.rows_rejected, job.accept_partial) == (2, 1, True)
    assert set(Customer.objects.values_list("customer_no", flat=True)) == {"C800000001", "C800000002"}
    listing = client.get(reverse("customers:customer-list")).content.decode()
    assert "C800000001" in listing

    client.post(reverse("imports:import-revert", args=[job.pk]), {"confirm": "on"})
    wait_for(lambda: _job_status(job) == ImportJob.Status.REVERTED, what="revert on the worker")
    assert job.reverted_by == org["ops1"]
    assert not Customer.objects.exists()
    assert list(AuditEntry.objects.filter(action=AuditEntry.Action.IMPORT, object_id=str(job.pk))
                .values_list("detail__step", flat=True).order_by("id"))[-1] == "revert"
