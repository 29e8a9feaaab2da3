"""The customer 360° page through the client: masked profile, panels alone over htmx, relationships from both
ends, tags, closed and merged customers, a pinned query count, and create/edit validation with duplicates."""

import datetime as dt
import re
from decimal import Decimal
from urllib.parse import unquote

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers import services
from customers.models import Account, Customer, CustomerTag, Product, Segment, Tag, Transaction

pytestmark = pytest.mark.django_db

ID_NUMBER = "11010519491231002X"  # born 1949-12-31, female (17th digit even)
PHONE = "13812345678"
HTMX = {"HTTP_HX_REQUEST": "true"}


def _client(org, username):
    client = Client()
    client.force_login(org[username])
    client.cookies["django_language"] = "en"
    return client


def _create(org, number, name, *, actor="rm1", rm="rm1", personal=None, **extra):
    data = {"customer_no": number, "kind": "individual", "name": name, "home_branch": org[rm].branch,
            "primary_rm": org[rm], **extra}
    return services.customer_create(actor=org[actor], data=data, personal=personal or {})


def _account(customer, product, number, balance, *, matures_in=None):
    matures_on = timezone.localdate() + dt.timedelta(days=matures_in) if matures_in is not None else None
    account = Account.objects.create(customer=customer, product=product, number=number, balance=Decimal(balance),
                                     opened_on=dt.date(2025, 6, 1), matures_on=matures_on)
    services.customer_recalculate(customer=customer)
    return account


def _transactions(account, count, *, start=None, step=dt.timedelta(minutes=1), **fields):
    """`count` transactions, oldest first, counterparty CP0001… in time order."""
    start = start or dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    values = {"direction": "credit", "channel": "mobile", **fields}
    Transaction.objects.bulk_create(
        Transaction(account=account, customer=account.customer, occurred_at=start + n * step,
                    amount=Decimal(100 + n), counterparty=f"CP{n + 1:04d}", **values)
        for n in range(count))


def _counterparties(html):
    return re.findall(r"CP\d{4}", html)


def _panel(client, customer, key, **params):
    return client.get(reverse("customers:customer-panel", args=[customer.pk, key]), params, **HTMX)


@pytest.fixture
def products(db):
    return {
        "time_deposit": Product.objects.create(code="TD12", name="12个月定期存款",
                                               category=Product.Category.TIME_DEPOSIT),
        "deposit": Product.objects.create(code="DD01", name="活期储蓄", category=Product.Category.DEPOSIT),
        "wealth": Product.objects.create(code="WM90", name="稳健理财90天", category=Product.Category.WEALTH,
                                         risk_level=Product.RiskLevel.R2),
    }


@pytest.fixture
def wang(org, products):
    """rm1's customer 王秀英 with her real ID and phone and three holdings, one maturing in 12 days."""
    customer = _create(org, "C0000200001", "王秀英", id_type="resident_id",
                       personal={"id_number": ID_NUMBER, "phone": PHONE, "email": "wang.xiuying@example.com",
                                 "address": "北京市海淀区中关村大街27号"})
    _account(customer, products["time_deposit"], "6222020200112233445", "800000.00", matures_in=12)
    _account(customer, products["deposit"], "6222020200112233446", "52345.67")
    _account(customer, products["wealth"], "6222020200112233447", "300000.00", matures_in=90)
    customer.refresh_from_db()
    return customer


FORM_TEXT_FIELDS = (
    "customer_no", "name", "id_type", "gender", "birth_date", "occupation", "employer", "income_band",
    "source_channel", "risk_tolerance", "risk_assessed_on", "risk_expires_on", "investment_preference",
    "kyc_review_on", "last_verified_on", "id_number", "phone", "email", "address",
)


def _form(org, **values):
    """The customer form as a browser posts it: every field present, blanks for the unset ones."""
    data = dict.fromkeys(FORM_TEXT_FIELDS, "")
    data.update(kind="individual", home_branch=org["rm1"].branch_id, primary_rm=org["rm1"].pk,
                lifecycle_status="active", kyc_status="pending")
    data.update(values)
    return data


# --- profile and accounts -----------------------------------------------------------------------------------

