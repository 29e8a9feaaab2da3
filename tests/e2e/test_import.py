"""ops1 imports customers in a Chinese browser: uploads a file with an error, watches the progress bar turn into
the preview, reads the error, uploads the corrected file, commits, and finds the new customers in the list.
Then the same pages in English. Screenshots of each page go to var/screenshots/."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from customers.models import Customer
from reports.models import ImportJob

from ..reports.importing import HEADER_ZH, csv_bytes, resident_id
from ..workers import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.worker]

# Where the screenshots go (var/screenshots like the other browser tests; SCREENSHOT_DIR overrides it).
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "var/screenshots"))

GOOD = [
    ["C700000001", "陈晓明", resident_id("11010819880303345"), "13612345678", "BJ01", "E1001"],
    ["C700000002", "刘美华", resident_id("11010819910404456"), "13512345678", "BJ02", "E1002"],
]


def _broken_id() -> str:
    good = resident_id("11010819790707567")
    return good[:-1] + ("1" if good[-1] != "1" else "2")


@pytest.fixture
def worker_later(roles, shared_media):
    """A worker started when the test says so, so the page is seen before the job is picked up."""
    started = []

    def start() -> Worker:
        started.append(Worker().start())
        return started[0]

    yield start
    for running in started:
        running.stop()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _expect_panel(page, testid: str) -> None:
    """Wait for the worker's outcome to show; on a timeout, say where the imports stand."""
    try:
        expect(page.get_by_test_id(testid)).to_be_visible(timeout=60_000)
    except AssertionError as exc:
        states = list(ImportJob.objects.order_by("pk").values_list("pk", "status", "file_error"))
        raise AssertionError(f"{testid} did not appear; imports: {states}") from exc


def _upload(page, live_server, path: Path) -> None:
    page.goto(f"{live_server.url}/imports/new/")
    form = page.get_by_test_id("import-form")
    form.locator("input[name=kind][value=customers]").check()
    form.locator("input[name=mode][value=create]").check()
    form.locator("input[name=upload]").set_input_files(str(path))
    page.get_by_test_id("import-submit").click()


