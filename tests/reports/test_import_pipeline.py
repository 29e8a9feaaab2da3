"""The import pipeline end to end in the test's process (the tasks' work, called directly): files as operations
receive them, every bad input of issue 5, atomicity, idempotence, revert, scope and the audit trail."""

import base64
import datetime as dt
import io
import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from crm_site import crypto
from crm_site.importing import pipeline
from customers.models import Account, Customer, Product, Transaction
from customers.resources import fast_phone, fast_resident_id
from org.models import AuditEntry, Branch
from reports import imports
from reports.models import ImportJob, ImportRowError

from .importing import HEADER_EN, HEADER_ZH, commit, csv_bytes, resident_id, revert, run, start, upload

pytestmark = pytest.mark.django_db

ID_A = resident_id("11010819900101123")
ID_B = resident_id("11010819850307002")
ID_X = next(resident_id(f"110108198001010{n:02d}") for n in range(100)
            if resident_id(f"110108198001010{n:02d}").endswith("X"))


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _customer_rows(*extra: list[str], header=HEADER_ZH) -> list[list[str]]:
    return [header, ["C900000001", "张三", ID_A, "13812345678", "BJ01", "E1001"],
            ["C900000002", "李四", ID_B, "13912345678", "BJ02", "rm2"], *extra]


def _errors(job: ImportJob) -> list[tuple]:
    return list(imports.import_error_rows(job=job))


# ------------------------------------------------------------------------------------------------
# Real files.

def test_ops_imports_a_utf8_file_with_chinese_headers_and_personal_data_is_sealed(org):
    job = run(org["ops1"], csv_bytes(_customer_rows()))
    assert (job.status, job.rows_created, job.rows_updated, job.rows_rejected) == ("committed", 2, 0, 0)
    assert job.encoding_detected == job.encoding_used == "utf-8"
    zhang = Customer.objects.get(customer_no="C900000001")
    assert zhang.name == "张三"
    assert (zhang.name_pinyin, zhang.name_initials) == ("zhangsan", "zs")
    assert zhang.home_branch.code == "BJ01"
    assert zhang.primary_rm == org["rm1"]
    assert crypto.decrypt(zhang.id_number_enc) == ID_A
    assert zhang.id_number_masked == ID_A[:3] + "*" * 11 + ID_A[-4:]
    assert zhang.id_number_bidx == crypto.blind_index("id", ID_A)
    assert crypto.decrypt(zhang.phone_enc) == "+8613812345678"
    assert zhang.phone_masked == "138****5678"
    assert zhang.birth_date == dt.date(1990, 1, 1)
    assert zhang.gender == "M"  # the 17th digit (3) is odd
    assert Customer.objects.get(customer_no="C900000002").primary_rm == org["rm2"]


def test_rows_are_stamped_with_the_time_of_the_commit_not_of_the_check(org):
    job = start(org["ops1"], csv_bytes(_customer_rows()), mode="upsert")
    commit(job, org["ops1"])
    job.refresh_from_db()
    created = set(Customer.objects.values_list("created_at", flat=True))
    assert len(created) == 1  # one time for the whole statement
    assert job.validated_at < created.pop() <= job.committed_at

    update = start(org["ops1"], csv_bytes([["客户号", "职业"], ["C900000001", "律师"]]), mode="update")
    commit(update, org["ops1"])
    update.refresh_from_db()
    zhang = Customer.objects.get(customer_no="C900000001")
    assert update.validated_at < zhang.updated_at <= update.committed_at
    assert zhang.created_at < update.validated_at  # an update keeps the creation time


def test_commit_writes_one_summary_audit_entry_and_no_entry_per_row(org):
    before = AuditEntry.objects.count()
    job = run(org["ops1"], csv_bytes(_customer_rows()))
    entries = AuditEntry.objects.filter(pk__gt=0).order_by("id")[before:]
    assert not [e for e in entries if e.object_type == "customers.customer"]
    summary = AuditEntry.objects.get(action="import", object_type="reports.importjob", object_id=str(job.pk),
                                     detail__created=2)
    assert summary.actor_username == "ops1"
    assert summary.detail["kind"] == "customers"
    assert summary.detail["sha256"] == job.sha256


