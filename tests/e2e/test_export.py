"""ops1 filters the customer list, opens the Export menu and downloads the filtered list as CSV, then asks for
it as XLSX: the export's page follows the real worker writing it and offers the file (in both languages)."""

import csv
import io
import re

import openpyxl
import pytest
from playwright.sync_api import expect

from customers import services as customer_services
from customers.models import Customer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.worker]


@pytest.fixture
def book(org):
    for number, name in (("C9000000071", "王秀英"), ("C9000000072", "李建国")):
        customer_services.customer_create(
            actor=org["rm1"], personal={"id_number": "11010519491231002X"} if number.endswith("71") else {},
            data={"customer_no": number, "kind": "individual", "name": name, "home_branch": org["rm1"].branch,
                  "primary_rm": org["rm1"], "id_type": "resident_id" if number.endswith("71") else ""})
    Customer.objects.filter(customer_no="C9000000071").update(tier="wealth")


@pytest.mark.parametrize(("language", "button", "ready"), [
    ("en", "Download customers.xlsx", "The file is ready"),
    ("zh-CN", "下载 customers.xlsx", "文件已就绪"),
])
def test_ops1_downloads_the_filtered_list_as_csv_and_xlsx(page, live_server, sign_in, book, media_worker, language,
                                                          button, ready):
    sign_in("ops1")
    page.goto(f"{live_server.url}/customers/?tier=wealth")
    if language == "en":  # the browser is Chinese; the page's own switcher changes the language
        page.get_by_role("button", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("customer-table")).to_contain_text("C9000000071")

    page.get_by_test_id("export-menu").get_by_role("button").first.click()
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("CSV")).first.click()
    with open(download.value.path(), "rb") as file:  # noqa: PTH123
        body = file.read()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert [row[0] for row in rows[1:]] == ["C9000000071"]  # the filter came along
    assert rows[1][9] == "110***********002X"  # masked

    page.get_by_test_id("export-menu").get_by_role("button").first.click()
    page.get_by_role("button", name=re.compile("XLSX")).first.click()
    expect(page).to_have_url(re.compile(r"/exports/\d+/$"))
    expect(page.get_by_test_id("export-panel")).to_contain_text(ready, timeout=30_000)
    expect(page.get_by_test_id("export-filters")).to_contain_text("tier=wealth")
    with page.expect_download() as download:
        page.get_by_role("link", name=button).click()
    assert download.value.suggested_filename == "customers.xlsx"
    with open(download.value.path(), "rb") as file:  # noqa: PTH123 - Playwright's temporary file has no suffix
        sheet = openpyxl.load_workbook(io.BytesIO(file.read())).worksheets[0]
    assert sheet.cell(row=1, column=1).value == ("客户号" if language == "zh-CN" else "customer number")
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["C9000000071"]
    page.screenshot(path=f"var/screenshots/export-ready-{language}.png", full_page=True)
