"""Who may call which customers route: every route against anonymous, another branch's RM, the owning RM,
the branch manager and head office — and a refused write changes nothing. Reveal and export in detail."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers import services
from customers.models import Account, Customer, CustomerTag, Product, Relationship, Tag, Transaction
from customers.panels import PANELS
from org.models import AuditEntry

pytestmark = pytest.mark.django_db

ID_NUMBER = "11010519491231002X"  # born 1949-12-31, female (17th digit even)
PHONE = "13812345678"
EMAIL = "wang.xiuying@example.com"
ADDRESS = "北京市海淀区中关村大街27号"


def _create(org, actor, number, name, *, rm="rm1", branch=None, kind="individual", personal=None, **extra):
    data = {"customer_no": number, "kind": kind, "name": name, "home_branch": branch or org[rm].branch,
            "primary_rm": org[rm] if rm else None, **extra}
    return services.customer_create(actor=org[actor], data=data, personal=personal or {})


@pytest.fixture
def world(org):
    """rm1's customer 王秀英 (BJ01) with real personal data, a time deposit, three transactions and a tag;
    a second rm1 customer to merge or relate; a manual tag the customer does not have yet."""
    customer = _create(org, "rm1", "C0000100001", "王秀英", id_type="resident_id", occupation="教师",
                       personal={"id_number": ID_NUMBER, "phone": PHONE, "email": EMAIL, "address": ADDRESS})
    other = _create(org, "rm1", "C0000100002", "李建国", personal={"phone": "13900001111"})
    product = Product.objects.create(code="TD12", name="12个月定期存款", category=Product.Category.TIME_DEPOSIT)
    account = Account.objects.create(customer=customer, product=product, number="6222020200112233445",
                                     balance=Decimal("800000.00"), opened_on=dt.date(2025, 6, 1),
                                     matures_on=dt.date(2026, 6, 1))
    start = timezone.now() - dt.timedelta(days=3)
    for n, (direction, channel) in enumerate([("credit", "counter"), ("debit", "mobile"), ("credit", "transfer")]):
        Transaction.objects.create(account=account, customer=customer, occurred_at=start + dt.timedelta(hours=n),
                                   amount=Decimal(1000 + n), direction=direction, channel=channel)
    services.customer_recalculate(customer=customer)
    tag_on, tag_off = Tag.objects.create(name="高净值"), Tag.objects.create(name="潜在理财")
    services.customer_tag_add(customer=customer, tag=tag_on, actor=org["rm1"])
    return {"org": org, "customer": customer, "other": other, "tag_on": tag_on, "tag_off": tag_off}


def _client(org, username):
    client = Client()
    if username != "anonymous":
        client.force_login(org[username])
    return client


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


def _address(world, label):
    """URL and POST body of one route of the matrix ("customer-reveal/phone", "customer-panel/tags", …)."""
    org, customer, other = world["org"], world["customer"], world["other"]
    route, _sep, extra = label.partition("/")
    name = f"customers:{route}"
    if route in ("customer-list", "customer-create", "customer-export"):
        url = reverse(name)
    elif route in ("customer-reveal", "customer-panel"):
        url = reverse(name, args=[customer.pk, extra])
    elif route == "customer-tag-remove":
        url = reverse(name, args=[customer.pk, world["tag_on"].pk])
    else:
        url = reverse(name, args=[customer.pk])
    body = {
        "customer-create": _form(org, customer_no="C0000100009", name="孙丽", phone="13911112222"),
        "customer-edit": _form(org, customer_no=customer.customer_no, name="王秀兰", id_type="resident_id",
                               gender="F", birth_date="1949-12-31", occupation="教师"),
        "customer-close": {"reason": "客户申请销户"},
        "customer-merge": {"duplicate": other.customer_no, "confirm": "1"},
        "customer-tag-add": {"tag": world["tag_off"].pk},
        "customer-relationship-add": {"other": other.customer_no, "kind": "spouse"},
    }.get(route, {})
    return url, body


def _state():
    """Everything a customers route could write."""
    return {
        "customers": list(Customer.objects.order_by("pk").values()),
        "accounts": list(Account.objects.order_by("pk").values_list("pk", "customer_id", "status")),
        "transactions": list(Transaction.objects.order_by("pk").values_list("pk", "customer_id")),
        "tags": list(CustomerTag.objects.order_by("pk").values_list("customer_id", "tag_id")),
        "relationships": list(Relationship.objects.order_by("pk").values_list("from_customer_id", "to_customer_id",
                                                                              "kind")),
        "reveals": AuditEntry.objects.filter(action=AuditEntry.Action.REVEAL).count(),
        "audit_entries": AuditEntry.objects.count(),
    }


PANEL_KEYS = sorted(PANELS)
USERS = ("rm1", "rm2", "manager1", "risk1")
EVERYONE = dict.fromkeys(USERS, 200)
# Read routes on the customer: its owner, its branch manager and head office see it; rm2 (BJ02) gets 404.
OBJECT_READ = {"rm1": 200, "rm2": 404, "manager1": 200, "risk1": 200}
# Writes needing customers.change_customer: risk1 lacks it (403); rm2 has it but not on this row (404).
OBJECT_CHANGE = {"rm1": 200, "rm2": 404, "manager1": 200, "risk1": 403}

# (route label, method, expected status per signed-in user); anonymous always goes to sign-in.
MATRIX = [
    ("customer-list", "get", EVERYONE),
    ("customer-create", "get", {"rm1": 200, "rm2": 200, "manager1": 200, "risk1": 403}),
    # rm1 and manager1 create in BJ01; rm2 (own customers only) is refused by the service, form shown again.
    ("customer-create", "post", {"rm1": 302, "rm2": 200, "manager1": 302, "risk1": 403}),
    ("customer-export", "get", {"rm1": 403, "rm2": 403, "manager1": 200, "risk1": 403}),
    ("customer-detail", "get", OBJECT_READ),
    ("customer-edit", "get", OBJECT_CHANGE),
    ("customer-edit", "post", {**OBJECT_CHANGE, "rm1": 302, "manager1": 302}),
    ("customer-close", "get", OBJECT_CHANGE),
    # Allowed, and refused by the service with the form shown again: the time deposit is still open.
    ("customer-close", "post", OBJECT_CHANGE),
    # Merging is a kind of action only managers and operations take: 403 before any row is looked at,
    # the same answer for every id (nothing leaks).
    ("customer-merge", "get", {"rm1": 403, "rm2": 403, "manager1": 200, "risk1": 403}),
    ("customer-merge", "post", {"rm1": 403, "rm2": 403, "manager1": 302, "risk1": 403}),
    *[(f"customer-reveal/{field}", "post", {"rm1": 200, "rm2": 404, "manager1": 200, "risk1": 403})
      for field in ("id_number", "phone", "email", "address")],
    *[(f"customer-panel/{key}", "get", OBJECT_READ) for key in PANEL_KEYS],
    ("customer-tag-add", "post", {"rm1": 302, "rm2": 404, "manager1": 302, "risk1": 403}),
    ("customer-tag-remove", "post", {"rm1": 302, "rm2": 404, "manager1": 302, "risk1": 403}),
    ("customer-relationship-add", "post", {"rm1": 302, "rm2": 404, "manager1": 302, "risk1": 403}),
]

CASES = [pytest.param(label, method, user, expected[user], id=f"{method}-{label}-{user}")
         for label, method, expected in MATRIX for user in USERS]
CASES += [pytest.param(label, method, "anonymous", 302, id=f"{method}-{label}-anonymous")
          for label, method, _expected in MATRIX]


def test_the_matrix_covers_every_customers_route_and_every_panel():
    from customers.urls import urlpatterns

    assert {label.partition("/")[0] for label, _method, _expected in MATRIX} == {p.name for p in urlpatterns}
    # Panels other apps register join the matrix through PANELS; the customers app's own four are there.
    assert {"accounts", "relationships", "tags", "transactions"} <= set(PANEL_KEYS)


@pytest.mark.parametrize(("label", "method", "username", "expected"), CASES)
def test_customer_routes_answer_each_role_as_its_permissions_and_scope_allow(world, label, method, username,
                                                                             expected):
    client = _client(world["org"], username)
    url, body = _address(world, label)
    before = _state()

    response = client.get(url) if method == "get" else client.post(url, body)

    assert response.status_code == expected
    if username == "anonymous":
        assert response["Location"].startswith(reverse("login") + "?next=")
    if method == "post" and (username == "anonymous" or expected in (403, 404)):
        assert _state() == before


def test_rm_of_another_branch_cannot_create_for_this_branch_and_nothing_is_created(world):
    client = _client(world["org"], "rm2")
    url, body = _address(world, "customer-create")
    before = _state()

    response = client.post(url, body)

    assert response.status_code == 200
    assert response.context["form"].errors["home_branch"] == [
        "You cannot place customers outside the branches you serve."]
    assert _state() == before


def test_a_permitted_edit_and_merge_do_write(world):
    # The allowed side of the matrix really acts (so the "nothing changed" side means something).
    customer, other = world["customer"], world["other"]
    client = _client(world["org"], "manager1")
    client.post(*_address(world, "customer-edit"))
    client.post(*_address(world, "customer-merge"))
    customer.refresh_from_db()
    other.refresh_from_db()
    assert customer.name == "王秀兰"
    assert (other.lifecycle_status, other.merged_into_id) == (Customer.Lifecycle.CLOSED, customer.pk)


# --- reveal -------------------------------------------------------------------------------------------------

PLAINTEXT = {
    "id_number": ID_NUMBER,
    "phone": "+8613812345678",  # stored normalised to E.164
    "email": EMAIL,
    "address": ADDRESS,
}


@pytest.mark.parametrize("username", ["rm1", "manager1", "service1"])
@pytest.mark.parametrize("field", sorted(PLAINTEXT))
def test_reveal_returns_the_plaintext_and_writes_exactly_one_audit_entry(world, username, field):
    customer = world["customer"]
    client = _client(world["org"], username)

    response = client.post(reverse("customers:customer-reveal", args=[customer.pk, field]))

    assert response.status_code == 200
    assert f'data-testid="revealed-{field}">{PLAINTEXT[field]}</span>' in response.content.decode()
    entries = list(AuditEntry.objects.filter(action=AuditEntry.Action.REVEAL).values(
        "actor_username", "fields", "object_type", "object_id"))
    assert entries == [{"actor_username": username, "fields": [field], "object_type": "customers.customer",
                        "object_id": str(customer.pk)}]


@pytest.mark.parametrize("field", sorted(PLAINTEXT))
def test_head_office_risk_officer_may_not_reveal_and_nothing_is_recorded(world, field):
    customer = world["customer"]
    client = _client(world["org"], "risk1")
    client.cookies["django_language"] = "en"

    response = client.post(reverse("customers:customer-reveal", args=[customer.pk, field]))

    assert response.status_code == 403
    body = response.content.decode()
    assert "Your role may not reveal personal data." in body
    for plaintext in (*PLAINTEXT.values(), PHONE):
        assert plaintext not in body
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.REVEAL).exists()


def test_reveal_of_an_unknown_field_is_404_and_recorded_nowhere(world):
    client = _client(world["org"], "rm1")
    response = client.post(reverse("customers:customer-reveal", args=[world["customer"].pk, "id_number_enc"]))
    assert response.status_code == 404
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.REVEAL).exists()


def test_reveal_answers_only_to_post(world):
    client = _client(world["org"], "rm1")
    response = client.get(reverse("customers:customer-reveal", args=[world["customer"].pk, "phone"]))
    assert response.status_code == 405
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.REVEAL).exists()


# --- export -------------------------------------------------------------------------------------------------

def _export(org, username):
    client = _client(org, username)
    client.cookies["django_language"] = "en"
    response = client.get(reverse("customers:customer-export"))
    assert response.status_code == 200
    return response, b"".join(response.streaming_content).decode("utf-8")


def _rows(content):
    return {row[0]: row for row in csv.reader(io.StringIO(content.removeprefix("\ufeff")))}


def test_export_is_masked_csv_with_a_bom_and_is_audited(world):
    org = world["org"]
    # ops1 works at the Beijing branch (BJ): BJ01's customers are outside its home branch, this one is in it.
    _create(org, "admin", "C0000100003", "赵敏", rm=None, branch=org["ops1"].branch)
    before = AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).count()

    response, content = _export(org, "ops1")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="customers.csv"'
    assert content.startswith("\ufeffcustomer number,name,")
    rows = _rows(content)
    assert rows["C0000100001"][1] == "王**"
    assert rows["C0000100002"][1] == "李**"
    assert rows["C0000100003"][1] == "赵敏"
    assert rows["C0000100001"][9:12] == ["110***********002X", "138****5678", "w***@example.com"]
    for plaintext in (PHONE, "+8613812345678", ID_NUMBER, EMAIL, ADDRESS, "王秀英", "李建国"):
        assert plaintext not in content
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT)
    assert entries.count() == before + 1
    assert entries.first().actor_username == "ops1"
    assert entries.first().object_type == "customers.customer"


def test_export_neutralises_a_formula_in_a_customer_name(world):
    org = world["org"]
    _create(org, "rm1", "C0000100004", "=HYPERLINK(1)", kind="corporate")

    _response, content = _export(org, "ops1")

    # Company names are not personal data: shown in full, but as text, never as a formula.
    assert _rows(content)["C0000100004"][1] == "'=HYPERLINK(1)"
    assert ",=HYPERLINK" not in content


def test_export_shows_only_customers_the_exporter_may_see(world):
    org = world["org"]
    _create(org, "rm2", "C0000100005", "钱伟", rm="rm2")
    _create(org, "admin", "C0000100006", "孙伟", rm=None, branch=type(org["rm1"].branch).objects.get(code="SH01"))

    _response, content = _export(org, "manager1")

    assert sorted(_rows(content)) == ["C0000100001", "C0000100002", "customer number"]


def test_export_refused_for_a_role_without_the_permission_writes_no_audit_entry(world):
    response = _client(world["org"], "rm1").get(reverse("customers:customer-export"))
    assert response.status_code == 403
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


# --- where scope holds and where it does not ------------------------------------------------------------------

def test_a_panel_that_does_not_exist_is_404_for_everyone(world):
    for username in USERS:
        response = _client(world["org"], username).get(
            reverse("customers:customer-panel", args=[world["customer"].pk, "nonexistent"]))
        assert response.status_code == 404


def test_rm_cannot_tie_their_customer_to_one_they_may_not_see(world):
    org = world["org"]
    stranger = _create(org, "rm2", "C0000100007", "钱伟", rm="rm2")
    client = _client(org, "rm1")
    before = _state()

    response = client.post(
        reverse("customers:customer-relationship-add", args=[world["customer"].pk]),
        {"other": stranger.customer_no, "kind": "spouse"})

    assert response.status_code == 302
    assert _state() == before


def test_manager_cannot_merge_in_a_customer_they_may_not_see(world):
    org = world["org"]
    stranger = _create(org, "rm2", "C0000100008", "钱伟", rm="rm2")
    client = _client(org, "manager1")
    before = _state()

    response = client.post(reverse("customers:customer-merge", args=[world["customer"].pk]),
                           {"duplicate": stranger.customer_no, "confirm": "1"})

    assert response.status_code == 200
    assert response.context["form"].errors["duplicate"] == ["No customer with this number that you may see."]
    assert _state() == before


def test_rm_cannot_move_their_customer_to_a_branch_they_do_not_serve(world):
    org = world["org"]
    customer = world["customer"]
    shanghai = type(org["rm1"].branch).objects.get(code="SH01")
    client = _client(org, "rm1")
    before = _state()

    response = client.post(
        reverse("customers:customer-edit", args=[customer.pk]),
        _form(org, customer_no=customer.customer_no, name="王秀英", id_type="resident_id", gender="F",
              birth_date="1949-12-31", occupation="教师", home_branch=shanghai.pk, primary_rm=""))

    assert response.status_code == 200
    assert "home_branch" in response.context["form"].errors
    assert _state() == before