def test_an_ordinary_change_is_still_audited_row_by_row_after_an_import(org):
    run(org["ops1"], csv_bytes(_customer_rows()))
    Customer.objects.filter(customer_no="C900000001").update(occupation="教师")
    assert AuditEntry.objects.filter(object_type="customers.customer", action="update",
                                     fields__contains=["occupation"]).exists()


def test_gb18030_file_with_chinese_headers_is_detected_and_read(org):
    job = run(org["ops1"], csv_bytes(_customer_rows(), encoding="gb18030"))
    assert (job.encoding_detected, job.encoding_used) == ("gb18030", "gb18030")
    assert Customer.objects.get(customer_no="C900000002").name == "李四"


def test_utf8_with_bom_and_english_headers(org):
    job = run(org["ops1"], b"\xef\xbb\xbf" + csv_bytes(_customer_rows(header=HEADER_EN)))
    assert job.encoding_used == "utf-8-sig"
    assert job.columns[0] == ["customer number", "customer_no"]
    assert Customer.objects.filter(customer_no__in=["C900000001", "C900000002"]).count() == 2


def test_a_gb18030_file_read_as_utf8_on_request_is_rejected_with_a_clear_message(org):
    job = start(org["ops1"], csv_bytes(_customer_rows(), encoding="gb18030"), encoding="utf-8")
    assert job.status == "rejected"
    assert "cannot be read as UTF-8" in job.file_error
    assert not Customer.objects.filter(customer_no__startswith="C9").exists()
    rerun = imports.import_rerun(job=job, actor=org["ops1"], encoding="gb18030")
    pipeline.validate(rerun.pk)
    rerun.refresh_from_db()
    assert (rerun.status, rerun.count_new, rerun.rerun_of_id) == ("validated", 2, job.pk)


def test_x_suffixed_ids_leading_zero_accounts_and_19_digit_numbers_survive_an_xlsx(org):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["客户号", "姓名", "证件号码", "手机号", "所属网点"])
    sheet.append([900000003, "王五", ID_X.lower(), 13700001111, "BJ01"])  # a number cell and a lower-case x
    content = io.BytesIO()
    book.save(content)
    run(org["ops1"], content.getvalue(), name="customers.xlsx")
    wang = Customer.objects.get(customer_no="900000003")
    assert crypto.decrypt(wang.id_number_enc) == ID_X

    Product.objects.create(code="TD12", name="一年期定期存款", category="time_deposit")
    book = Workbook()
    sheet = book.active
    sheet.append(["账号", "客户号", "产品代码", "余额", "开户日期", "到期日"])
    sheet.append(["0013990000000000123", "900000003", "TD12", "1,234,567.89", "2024/3/5", "2025年3月5日"])
    content = io.BytesIO()
    book.save(content)
    job = run(org["ops1"], content.getvalue(), name="accounts.xlsx", kind="accounts")
    assert job.rows_created == 1
    account = Account.objects.get(customer=wang)
    assert account.number == "0013990000000000123"
    assert account.balance == Decimal("1234567.89")
    assert (account.opened_on, account.matures_on) == (dt.date(2024, 3, 5), dt.date(2025, 3, 5))
    wang.refresh_from_db()
    assert wang.aum == Decimal("1234567.89")  # recomputed in the commit's transaction
    assert wang.tier == "affluent"


# ------------------------------------------------------------------------------------------------
# File-level problems: a clear message, nothing written.

@pytest.mark.parametrize(("content", "message"), [
    (csv_bytes([["客户号", "姓名", "证件号码"], ["C1", "张三", ""]]), "Required columns are missing: 所属网点"),
    (csv_bytes([[*HEADER_ZH, "星座"], ["C1", "张三", "", "", "BJ01", "", "白羊"]]), "Unknown columns: 星座"),
    (csv_bytes([HEADER_ZH]), "a header but no rows"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "is not a CSV or XLSX file"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "is not a CSV or XLSX file"),
    (b"PK\x03\x04" + b"not really a workbook", "cannot be opened as a workbook"),
    (csv_bytes([["客户号", "客户编号", "姓名", "所属网点"], ["C1", "C1", "张三", "BJ01"]]), "both mean 客户号"),
])
def test_file_level_problems_reject_the_whole_file(org, content, message):
    job = start(org["ops1"], content)
    assert job.status == "rejected"
    assert message in job.file_error
    assert not Customer.objects.filter(customer_no__in=["C1", "C900000001"]).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [job.stage_table])
        assert cursor.fetchone()[0] is None