def test_rm_sees_the_profile_with_id_and_phone_masked_and_never_in_plain(org, wang):
    response = _client(org, "rm1").get(wang.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="font-monospace" data-testid="masked-id_number">110***********002X</span>' in html
    assert '<span class="font-monospace" data-testid="masked-phone">138****5678</span>' in html
    for plaintext in (ID_NUMBER, PHONE, "+8613812345678", "wang.xiuying@example.com", "中关村大街27号"):
        assert plaintext not in html


def test_accounts_panel_shows_balances_aum_by_category_and_what_matures_within_30_days(org, wang):
    response = _panel(_client(org, "rm1"), wang, "accounts")

    html = response.content.decode()
    assert "<html" not in html
    assert html.count("<tr>") == 4  # header and three holdings
    for balance in ("CNY 800,000.00", "CNY 52,345.67", "CNY 300,000.00"):
        assert balance in html
    maturing = re.search(r'data-testid="maturing">(.*?)</div>', html, re.S).group(1)
    in_12_days = timezone.localdate() + dt.timedelta(days=12)
    assert " ".join(maturing.split()).endswith(
        f"1 holding matures within 30 days: 12个月定期存款 {in_12_days:%Y-%m-%d} (¥800,000.00)")
    assert "稳健理财90天" not in maturing
    assert wang.aum == Decimal("1152345.67")


# --- transactions -------------------------------------------------------------------------------------------

def test_transactions_panel_shows_the_newest_first(org, wang):
    account = wang.accounts.get(number="6222020200112233446")
    _transactions(account, 5, step=dt.timedelta(days=-1))  # CP0001 is the newest

    html = _client(org, "rm1").get(wang.get_absolute_url()).content.decode()

    assert _counterparties(html) == ["CP0001", "CP0002", "CP0003", "CP0004", "CP0005"]


def test_transactions_panel_over_htmx_filters_by_direction_and_channel_and_returns_only_the_panel(org, wang):
    account = wang.accounts.get(number="6222020200112233446")
    start = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    _transactions(account, 2, start=start, direction="credit", channel="counter")  # CP0001-2
    _transactions(account, 2, start=start + dt.timedelta(hours=1), direction="debit", channel="atm")
    _transactions(account, 2, start=start + dt.timedelta(hours=2), direction="debit", channel="pos")
    Transaction.objects.filter(counterparty__in=["CP0001", "CP0002"], channel="atm").update(counterparty="ATM1")
    client = _client(org, "rm1")

    debit = _panel(client, wang, "transactions", direction="debit").content.decode()
    atm = _panel(client, wang, "transactions", channel="atm").content.decode()
    debit_pos = _panel(client, wang, "transactions", direction="debit", channel="pos").content.decode()

    for html in (debit, atm, debit_pos):
        assert "<html" not in html
        assert html.startswith('\n<section class="card" id="panel-transactions"')
    assert debit.count("<td>Out</td>") == 4
    assert "<td>In</td>" not in debit
    assert atm.count("<td>ATM</td>") == 2
    assert atm.count("<td>Out</td>") == 2
    assert "Branch counter</td>" not in atm
    assert debit_pos.count("<td>Card payment</td>") == 2
    assert "<td>ATM</td>" not in debit_pos
    assert '<option value="debit" selected>' in debit_pos
    assert '<option value="pos" selected>' in debit_pos


def test_transactions_panel_pages_older_rows_by_the_before_cursor(org, wang):
    account = wang.accounts.get(number="6222020200112233446")
    _transactions(account, 25)  # CP0025 is the newest
    client = _client(org, "rm1")

    first = _panel(client, wang, "transactions").content.decode()
    before = unquote(re.search(r"rows=1&amp;before=([^&]+)&amp;", first).group(1))
    older = _panel(client, wang, "transactions", rows="1", before=before).content.decode()

    assert _counterparties(first) == [f"CP{n:04d}" for n in range(25, 5, -1)]
    assert _counterparties(older) == ["CP0005", "CP0004", "CP0003", "CP0002", "CP0001"]
    assert "<section" not in older
    assert 'id="txn-more"' not in older


def test_transactions_sharing_a_timestamp_across_the_page_boundary_are_not_lost(org, wang):
    account = wang.accounts.get(number="6222020200112233446")
    # Month-end interest postings of a feed carry one and the same time.
    _transactions(account, 30, step=dt.timedelta(0), channel="system")
    client = _client(org, "rm1")

    first = _panel(client, wang, "transactions").content.decode()
    before = unquote(re.search(r"rows=1&amp;before=([^&]+)&amp;", first).group(1))
    older = _panel(client, wang, "transactions", rows="1", before=before).content.decode()

    assert len(set(_counterparties(first)) | set(_counterparties(older))) == 30


# --- relationships ------------------------------------------------------------------------------------------

def _relationship_rows(html):
    """(label, shown name, link or None) per row of the relationships panel."""
    rows = []
    for item in re.findall(r'<li class="list-group-item d-flex justify-content-between">(.*?)</li>', html, re.S):
        label = re.search(r'<span class="badge[^"]*">([^<]*)</span>', item).group(1)
        link = re.search(r'<a href="([^"]+)">([^<]+)</a>', item)
        if link:
            rows.append((label, link.group(2).strip(), link.group(1)))
        else:
            shown = re.sub(r"<[^>]+>", " ", item.split("</span>", 1)[1]).split()
            rows.append((label, " ".join(shown), None))
    return rows


@pytest.fixture
def household(org, wang, products):
    """王秀英's spouse and parent, tied through the form on her page (both rm1's), each with savings."""
    spouse = _create(org, "C0000200002", "张建国")
    parent = _create(org, "C0000200003", "王德明")
    _account(spouse, products["deposit"], "6222020200112233450", "100000.00")
    _account(parent, products["deposit"], "6222020200112233451", "50000.00")
    client = _client(org, "rm1")
    url = reverse("customers:customer-relationship-add", args=[wang.pk])
    # The form reads "<other> is this customer's <kind>".
    assert client.post(url, {"other": "C0000200002", "kind": "spouse"}).status_code == 302
    assert client.post(url, {"other": "c0000200003 ", "kind": "parent"}).status_code == 302
    return {"spouse": spouse, "parent": parent}


def test_relationships_show_from_both_ends_with_the_inverse_label(org, wang, household):
    client = _client(org, "rm1")
    spouse, parent = household["spouse"], household["parent"]

    on_wang = _relationship_rows(_panel(client, wang, "relationships").content.decode())
    on_spouse = _relationship_rows(_panel(client, spouse, "relationships").content.decode())
    on_parent = _relationship_rows(_panel(client, parent, "relationships").content.decode())

    assert sorted(on_wang) == [("Parent", "C0000200003 王德明", parent.get_absolute_url()),
                               ("Spouse", "C0000200002 张建国", spouse.get_absolute_url())]
    assert on_spouse == [("Spouse", "C0000200001 王秀英", wang.get_absolute_url())]
    assert on_parent == [("Child", "C0000200001 王秀英", wang.get_absolute_url())]


def test_relationships_panel_shows_the_household_aum(org, wang, household):
    html = _panel(_client(org, "rm1"), wang, "relationships").content.decode()
    # 1,152,345.67 + 100,000 + 50,000
    assert '<span class="small text-muted" data-testid="household-aum">Household of 3: ¥1,302,345.67</span>' in html


def test_a_related_customer_the_viewer_may_not_see_is_masked_and_not_linked(org, wang):
    stranger = _create(org, "C0000200004", "钱伟民", actor="rm2", rm="rm2")
    services.relationship_add(customer=wang, other=stranger, kind="guarantor", actor=org["admin"])

    html = _panel(_client(org, "rm1"), wang, "relationships").content.decode()

    assert _relationship_rows(html) == [("Guarantor", "C0000200004 钱**", None)]
    assert "钱伟民" not in html
    assert stranger.get_absolute_url() not in html


# --- tags ---------------------------------------------------------------------------------------------------

def _tag_names(html):
    block = re.search(r'data-testid="customer-tags">(.*?)\n    </div>', html, re.S).group(1)
    return sorted(re.sub(r"<[^>]+>", " ", block).split())


def test_adding_a_tag_over_htmx_returns_the_panel_with_the_tag(org, wang):
    tag = Tag.objects.create(name="高净值", colour=Tag.Colour.YELLOW)

    response = _client(org, "rm1").post(reverse("customers:customer-tag-add", args=[wang.pk]), {"tag": tag.pk},
                                        **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.startswith('\n<section class="card h-100" id="panel-tags"')
    assert _tag_names(html) == ["高净值"]
    assert list(wang.customer_tags.values_list("tag__name", "added_by__username")) == [("高净值", "rm1")]


def test_removing_a_tag_over_htmx_returns_the_panel_without_it(org, wang):
    keep, drop = Tag.objects.create(name="高净值"), Tag.objects.create(name="潜在理财")
    for tag in (keep, drop):
        services.customer_tag_add(customer=wang, tag=tag, actor=org["rm1"])

    response = _client(org, "rm1").post(reverse("customers:customer-tag-remove", args=[wang.pk, drop.pk]), **HTMX)

    assert response.status_code == 200
    assert _tag_names(response.content.decode()) == ["高净值"]
    assert list(wang.customer_tags.values_list("tag__name", flat=True)) == ["高净值"]


@pytest.fixture
def dynamic_tag(db):
    segment = Segment.objects.create(name="沉睡客户", rules=[{"field": "tier", "op": "in", "value": ["mass"]}])
    return Tag.objects.create(name="沉睡客户", segment=segment)


def test_a_dynamic_tag_cannot_be_added_by_hand(org, wang, dynamic_tag):
    response = _client(org, "rm1").post(reverse("customers:customer-tag-add", args=[wang.pk]),
                                        {"tag": dynamic_tag.pk}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "“沉睡客户” follows a segment and cannot be added by hand." in html
    assert _tag_names(html) == ["No", "tags."]
    assert not CustomerTag.objects.exists()
    # Nor is it offered in the form.
    assert f'<option value="{dynamic_tag.pk}">' not in html


def test_a_dynamic_tag_cannot_be_removed_by_hand(org, wang, dynamic_tag):
    CustomerTag.objects.create(customer=wang, tag=dynamic_tag)  # as the segment refresh puts it

    response = _client(org, "rm1").post(reverse("customers:customer-tag-remove", args=[wang.pk, dynamic_tag.pk]),
                                        **HTMX)

    html = response.content.decode()
    assert "“沉睡客户” follows a segment and cannot be removed by hand." in html
    assert _tag_names(html) == ["沉睡客户"]
    assert 'aria-label="Remove tag 沉睡客户"' not in html
    assert list(wang.customer_tags.values_list("tag__name", flat=True)) == ["沉睡客户"]


# --- closed and merged customers ----------------------------------------------------------------------------

def test_a_closed_customer_cannot_be_edited_and_nothing_changes(org):
    customer = _create(org, "C0000200005", "周婷")
    services.customer_close(customer=customer, actor=org["rm1"], reason="客户申请销户")
    row = Customer.objects.filter(pk=customer.pk).values().get()
    client = _client(org, "rm1")
    url = reverse("customers:customer-edit", args=[customer.pk])

    shown = client.get(url, follow=True)
    posted = client.post(url, _form(org, customer_no="C0000200005", name="周婷婷", lifecycle_status="active"))

    assert shown.redirect_chain == [(customer.get_absolute_url(), 302)]
    assert "A closed customer cannot be changed." in shown.content.decode()
    assert "Closed on" in shown.content.decode()
    assert (posted.status_code, posted["Location"]) == (302, customer.get_absolute_url())
    assert Customer.objects.filter(pk=customer.pk).values().get() == row


def test_a_merged_customer_links_to_the_record_it_was_merged_into(org, wang):
    duplicate = _create(org, "C0000200006", "王秀英")
    services.customer_merge(survivor=wang, duplicate=duplicate, actor=org["manager1"])

    html = _client(org, "rm1").get(duplicate.get_absolute_url()).content.decode()

    assert (f'This record was merged into C0000200001. <a href="{wang.get_absolute_url()}">Open it</a>'
            in html)
    assert f'href="/customers/{duplicate.pk}/edit/"' not in html


# --- query count --------------------------------------------------------------------------------------------

def _full_page(org, customer, transactions):
    """rm1's client on a customer with 3 accounts, `transactions` transactions, 2 relationships and 3 tags."""
    _transactions(customer.accounts.get(number="6222020200112233446"), transactions)
    for name in ("高净值", "潜在理财", "代发工资"):
        services.customer_tag_add(customer=customer, tag=Tag.objects.create(name=name), actor=org["rm1"])
    return _client(org, "rm1")


def _assert_full_page(response):
    assert response.status_code == 200
    html = response.content.decode()
    assert len(_counterparties(html)) == 20
    assert html.count('<li class="list-group-item d-flex justify-content-between">') == 2
    assert _tag_names(html) == ["代发工资", "潜在理财", "高净值"]


@pytest.mark.parametrize("transactions", [50, 500])
def test_the_360_page_renders_in_at_most_15_queries(org, wang, household, transactions,
                                                    django_assert_max_num_queries):
    client = _full_page(org, wang, transactions)

    with django_assert_max_num_queries(15):
        response = client.get(wang.get_absolute_url())

    _assert_full_page(response)


def test_the_360_page_costs_the_same_queries_with_50_or_500_transactions(org, wang, household):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _full_page(org, wang, 50)
    with CaptureQueriesContext(connection) as with_50:
        _assert_full_page(client.get(wang.get_absolute_url()))
    _transactions(wang.accounts.get(number="6222020200112233446"), 450, start=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    assert wang.transactions.count() == 500
    with CaptureQueriesContext(connection) as with_500:
        _assert_full_page(client.get(wang.get_absolute_url()))

    assert len(with_500) == len(with_50)


# --- create and edit validation -----------------------------------------------------------------------------

def _post_create(org, **values):
    return _client(org, "rm1").post(reverse("customers:customer-create"), _form(org, **values))


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"id_type": "resident_id", "id_number": "110105194912310021"}, "id_number",
     "The check digit is wrong: this ID number has a typing error."),
    ({"id_type": "resident_id", "id_number": ID_NUMBER, "birth_date": "1950-01-01"}, "birth_date",
     "The birth date differs from the one in the ID number (1949-12-31)."),
    ({"phone": "12345"}, "phone", "This phone number does not exist (check the digits)."),
])
def test_create_shows_the_error_on_the_field_and_creates_nothing(org, values, field, message):
    response = _post_create(org, customer_no="C0000200010", name="孙丽", **values)

    assert response.status_code == 200
    assert response.context["form"].errors == {field: [message]}
    assert f'<div class="invalid-feedback d-block" data-testid="error-{field}">{message}</div>' in \
        response.content.decode()
    assert not Customer.objects.exists()


