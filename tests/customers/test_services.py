"""Customer actions: search readings, close, merge (re-points everything, loses nothing), tags, tiers."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from customers import services
from customers.models import (
    Account,
    Customer,
    CustomerTag,
    Product,
    Relationship,
    Segment,
    SegmentMember,
    Tag,
    Transaction,
)
from customers.selectors import customer_list
from org.models import AuditEntry

pytestmark = pytest.mark.django_db


def _make(org, number, name, *, phone="", id_number="", rm="rm1", **extra):
    data = {"customer_no": number, "kind": "individual", "name": name, "home_branch": org[rm].branch,
            "primary_rm": org[rm], "id_type": "resident_id" if id_number else "", **extra}
    return services.customer_create(actor=org[rm], data=data, personal={"phone": phone, "id_number": id_number})


@pytest.fixture
def product(db):
    return Product.objects.create(code="TD3Y", name="三年定期", category=Product.Category.TIME_DEPOSIT)


def _account(customer, product, number, balance, **extra):
    return Account.objects.create(customer=customer, product=product, number=number, balance=Decimal(balance),
                                  opened_on=dt.date(2025, 1, 1), **extra)


def _found(org, query, user="rm1"):
    rows, _cursor = customer_list(user=org[user], filters={"q": query})
    return [row.customer_no for row in rows]


def test_search_reads_number_phone_id_pinyin_initials_and_name(org):
    _make(org, "C0000000101", "张伟", phone="13812345678", id_number="11010519491231002X")
    _make(org, "C0000000102", "张伟强")
    _make(org, "C0000000103", "李伟")
    assert _found(org, "C0000000101") == ["C0000000101"]
    assert _found(org, "138 1234 5678") == ["C0000000101"]
    assert _found(org, "11010519491231002x") == ["C0000000101"]
    assert _found(org, "zhangwei") == ["C0000000101", "C0000000102"]
    assert _found(org, "zw") == ["C0000000101", "C0000000102"]
    assert _found(org, "张伟") == ["C0000000101", "C0000000102"]
    # Short fragments match the start or the end of a name (张伟 and 李伟 end in 伟; 张伟强 does not).
    assert sorted(_found(org, "伟")) == ["C0000000101", "C0000000103"]
    assert sorted(_found(org, "伟强")) == ["C0000000102"]
    assert _found(org, "张伟强") == ["C0000000102"]


def test_search_never_crosses_scope(org):
    _make(org, "C0000000201", "王芳", phone="13912345678", rm="rm2")
    assert _found(org, "13912345678", user="rm1") == []
    assert _found(org, "13912345678", user="rm2") == ["C0000000201"]


def test_tier_follows_aum_thresholds(org, product):
    customer = _make(org, "C0000000301", "陈静")
    _account(customer, product, "0000000000000000301", "6500000")
    services.customer_recalculate(customer=customer)
    assert (customer.aum, customer.tier) == (Decimal("6500000.00"), Customer.Tier.WEALTH)


def test_closing_needs_a_reason_and_keeps_the_row(org):
    customer = _make(org, "C0000000401", "周婷")
    with pytest.raises(ValidationError):
        services.customer_close(customer=customer, actor=org["rm1"], reason=" ")
    services.customer_close(customer=customer, actor=org["rm1"], reason="客户申请销户")
    customer.refresh_from_db()
    assert customer.lifecycle_status == Customer.Lifecycle.CLOSED
    assert customer.closed_reason == "客户申请销户"
    assert customer.closed_at is not None


def test_closing_is_refused_while_accounts_are_open(org, product):
    customer = _make(org, "C0000000402", "周婷")
    _account(customer, product, "0000000000000000402", "100")
    with pytest.raises(ValidationError, match="1"):
        services.customer_close(customer=customer, actor=org["rm1"], reason="销户")
    customer.refresh_from_db()
    assert customer.lifecycle_status == Customer.Lifecycle.ACTIVE


def test_another_branchs_rm_cannot_close_a_customer(org):
    from django.http import Http404

    customer = _make(org, "C0000000403", "周婷")
    with pytest.raises(Http404):
        services.customer_close(customer=customer, actor=org["rm2"], reason="销户")
    customer.refresh_from_db()
    assert customer.lifecycle_status == Customer.Lifecycle.ACTIVE


@pytest.fixture
def pair(org, product):
    survivor = _make(org, "C0000000501", "刘洋", phone="13700001111")
    duplicate = _make(org, "C0000000502", "刘阳", id_number="11010519491231002X", occupation="工程师")
    _account(survivor, product, "0000000000000000501", "1000")
    account = _account(duplicate, product, "0000000000000000502", "2000")
    for n in range(3):
        Transaction.objects.create(account=account, customer=duplicate, occurred_at=timezone.now(),
                                   amount=Decimal(10 + n), direction="credit", channel="mobile")
    tag_both, tag_dup = Tag.objects.create(name="高净值"), Tag.objects.create(name="潜在理财")
    CustomerTag.objects.create(customer=survivor, tag=tag_both)
    CustomerTag.objects.create(customer=duplicate, tag=tag_both)
    CustomerTag.objects.create(customer=duplicate, tag=tag_dup)
    spouse = _make(org, "C0000000503", "刘妻")
    Relationship.objects.create(from_customer=spouse, to_customer=duplicate, kind="spouse")
    Relationship.objects.create(from_customer=duplicate, to_customer=survivor, kind="parent")
    segment = Segment.objects.create(name="测试分群")
    SegmentMember.objects.create(segment=segment, customer=duplicate)
    return survivor, duplicate, spouse


def test_merge_repoints_every_child_row_and_loses_nothing(org, pair):
    survivor, duplicate, spouse = pair
    services.customer_merge(survivor=survivor, duplicate=duplicate, actor=org["manager1"])
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert Account.objects.filter(customer=survivor).count() == 2
    assert Transaction.objects.filter(customer=survivor).count() == 3
    assert not Account.objects.filter(customer=duplicate).exists()
    tags = set(CustomerTag.objects.filter(customer=survivor).values_list("tag__name", flat=True))
    assert tags == {"高净值", "潜在理财"}
    assert Relationship.objects.filter(from_customer=spouse, to_customer=survivor, kind="spouse").exists()
    assert not Relationship.objects.filter(from_customer=survivor, to_customer=survivor).exists()
    assert survivor.aum == Decimal("3000.00")
    # Blank fields of the survivor were filled from the duplicate; its own values stayed.
    assert survivor.name == "刘洋"
    assert survivor.occupation == "工程师"
    assert survivor.id_number_masked == "110***********002X"
    assert survivor.phone_masked == "137****1111"
    assert duplicate.lifecycle_status == Customer.Lifecycle.CLOSED
    assert duplicate.merged_into == survivor
    entries = AuditEntry.objects.filter(action="update", detail__has_key="merge")
    assert {e.object_id for e in entries} == {str(survivor.pk), str(duplicate.pk)}


def test_merge_takes_the_chosen_values_from_the_duplicate(org, pair):
    survivor, duplicate, _spouse = pair
    services.customer_merge(survivor=survivor, duplicate=duplicate, actor=org["manager1"],
                            choices={"name": "duplicate"})
    survivor.refresh_from_db()
    assert survivor.name == "刘阳"
    assert survivor.name_pinyin == "liuyang"


def test_merge_needs_the_permission_and_changes_nothing_when_refused(org, pair):
    survivor, duplicate, _spouse = pair
    with pytest.raises(PermissionDenied):
        services.customer_merge(survivor=survivor, duplicate=duplicate, actor=org["rm1"])
    duplicate.refresh_from_db()
    assert duplicate.lifecycle_status == Customer.Lifecycle.ACTIVE
    assert Account.objects.filter(customer=duplicate).count() == 1


def test_dynamic_tags_are_not_set_by_hand(org):
    customer = _make(org, "C0000000601", "杨帆")
    dynamic = Tag.objects.create(name="高净值客户", segment=Segment.objects.create(name="AUM ≥ 600万"))
    with pytest.raises(ValidationError):
        services.customer_tag_add(customer=customer, tag=dynamic, actor=org["rm1"])
    assert not CustomerTag.objects.filter(customer=customer).exists()


def test_create_outside_ones_branches_is_refused(org):
    from org.models import Branch

    with pytest.raises(ValidationError) as caught:
        services.customer_create(actor=org["manager1"], personal={}, data={
            "customer_no": "C0000000701", "kind": "individual", "name": "外行", "home_branch": Branch.objects.get(
                code="SH01"), "primary_rm": None})
    assert "home_branch" in caught.value.message_dict
    assert not Customer.objects.filter(customer_no="C0000000701").exists()


def test_list_sorts_by_aum_highest_first_across_pages(org, product, monkeypatch):
    from customers import selectors

    for n, balance in enumerate(["100", "5000", "300", "5000", "70"]):
        customer = _make(org, f"C00000008{n:02d}", f"客户{n}")
        _account(customer, product, f"00000000000000008{n:02d}", balance)
        services.customer_recalculate(customer=customer)
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    seen, cursor = [], None
    while True:
        rows, cursor = customer_list(user=org["rm1"], filters={"sort": "aum"}, cursor=cursor)
        seen += [row.aum for row in rows]
        if cursor is None:
            break
    assert seen == [Decimal("5000.00"), Decimal("5000.00"), Decimal("300.00"), Decimal("100.00"), Decimal("70.00")]


def test_an_rm_creating_a_customer_without_naming_an_rm_becomes_its_rm(org):
    customer = services.customer_create(actor=org["rm1"], personal={}, data={
        "customer_no": "C0000000901", "kind": "individual", "name": "新客户", "home_branch": org["rm1"].branch,
        "primary_rm": None})
    assert customer.primary_rm == org["rm1"]