def test_an_empty_file_is_refused_at_once(org):
    job = imports.import_start(actor=org["ops1"], upload=upload(b""), kind="customers", mode="create")
    assert (job.status, job.file_error) == ("rejected", "The file is empty: it holds no header and no rows.")


def test_a_file_over_the_size_limit_is_refused_and_not_stored(org, settings):
    settings.IMPORT_MAX_FILE_BYTES = 100
    job = imports.import_start(actor=org["ops1"], upload=upload(csv_bytes(_customer_rows())), kind="customers",
                               mode="create")
    assert job.status == "rejected"
    assert job.file_error == ("The file is 187\xa0bytes; at most 100\xa0bytes can be imported at once. "
                              "Split it.")
    assert not job.file
    assert not Customer.objects.exists()


# ------------------------------------------------------------------------------------------------
# Row-level problems: named by row and column, values masked, nothing written unless chosen.

def test_each_bad_row_is_reported_with_row_column_and_a_masked_value(org):
    bad_id = ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1")
    rows = _customer_rows(
        ["C900000003", "王五", bad_id, "13712345678", "BJ01", ""],
        ["C900000004", "赵六", "", "13712345679", "XX99", ""],
        ["C900000005", "钱七", "", "13712345670", "BJ01", "E9999"],
        ["C900000006", "孙八", "", "13712345671", "SH01", ""],
        ["C900000001", "张三", "", "", "BJ01", ""],
        ["C900000007", "=HYPERLINK(\"http://x\")", "", "", "BJ01", ""],
        ["C900000008", "周九", "", "12345", "BJ01", ""],
    )
    job = start(org["ops1"], csv_bytes(rows))
    assert job.status == "validated"
    assert (job.count_new, job.count_invalid) == (2, 7)
    report = _errors(job)
    assert [(row, column) for row, column, _v, _m in report] == [
        (4, "证件号码"), (5, "所属网点"), (6, "客户经理"), (7, "所属网点"), (8, "客户号"), (9, "客户名称"),
        (10, "手机号")]
    messages = {row: message for row, _c, _v, message in report}
    assert "check digit is wrong" in messages[4]
    assert "Unknown branch code “XX99”" in messages[5]
    assert "Unknown relationship manager “E9999”" in messages[6]
    assert "outside the branches you serve" in messages[7]
    assert "same key as row 2" in messages[8]
    assert "formula" in messages[9]
    assert "phone" in messages[10]
    assert report[0][2] == bad_id[:3] + "*" * 11 + bad_id[-4:]  # an ID is never shown whole
    assert job.first_errors[0]["row"] == 4
    with pytest.raises(ValidationError, match="7 rows are invalid"):
        imports.import_commit(job=job, actor=org["ops1"])
    assert not Customer.objects.filter(customer_no__startswith="C9").exists()


def test_an_error_on_the_last_row_writes_nothing_and_valid_rows_only_is_a_recorded_choice(org):
    rows = _customer_rows(["C900000003", "王五", "", "13812345678", "BJ01", "nobody"])
    job = start(org["ops1"], csv_bytes(rows))
    assert (job.count_new, job.count_invalid) == (2, 1)
    with pytest.raises(ValidationError):
        imports.import_commit(job=job, actor=org["ops1"])
    assert not Customer.objects.filter(customer_no__startswith="C9").exists()
    job = commit(job, org["ops1"], accept_partial=True)
    assert (job.status, job.accept_partial, job.rows_created, job.rows_rejected) == ("committed", True, 2, 1)
    assert set(Customer.objects.filter(customer_no__startswith="C9").values_list("customer_no", flat=True)) == {
        "C900000001", "C900000002"}
    assert AuditEntry.objects.get(action="import", object_id=str(job.pk), detail__created=2).detail[
        "accept_partial"] is True


def test_amounts_that_are_not_numbers_are_row_errors(org):
    run(org["ops1"], csv_bytes(_customer_rows()))
    Product.objects.create(code="DD01", name="活期", category="deposit")
    rows = [["账号", "客户号", "产品代码", "余额", "开户日期"],
            ["6212990000000000001", "C900000001", "DD01", "12a.5", "2024-01-02"],
            ["6212990000000000002", "C900000001", "DD01", "100.505", "2024-01-02"],
            ["6212990000000000003", "C900000404", "DD01", "1", "2024-01-02"]]
    job = start(org["ops1"], csv_bytes(rows), kind="accounts")
    messages = [message for _r, _c, _v, message in _errors(job)]
    assert messages == ["Not an amount (write 1234.56 or 1,234.56).", "At most two decimal places.",
                        "No customer “C900000404” on file."]
    assert not Account.objects.exists()