def test_create_with_a_phone_on_file_warns_with_the_duplicate_masked_and_creates_only_when_confirmed(org):
    first = _create(org, "C0000200011", "张伟", personal={"phone": PHONE})

    warned = _post_create(org, customer_no="C0000200012", name="张伟", phone="138 1234 5678")

    assert warned.status_code == 200
    assert [dup.pk for dup in warned.context["duplicates"]] == [first.pk]
    html = warned.content.decode()
    duplicates = re.search(r'data-testid="duplicates">(.*?)</ul>', html, re.S).group(1)
    assert f'{first.get_absolute_url()}" target="_blank" rel="noopener">C0000200011 张*</a> · 138****5678' \
        in duplicates
    assert PHONE not in html
    assert list(Customer.objects.values_list("customer_no", flat=True)) == ["C0000200011"]

    confirmed = _post_create(org, customer_no="C0000200012", name="张伟", phone="138 1234 5678",
                             confirm_duplicate="on")

    second = Customer.objects.get(customer_no="C0000200012")
    assert (confirmed.status_code, confirmed["Location"]) == (302, second.get_absolute_url())
    assert second.phone_bidx == first.phone_bidx


def _edit_form(org, customer, **values):
    return _form(org, customer_no=customer.customer_no, name=customer.name, id_type=customer.id_type,
                 gender=customer.gender, birth_date=f"{customer.birth_date:%Y-%m-%d}", **values)


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"id_number": "110105194912310021"}, "id_number",
     "The check digit is wrong: this ID number has a typing error."),
    ({"phone": "12345"}, "phone", "This phone number does not exist (check the digits)."),
])
def test_edit_shows_the_error_on_the_field_and_changes_nothing(org, wang, values, field, message):
    row = Customer.objects.filter(pk=wang.pk).values().get()

    response = _client(org, "rm1").post(reverse("customers:customer-edit", args=[wang.pk]),
                                        _edit_form(org, wang, occupation="退休", **values))

    assert response.status_code == 200
    assert response.context["form"].errors == {field: [message]}
    assert Customer.objects.filter(pk=wang.pk).values().get() == row


def test_edit_refuses_a_birth_date_that_disagrees_with_the_id_on_file(org, wang):
    row = Customer.objects.filter(pk=wang.pk).values().get()
    form = {**_edit_form(org, wang), "birth_date": "1950-01-01"}

    response = _client(org, "rm1").post(reverse("customers:customer-edit", args=[wang.pk]), form)

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "birth_date": ["The birth date differs from the one in the ID number (1949-12-31)."]}
    assert Customer.objects.filter(pk=wang.pk).values().get() == row