def test_ops1_fixes_a_file_with_an_error_commits_it_and_sees_the_customers(page, live_server, sign_in, org,
                                                                          worker_later, shared_media):
    broken = shared_media / "客户导入.csv"
    broken.write_bytes(csv_bytes([HEADER_ZH, *GOOD, ["C700000003", "赵国强", _broken_id(), "13412345678",
                                                      "BJ01", "E1001"]], encoding="gb18030"))
    fixed = shared_media / "客户导入-修正.csv"
    fixed.write_bytes(csv_bytes([HEADER_ZH, *GOOD, ["C700000003", "赵国强", resident_id("11010819790707567"),
                                                     "13412345678", "BJ01", "E1001"]], encoding="gb18030"))

    sign_in("ops1")
    expect(page).to_have_url(re.compile(r"/imports/$"))
    expect(page.get_by_test_id("main-nav").locator("a[href='/imports/']")).to_have_attribute("aria-current", "page")
    _shot(page, "import-list-empty-zh")
    page.get_by_test_id("import-new").click()
    expect(page).to_have_url(re.compile(r"/imports/new/$"))
    _shot(page, "import-form-zh")

    page.get_by_test_id("import-submit").click()  # nothing chosen: the form says what is missing
    expect(page.get_by_test_id("error-upload")).to_be_visible()
    expect(page.get_by_test_id("error-kind")).to_be_visible()
    _shot(page, "import-form-errors-zh")

    _upload(page, live_server, broken)
    expect(page).to_have_url(re.compile(r"/imports/\d+/$"))
    job = ImportJob.objects.get()
    progress = page.get_by_test_id("import-progress")
    expect(progress).to_be_visible()  # queued: no worker yet
    _shot(page, "import-progress-zh")

    worker_later()
    # The page polls by itself: the progress bar gives way to the preview without a reload.
    _expect_panel(page, "import-preview")
    expect(progress).to_have_count(0)
    expect(page.get_by_test_id("count-new")).to_have_text("2")
    expect(page.get_by_test_id("count-invalid")).to_have_text("1")
    expect(page.get_by_test_id("encoding-used")).to_have_text("GB18030")
    errors = page.get_by_test_id("import-errors")
    expect(errors).to_contain_text("4")
    expect(errors).to_contain_text(re.compile("证件号码|ID number"))
    expect(page.get_by_test_id("commit-all")).to_be_disabled()
    _shot(page, "import-preview-errors-zh")

    with page.expect_download() as download:
        page.get_by_test_id("import-error-download").first.click()
    report = Path(download.value.path()).read_bytes()
    assert report.startswith("\ufeff".encode())
    assert b"\r\n4," in report

    _upload(page, live_server, fixed)
    _expect_panel(page, "import-preview")
    expect(page.get_by_test_id("count-new")).to_have_text("3")
    expect(page.get_by_test_id("count-invalid")).to_have_text("0")
    expect(page.get_by_test_id("import-errors")).to_have_count(0)
    _shot(page, "import-preview-clean-zh")
    page.get_by_test_id("commit-all").click()

    _expect_panel(page, "import-result")
    expect(page.get_by_test_id("count-created")).to_have_text("3")
    expect(page.get_by_test_id("import-revert-form")).to_be_visible()
    _shot(page, "import-committed-zh")
    fixed_job = ImportJob.objects.exclude(pk=job.pk).get()
    assert (fixed_job.status, fixed_job.rows_created, fixed_job.accept_partial) == ("committed", 3, False)

    page.get_by_test_id("import-customers-link").click()
    table = page.get_by_test_id("customer-table")
    for number in ("C700000001", "C700000002", "C700000003"):  # names are masked for operations staff
        expect(table).to_contain_text(number)
    assert Customer.objects.filter(customer_no__startswith="C7").count() == 3

    not_a_table = shared_media / "照片.png"
    not_a_table.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    _upload(page, live_server, not_a_table)
    _expect_panel(page, "import-file-error")
    rejected = ImportJob.objects.get(original_name="照片.png")
    _shot(page, "import-rejected-zh")

    page.goto(f"{live_server.url}/imports/")
    expect(page.get_by_test_id("import-row")).to_have_count(3)
    _shot(page, "import-list-zh")

    # The same pages in English.
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("import-table")).to_contain_text("Committed")
    _shot(page, "import-list-en")
    page.goto(f"{live_server.url}/imports/new/")
    _shot(page, "import-form-en")
    page.goto(f"{live_server.url}{job.get_absolute_url()}")
    expect(page.get_by_test_id("import-errors")).to_be_visible()
    _shot(page, "import-preview-errors-en")
    page.goto(f"{live_server.url}{fixed_job.get_absolute_url()}")
    expect(page.get_by_test_id("import-result")).to_be_visible()
    _shot(page, "import-committed-en")
    page.goto(f"{live_server.url}{rejected.get_absolute_url()}")
    expect(page.get_by_test_id("import-file-error")).to_be_visible()
    _shot(page, "import-rejected-en")

    # Revert, from the English page: the browser will not send it before the box is ticked.
    page.goto(f"{live_server.url}{fixed_job.get_absolute_url()}")
    page.get_by_test_id("import-revert").click()
    confirm = page.get_by_test_id("import-revert-form").locator("input[name=confirm]")
    expect(confirm).to_have_js_property("validity.valueMissing", True)
    assert Customer.objects.filter(customer_no__startswith="C7").count() == 3
    confirm.check()
    page.get_by_test_id("import-revert").click()
    # The worker reverts in the background; the page says so and polls until it is done.
    expect(page.locator(".messages")).to_contain_text("is being reverted")
    _expect_panel(page, "import-reverted-note")
    expect(page.get_by_test_id("import-status")).to_have_text("Reverted")
    assert not Customer.objects.filter(customer_no__startswith="C7").exists()
    _shot(page, "import-reverted-en")

    running = ImportJob.objects.create(kind="customers", mode="upsert", created_by=org["ops1"],
                                       branch=org["ops1"].branch, original_name="核心系统客户.csv",
                                       status=ImportJob.Status.VALIDATING, rows_total=200_000, rows_done=60_000)
    page.goto(f"{live_server.url}{running.get_absolute_url()}")
    expect(page.get_by_test_id("import-rows-done")).to_contain_text("60,000")
    _shot(page, "import-progress-en")


@pytest.fixture
def checking(org):
    """A large import half-way through its check (no worker: it stays so while the page polls)."""
    return ImportJob.objects.create(kind="customers", mode="upsert", created_by=org["ops1"],
                                    branch=org["ops1"].branch, original_name="核心系统客户.csv",
                                    status=ImportJob.Status.VALIDATING, rows_total=200_000, rows_done=60_000)


def test_a_poll_that_fails_says_so_once_and_stops_polling(page, live_server, sign_in, checking):
    sign_in("ops1")
    page.goto(f"{live_server.url}{checking.get_absolute_url()}")
    panel = page.locator("#import-status")
    expect(panel).to_have_attribute("data-polling", "true")
    ImportJob.objects.filter(pk=checking.pk).update(rows_done=120_000)
    expect(page.get_by_test_id("import-rows-done")).to_contain_text("120,000")

    checking.delete()  # the next poll answers 404
    expect(panel.locator(".alert-danger")).to_have_count(1)
    expect(panel).not_to_have_attribute("data-polling", "true")
    page.wait_for_timeout(2500)
    expect(page.locator(".alert-danger")).to_have_count(1)


def test_a_session_that_ends_while_polling_shows_the_sign_in_page(page, live_server, sign_in, checking):
    sign_in("ops1")
    page.goto(f"{live_server.url}{checking.get_absolute_url()}")
    expect(page.locator("#import-status")).to_have_attribute("data-polling", "true")
    page.context.clear_cookies()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.locator("#import-status")).to_have_count(0)