# ------------------------------------------------------------------------------------------------
# Modes, idempotence, revert.

def test_the_same_file_twice_in_upsert_mode_changes_nothing_the_second_time(org):
    content = csv_bytes(_customer_rows())
    first = run(org["ops1"], content, mode="upsert")
    assert first.rows_created == 2
    stamps = dict(Customer.objects.values_list("customer_no", "updated_at"))
    again = start(org["ops1"], content, mode="upsert")
    assert (again.count_new, again.count_changed, again.count_unchanged, again.count_invalid) == (0, 0, 2, 0)
    with pytest.raises(ValidationError, match="Nothing to write"):
        imports.import_commit(job=again, actor=org["ops1"])
    assert dict(Customer.objects.values_list("customer_no", "updated_at")) == stamps


def test_update_changes_only_the_files_columns_and_revert_restores_them(org):
    run(org["ops1"], csv_bytes(_customer_rows()))
    zhang = Customer.objects.get(customer_no="C900000001")
    old_phone, old_id = zhang.phone_enc, zhang.id_number_enc
    update = csv_bytes([["客户号", "手机号", "职业"], ["C900000001", "13600000000", "律师"],
                        ["C900000002", "13912345678", ""]])
    job = run(org["ops1"], update, mode="update")
    assert (job.rows_updated, job.rows_unchanged) == (1, 1)  # 李四's phone is the one on file
    zhang.refresh_from_db()
    assert (crypto.decrypt(zhang.phone_enc), zhang.occupation) == ("+8613600000000", "律师")
    assert zhang.id_number_enc == old_id  # not in the file: untouched
    li = Customer.objects.get(customer_no="C900000002")
    assert crypto.decrypt(li.phone_enc) == "+8613912345678"
    revert(job, org["ops1"])
    zhang.refresh_from_db()
    assert (zhang.phone_enc, zhang.occupation) == (old_phone, "")
    job.refresh_from_db()
    assert (job.status, job.reverted_by) == ("reverted", org["ops1"])


def test_revert_of_a_create_removes_exactly_its_rows_and_is_audited(org):
    job = run(org["ops1"], csv_bytes(_customer_rows()))
    other = Customer.objects.create(customer_no="C1", name="留下", home_branch=org["rm1"].branch)
    revert(job, org["ops1"])
    assert list(Customer.objects.filter(customer_no__startswith="C").values_list("pk", flat=True)) == [other.pk]
    entry = AuditEntry.objects.get(action="import", object_id=str(job.pk), detail__step="revert")
    assert (entry.detail["removed"], entry.detail["restored"]) == (2, 0)
    with pytest.raises(ValidationError, match="Only a committed import"):
        imports.import_revert(job=job, actor=org["ops1"])


def test_revert_waits_for_its_task_and_a_second_delivery_changes_nothing(org):
    job = run(org["ops1"], csv_bytes(_customer_rows()))
    asked = imports.import_revert(job=job, actor=org["ops1"])
    # Until the task runs (or after a worker was killed mid-revert) the rows are all there, the job "reverting".
    assert (asked.status, asked.reverted_by, asked.reverted_at) == ("reverting", org["ops1"], None)
    assert Customer.objects.filter(customer_no__startswith="C9").count() == 2
    assert imports.import_revert(job=job, actor=org["ops1"]).status == "reverting"  # a second click: no-op
    pipeline.revert_job(job.pk)
    reverted = ImportJob.objects.get(pk=job.pk)
    assert reverted.status == "reverted"
    unrelated = Customer.objects.create(customer_no="C2", name="后来的", home_branch=org["rm1"].branch)
    pipeline.revert_job(job.pk)  # the message delivered again (worker lost before the ack)
    again = ImportJob.objects.get(pk=job.pk)
    assert (again.status, again.reverted_at) == ("reverted", reverted.reverted_at)
    assert list(Customer.objects.filter(customer_no__startswith="C").values_list("pk", flat=True)) == [unrelated.pk]
    assert AuditEntry.objects.filter(action="import", object_id=str(job.pk), detail__step="revert").count() == 1


