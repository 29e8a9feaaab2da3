"""seed_demo's banking data: deterministic, idempotent, valid, sealed, scoped, audited once."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from stdnum.cn import ric, uscc

from customers import demo, pii, services
from customers.models import Account, Customer, Product, Relationship, TierThreshold, Transaction
from org import scoping
from org.models import AuditEntry

pytestmark = pytest.mark.django_db

SEEDED_TABLES = ("customers.customer", "customers.account", "customers.relationship", "customers.product")


@pytest.fixture(autouse=True)
def _tier_thresholds(db):
    # Migration 0005 creates them; a transactional test elsewhere may have flushed the table.
    for tier, amount in (("mass", 0), ("affluent", 500_000), ("wealth", 6_000_000), ("private", 30_000_000)):
        TierThreshold.objects.get_or_create(tier=tier, defaults={"min_aum": Decimal(amount)})


def _seed(org, count, **options):
    options.setdefault("transactions_per_customer", 6)
    return demo.seed_customers(count=count, users=org, **options)


def _snapshot():
    customers = [
        (c.customer_no, c.kind, c.name, c.name_pinyin, c.gender, c.birth_date, pii.unseal(c, "id_number"),
         pii.unseal(c, "phone"), pii.unseal(c, "email"), pii.unseal(c, "address"), c.id_number_masked, c.aum,
         c.tier, c.home_branch_id, c.primary_rm_id, c.lifecycle_status, c.risk_tolerance, c.kyc_review_on)
        for c in Customer.objects.order_by("customer_no")
    ]
    accounts = list(Account.objects.order_by("number").values_list(
        "number", "customer__customer_no", "product__code", "balance", "status", "opened_on", "matures_on"))
    transactions = list(Transaction.objects.order_by("customer__customer_no", "occurred_at", "amount").values_list(
        "customer__customer_no", "account__number", "occurred_at", "amount", "direction", "channel", "counterparty"))
    relationships = sorted(Relationship.objects.values_list(
        "from_customer__customer_no", "to_customer__customer_no", "kind"))
    return customers, accounts, transactions, relationships


def _delete_seeded():
    Transaction.objects.all().delete()
    Relationship.objects.all().delete()
    Account.objects.all().delete()
    Customer.objects.all().delete()


def _counts():
    return (Customer.objects.count(), Account.objects.count(), Transaction.objects.count(),
            Relationship.objects.count(), Product.objects.count())


def test_the_same_n_gives_the_same_data(org):
    _seed(org, 120)
    first = _snapshot()
    _delete_seeded()
    _seed(org, 120)
    assert _snapshot() == first
    assert len(first[0]) == 120
    assert [row[0] for row in first[0]] == [f"C{n:010d}" for n in range(1, 121)]


def test_another_seed_gives_other_data(org):
    _seed(org, 40)
    names = [row[2] for row in _snapshot()[0]]
    _delete_seeded()
    _seed(org, 40, seed=7)
    assert [row[2] for row in _snapshot()[0]] != names


def test_a_second_run_with_the_same_n_writes_nothing(org):
    call_command("seed_demo", customers=150, transactions_per_customer=4, verbosity=0)
    before = _counts()
    updated = list(Customer.objects.order_by("pk").values_list("pk", "updated_at"))
    result = _seed(org, 150, transactions_per_customer=4)
    assert _counts() == before
    assert (result.customers, result.accounts, result.transactions, result.chunks_skipped) == (0, 0, 0, 1)
    assert list(Customer.objects.order_by("pk").values_list("pk", "updated_at")) == updated
    assert AuditEntry.objects.filter(action=AuditEntry.Action.IMPORT).count() == 1


def test_a_larger_n_adds_only_the_missing_customers_with_the_data_a_fresh_seed_gives(org):
    _seed(org, 70)
    kept = {c.customer_no: (c.pk, c.name, c.aum) for c in Customer.objects.all()}
    result = _seed(org, 130)
    assert result.customers == 60
    assert {c.customer_no: (c.pk, c.name, c.aum) for c in Customer.objects.filter(customer_no__lte="C0000000070")} \
        == kept
    grown = _snapshot()
    _delete_seeded()
    _seed(org, 130)
    assert _snapshot() == grown


def test_resident_ids_are_valid_and_agree_with_birth_date_and_gender(org):
    _seed(org, 300, transactions_per_customer=0)
    individuals = Customer.objects.filter(kind=Customer.Kind.INDIVIDUAL)
    assert individuals.count() > 250
    numbers = set()
    for customer in individuals:
        number = pii.unseal(customer, "id_number")
        assert ric.validate(number) == number
        assert customer.id_type == Customer.IdType.RESIDENT_ID
        assert pii.resident_id_facts(number) == (customer.birth_date, customer.gender)
        assert dt.date(1950, 1, 1) <= customer.birth_date <= dt.date(2004, 12, 31)
        numbers.add(number)
    assert len(numbers) == individuals.count()
    for customer in Customer.objects.filter(kind=Customer.Kind.CORPORATE):
        assert customer.id_type == Customer.IdType.USCC
        assert uscc.is_valid(pii.unseal(customer, "id_number"))


def test_phones_names_and_masks_are_what_the_services_would_store(org):
    _seed(org, 200, transactions_per_customer=0)
    phones = set()
    for customer in Customer.objects.all():
        phone = pii.unseal(customer, "phone")
        assert pii.normalise_phone(phone) == phone
        assert phone.startswith("+861")
        assert customer.phone_masked == pii.mask_phone(phone)
        assert customer.id_number_masked == pii.mask_id_number(pii.unseal(customer, "id_number"))
        assert (customer.name_pinyin, customer.name_initials) == pii.name_keys(customer.name)
        email = pii.unseal(customer, "email")
        assert email == "" or pii.normalise_email(email) == email
        phones.add(phone)
    assert len(phones) == 200
    assert Customer.objects.exclude(email_enc="").exists()


def test_a_raw_read_of_the_customer_table_shows_no_personal_data_in_plaintext(org):
    _seed(org, 60, transactions_per_customer=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM customers_customer")
        raw = "\n".join(" ".join(str(value) for value in row) for row in cursor.fetchall())
    for customer in Customer.objects.all():
        phone = pii.unseal(customer, "phone")
        secrets = [pii.unseal(customer, "id_number"), phone, phone[3:], pii.unseal(customer, "address")]
        if customer.email_enc:
            secrets.append(pii.unseal(customer, "email"))
        for secret in secrets:
            assert secret not in raw


def test_the_demo_rms_see_their_customers_and_not_each_others(org):
    _seed(org, 120, transactions_per_customer=0)
    mine = scoping.visible(org["rm1"], Customer.objects.all())
    assert mine.count() == 30
    assert set(mine.values_list("primary_rm", flat=True)) == {org["rm1"].pk}
    assert not scoping.visible(org["rm2"], Customer.objects.filter(primary_rm=org["rm1"])).exists()
    assert Customer.objects.filter(primary_rm=None, home_branch__code="SH01").count() == 30


def test_aum_is_the_sum_of_active_asset_balances_and_the_tier_follows(org):
    result = _seed(org, 250, transactions_per_customer=0)
    assert result.aum_corrected == 0
    for customer in Customer.objects.all():
        total = customer.accounts.filter(
            status=Account.Status.ACTIVE, product__category__in=Product.AUM_CATEGORIES,
        ).aggregate(total=Sum("balance"))["total"] or Decimal(0)
        assert customer.aum == total
        assert customer.tier == services.tier_for(total)
    assert Customer.objects.filter(tier=Customer.Tier.AFFLUENT).exists()


def test_accounts_are_plausible(org):
    _seed(org, 250, transactions_per_customer=0)
    today = timezone.localdate()
    per_customer = {c.pk: c.accounts.count() for c in Customer.objects.all()}
    assert set(per_customer.values()) <= {1, 2, 3, 4}
    assert max(per_customer.values()) > 1
    numbers = list(Account.objects.values_list("number", flat=True))
    assert all(len(number) == 19 and number.isdigit() for number in numbers)
    assert any(number.startswith("0") for number in numbers)
    assert Account.objects.filter(status=Account.Status.ACTIVE, matures_on__gt=today,
                                  matures_on__lte=today + dt.timedelta(days=90)).exists()
    assert Account.objects.filter(status=Account.Status.CLOSED, balance=0).exists()
    assert Account.objects.filter(product__category=Product.Category.LOAN).exists()


def test_transactions_belong_to_the_customers_account_and_lie_in_the_last_year(org):
    result = _seed(org, 100, transactions_per_customer=10)
    assert result.transactions == Transaction.objects.count()
    assert 800 <= result.transactions <= 1200
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_transaction t JOIN customers_account a ON a.id = t.account_id "
                       "WHERE a.customer_id <> t.customer_id")
        assert cursor.fetchone()[0] == 0
    assert not Transaction.objects.filter(amount__lte=0).exists()
    now = timezone.now()
    assert not Transaction.objects.filter(occurred_at__gt=now).exists()
    assert not Transaction.objects.filter(occurred_at__lt=now - dt.timedelta(days=367)).exists()
    assert not Transaction.objects.filter(account__status=Account.Status.CLOSED).exists()


def test_households_tie_individuals_of_one_branch(org):
    _seed(org, 300, transactions_per_customer=0)
    ties = list(Relationship.objects.select_related("from_customer", "to_customer"))
    assert len(ties) >= 5
    for tie in ties:
        assert tie.kind in Relationship.HOUSEHOLD
        assert tie.from_customer.kind == tie.to_customer.kind == Customer.Kind.INDIVIDUAL
        assert tie.from_customer.home_branch_id == tie.to_customer.home_branch_id
        assert pii.unseal(tie.from_customer, "address") == pii.unseal(tie.to_customer, "address")
        if tie.kind == Relationship.Kind.CHILD:
            assert tie.from_customer.birth_date > tie.to_customer.birth_date
            assert tie.from_customer.name[0] == tie.to_customer.name[0]


def test_the_seed_writes_one_import_entry_and_no_entry_per_row(org):
    call_command("seed_demo", customers=80, transactions_per_customer=3, verbosity=0)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.IMPORT)
    assert entry.object_type == "customers.customer"
    assert entry.actor_username == "seed_demo"
    assert entry.detail["seed_demo"] is True
    assert entry.detail["customers"] == 80
    assert entry.detail["accounts"] == Account.objects.count()
    assert entry.detail["transactions"] == Transaction.objects.count()
    # No per-row trail from the bulk load; business actions the demo then takes through services (a
    # referral's specialist given access to the customer) are audited as such.
    assert not AuditEntry.objects.filter(object_type__in=SEEDED_TABLES, action__in=[
        AuditEntry.Action.CREATE, AuditEntry.Action.UPDATE, AuditEntry.Action.DELETE]).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'customers_%%_audit' AND tgenabled <> 'O'")
        assert cursor.fetchall() == []


def test_a_failed_chunk_leaves_no_rows_and_the_audit_triggers_on(org, monkeypatch):
    def broken(self, account_ids):
        yield from ()
        raise RuntimeError("killed")

    monkeypatch.setattr(demo._Chunk, "transaction_rows", broken)
    with pytest.raises(RuntimeError):
        _seed(org, 50)
    assert not Customer.objects.exists()
    assert not Account.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'customers_%%_audit' AND tgenabled <> 'O'")
        assert cursor.fetchone()[0] == 0


def test_a_bulk_load_rebuilds_the_transaction_indexes_under_their_migration_names(org, monkeypatch):
    monkeypatch.setattr(demo, "BULK_LOAD_MIN", 10)
    result = _seed(org, 40, transactions_per_customer=2)
    assert result.bulk
    expected = {"txn_customer_time", "txn_account_time", "customers_transactio_account_id_2f8bc852_fk_customers",
                "customers_transactio_customer_id_40a7dbb7_fk_customers"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'customers_transaction' "
                       "UNION SELECT conname FROM pg_constraint WHERE conrelid = 'customers_transaction'::regclass")
        assert expected <= {row[0] for row in cursor.fetchall()}
        cursor.execute("DROP INDEX txn_account_time")
    assert demo.ensure_transaction_indexes() == ["txn_account_time"]
    assert demo.ensure_transaction_indexes() == []


def test_the_command_refuses_impossible_sizes(org):
    with pytest.raises(CommandError):
        call_command("seed_demo", customers=1_000_001, verbosity=0)
    with pytest.raises(CommandError):
        call_command("seed_demo", customers=10, transactions_per_customer=-1, verbosity=0)