def test_a_revert_refused_by_later_data_leaves_the_import_committed_and_says_why(org):
    job = run(org["ops1"], csv_bytes(_customer_rows()))
    zhang = Customer.objects.get(customer_no="C900000001")
    product = Product.objects.create(code="DD01", name="活期", category="deposit")
    Account.objects.create(customer=zhang, product=product, number="6222000011112222", balance=Decimal("5000"),
                           opened_on=dt.date(2020, 1, 1))
    job = revert(job, org["ops1"])
    assert (job.status, job.reverted_by) == ("committed", None)
    assert "used by later data" in job.revert_error
    assert Customer.objects.filter(customer_no__startswith="C9").count() == 2
    assert not AuditEntry.objects.filter(action="import", object_id=str(job.pk), detail__step="revert").exists()


def test_revert_is_refused_after_the_window(org, settings):
    job = run(org["ops1"], csv_bytes(_customer_rows()))
    ImportJob.objects.filter(pk=job.pk).update(committed_at=timezone.now() - dt.timedelta(days=8))
    with pytest.raises(ValidationError, match="more than 7 days ago"):
        imports.import_revert(job=job, actor=org["ops1"])
    assert Customer.objects.filter(customer_no__startswith="C9").count() == 2


def test_create_mode_refuses_existing_rows_and_update_mode_refuses_new_ones(org):
    run(org["ops1"], csv_bytes(_customer_rows()))
    job = start(org["ops1"], csv_bytes(_customer_rows(["C900000003", "王五", "", "", "BJ01", ""])))
    assert (job.count_new, job.count_invalid) == (1, 2)
    assert "create-only" in _errors(job)[0][3]
    job = start(org["ops1"], csv_bytes([["客户号", "职业"], ["C900000404", "教师"]]), mode="update")
    assert "update-only" in _errors(job)[0][3]


def test_a_commit_delivered_twice_writes_once(org):
    job = start(org["ops1"], csv_bytes(_customer_rows()))
    job = commit(job, org["ops1"])
    again = pipeline.commit(job.pk)
    assert again.status == "committed"
    assert Customer.objects.filter(customer_no__startswith="C9").count() == 2
    assert imports.import_commit(job=job, actor=org["ops1"]).status == "committed"  # a second click


def test_a_validation_delivered_again_starts_over_without_duplicating_errors(org):
    job = start(org["ops1"], csv_bytes(_customer_rows(["C900000001", "重复", "", "", "BJ01", ""])))
    ImportJob.objects.filter(pk=job.pk).update(status="validating")  # as a killed worker leaves it
    pipeline.validate(job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.count_new, job.count_invalid) == ("validated", 2, 2, 1)
    assert ImportRowError.objects.filter(job=job).count() == 1
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {job.stage_table}")  # noqa: S608
        assert cursor.fetchone()[0] == 2


# ------------------------------------------------------------------------------------------------
# Scope and permissions.

def test_an_operator_cannot_change_customers_outside_their_branches(org):
    shanghai = Customer.objects.create(customer_no="S1", name="沪客", home_branch=Branch.objects.get(code="SH01"))
    job = start(org["ops1"], csv_bytes([["客户号", "职业"], ["S1", "教师"]]), mode="update")
    assert job.count_invalid == 1
    assert "outside the ones you serve" in _errors(job)[0][3]
    shanghai.refresh_from_db()
    assert shanghai.occupation == ""


def test_relationship_managers_may_not_import(org):
    assert imports.importable_kinds(org["rm1"]) == []
    assert [kind for kind, _label in imports.importable_kinds(org["ops1"])] == [
        "customers", "accounts", "transactions", "leads"]
    with pytest.raises(PermissionDenied):
        imports.import_start(actor=org["rm1"], upload=upload(csv_bytes(_customer_rows())), kind="customers",
                             mode="create")
    assert not ImportJob.objects.exists()


def test_history_is_scoped_to_the_importers_branch_subtree(org):
    from reports.selectors import import_jobs_visible

    job = start(org["ops1"], csv_bytes(_customer_rows()))
    assert list(import_jobs_visible(user=org["admin"])) == [job]
    assert list(import_jobs_visible(user=org["ops1"])) == [job]
    assert list(import_jobs_visible(user=org["manager1"])) == []  # BJ01 is below BJ, not above it


# ------------------------------------------------------------------------------------------------
# Transactions, fast paths, retention.

def test_transactions_import_with_chinese_directions_and_a_rerun_adds_nothing(org):
    run(org["ops1"], csv_bytes(_customer_rows()))
    Product.objects.create(code="DD01", name="活期", category="deposit")
    run(org["ops1"], csv_bytes([["账号", "客户号", "产品代码", "开户日期"],
                                ["6212990000000000001", "C900000001", "DD01", "2024-01-02"]]), kind="accounts")
    rows = csv_bytes([["账号", "交易时间", "金额", "收支方向", "渠道", "摘要"],
                      ["6212990000000000001", "2024-05-01 09:30:00", "1,500.00", "收入", "柜面", "工资"],
                      ["6212990000000000001", "2024/5/2 10:00", "88", "支出", "mobile", "超市"]])
    job = run(org["ops1"], rows, kind="transactions", mode="upsert")
    assert job.rows_created == 2
    first = Transaction.objects.order_by("occurred_at").first()
    assert (first.amount, first.direction, first.channel) == (Decimal("1500.00"), "credit", "counter")
    assert first.customer.customer_no == "C900000001"
    again = start(org["ops1"], rows, kind="transactions", mode="upsert")
    assert (again.count_new, again.count_unchanged) == (0, 2)


@pytest.mark.parametrize("number", ["13812345678", "+86 138 1234 5678", "14012345678", "17400012345",
                                    "17406012345", "16101234567", "19212345678", "010-12345678"])
def test_the_fast_phone_check_agrees_with_the_library(number):
    from customers import pii

    try:
        expected = pii.normalise_phone(number)
    except ValidationError:
        expected = None
    try:
        got = fast_phone(number)
    except ValidationError:
        got = None
    assert got == expected


def test_the_fast_resident_id_check_agrees_with_the_library():
    from customers import pii

    for candidate in [ID_A, ID_B, ID_X, ID_A[:-1] + "0", "110108199002301234", "999999199001011234",
                      "11010819900101123", "310115198001010011"]:
        try:
            expected = pii.normalise_id_number("resident_id", candidate)
        except ValidationError as exc:
            expected = exc.messages
        try:
            got = fast_resident_id(candidate)[0]
        except ValidationError as exc:
            got = exc.messages
        assert got == expected, candidate


def test_retention_deletes_old_files_and_working_tables(org):
    job = run(org["ops1"], csv_bytes(_customer_rows()))
    path = job.file.path
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(days=31))
    assert imports.import_files_purge() == 1
    job.refresh_from_db()
    assert not job.file
    assert job.file_purged_at
    assert not Path(path).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [job.stage_table])
        assert cursor.fetchone()[0] is None
    with pytest.raises(ValidationError, match="deleted with its file"):
        imports.import_revert(job=job, actor=org["ops1"])


def test_the_bulk_sealer_seals_as_pii_seal_does(settings):
    from customers import pii
    from customers.resources import BLIND_KINDS, MASKS

    encrypt, index = crypto.bulk_sealer()
    for field, value in (("id_number", ID_X), ("phone", "+8613812345678"), ("email", "a@b.cn"),
                         ("address", "北京市海淀区学院路1号")):
        expected = pii.seal(field, value)
        sealed = encrypt(value)
        assert crypto.decrypt(sealed) == value
        assert crypto.key_id_of(sealed) == crypto.key_id_of(expected.enc)
        assert (index(BLIND_KINDS[field], value) if field in BLIND_KINDS else "") == expected.bidx
        assert MASKS[field](value) == expected.masked


@pytest.mark.parametrize("length", [32, 64, 65, 100])
def test_the_bulk_blind_index_is_the_hmac_the_search_computes_for_keys_of_any_length(settings, length):
    """The bulk path builds HMAC-SHA256 from the key's padded states; a key longer than SHA-256's block (64 bytes)
    is hashed first. A different value here would make imported customers unfindable by ID or phone."""
    settings.BLIND_INDEX_KEY = base64.b64encode(bytes(range(7, 7 + length))).decode()
    _encrypt, index = crypto.bulk_sealer()
    for kind, value in (("phone", "+8613812345678"), ("id", ID_X), ("id", "护照E1234567")):
        assert index(kind, value) == crypto.blind_index(kind, value)
    assert index("phone", "") == "" == crypto.blind_index("phone", "")
    assert index("phone", "+8613812345678") != index("id", "+8613812345678")


def test_the_bulk_sealer_never_reuses_a_nonce_across_its_blocks_of_random_bytes():
    """Nonces come from the OS 4,096 at a time: 10,000 seals of one value cross two blocks, and every ciphertext
    has a nonce of its own and opens to the value (a repeated AES-GCM nonce under one key would leak both)."""
    encrypt, _index = crypto.bulk_sealer()
    sealed = [encrypt("13812345678") for _n in range(10_000)]
    nonces = {base64.b64decode(token.partition(":")[2])[:crypto.NONCE_BYTES] for token in sealed}
    assert len(nonces) == 10_000
    assert {crypto.decrypt(token) for token in sealed[4090:4100]} == {"13812345678"}


def test_a_bulk_sealer_made_before_a_fork_gives_the_child_nonces_the_parent_never_uses():
    """Import shards are forked: a sealer whose pool was filled in the parent must not hand the child the same
    nonces it then hands the parent (two ciphertexts under one key and nonce leak both plaintexts)."""
    encrypt, _index = crypto.bulk_sealer()
    encrypt("warm the pool")
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(writing, "\n".join(encrypt("13812345678") for _n in range(100)).encode())
        finally:
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading) as pipe:
        child = pipe.read().split("\n")
    os.waitpid(pid, 0)
    parent = [encrypt("13812345678") for _n in range(100)]

    def nonce(token):
        return base64.b64decode(token.partition(":")[2])[:crypto.NONCE_BYTES]

    assert len(child) == 100
    assert {nonce(token) for token in child}.isdisjoint({nonce(token) for token in parent})
    assert crypto.decrypt(child[0]) == "13812345678"


def test_a_resource_missing_a_hook_is_refused_when_it_registers_not_half_way_through_a_file():
    from crm_site.importing.spec import FastImport, register, registered_kinds

    class Incomplete(FastImport):
        import_kind = "incomplete"
        natural_key = "number"
        target_table = "customers_customer"

        def clean_row(self, ctx, raw):
            return raw

    with pytest.raises(TypeError, match="existing, differs, update_columns, stage_row"):
        register(Incomplete)
    assert "incomplete" not in registered_kinds()


def test_validation_leaves_the_garbage_collector_on_even_when_a_row_breaks_it(org, monkeypatch):
    """Validation switches the cyclic collector off per chunk: a worker that kept it off would grow with every
    reference cycle it ever makes, so it must come back on after a chunk, and after an unexpected error too."""
    import gc

    from customers.resources import CustomerFastImport

    feed = csv_bytes([["客户号", "姓名", "所属网点"], ["G0001", "张三", "BJ01"]])
    assert start(org["ops1"], feed).status == ImportJob.Status.VALIDATED
    assert gc.isenabled()

    def broken(self, ctx, raw):
        raise RuntimeError("a bug in a resource")

    monkeypatch.setattr(CustomerFastImport, "clean_row", broken)
    with pytest.raises(RuntimeError):
        start(org["ops1"], feed)
    assert gc.isenabled()
    assert ImportJob.objects.order_by("-pk").first().status == ImportJob.Status.FAILED


def test_row_messages_are_written_in_the_language_the_operator_uploaded_in(org):
    """The worker runs in the site's default language; the report is stored text, so it must be written in the
    uploader's language, not the worker's (an English page once showed Chinese messages)."""
    from django.utils import translation

    feed = csv_bytes([["customer number", "name", "mobile", "branch"], ["L0001", "张三", "12345", "BJ01"]])
    jobs = {}
    for uploaded_in, worker_in in (("en", "zh-hans"), ("zh-hans", "en")):
        with translation.override(uploaded_in):
            job = imports.import_start(actor=org["ops1"], upload=upload(feed), kind="customers", mode="create")
        with translation.override(worker_in):
            pipeline.validate(job.pk)
        jobs[uploaded_in] = ImportRowError.objects.get(job=job).message
    assert jobs["en"] == "This phone number does not exist (check the digits)."
    assert jobs["zh-hans"] == "该电话号码不存在（请核对号码）。"
