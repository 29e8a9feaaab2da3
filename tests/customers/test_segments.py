"""Segments: every rule kind, validation wording, scoped preview, refresh, dynamic tags, job, pages."""

import datetime
import importlib
import itertools
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.urls import include, path, reverse
from django.utils import timezone, translation

from customers.models import Account, Customer, CustomerTag, Product, Segment, SegmentMember, Tag, Transaction
from customers.segments import matching_customers, segment_preview, segment_refresh, validate_rules
from org.models import AuditEntry, Branch
from reports.models import JobRun

from ..factories import CustomerFactory


def _site_urlpatterns():
    # The segment pages hang under /segments/ in crm_site/urls.py; until that line is there,
    # these tests mount them on top of the site's own URLs.
    from crm_site import urls as site_urls

    if any(getattr(pattern, "namespace", None) == "segments" for pattern in site_urls.urlpatterns):
        return list(site_urls.urlpatterns)
    return [path("segments/", include("customers.segment_urls")), *site_urls.urlpatterns]


urlpatterns = _site_urlpatterns()

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

TODAY = datetime.date(2026, 6, 15)
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _customer(branch_code="BJ01", **fields):
    return CustomerFactory(home_branch=Branch.objects.get(code=branch_code), **fields)


def _account(customer, category, *, status=Account.Status.ACTIVE, matures_on=None):
    number = next(_numbers)
    product = Product.objects.create(code=f"P{number:05d}", name=f"Product {number}", category=category)
    return Account.objects.create(customer=customer, product=product, number=f"A{number:08d}",
                                  opened_on=datetime.date(2020, 1, 1), status=status, matures_on=matures_on)


def _transaction(customer, *, days_ago):
    account = customer.accounts.first() or _account(customer, Product.Category.DEPOSIT)
    return Transaction.objects.create(account=account, customer=customer, amount=Decimal("10.00"),
                                      occurred_at=timezone.now() - datetime.timedelta(days=days_ago),
                                      direction=Transaction.Direction.CREDIT, channel=Transaction.Channel.COUNTER)


def _matching(rules, today=None):
    return set(matching_customers(rules, today=today).values_list("pk", flat=True))


def _ids(*customers):
    return {customer.pk for customer in customers}


def _problems(rules):
    with pytest.raises(ValidationError) as caught:
        validate_rules(rules)
    return caught.value.messages


def _rows(*rules):
    """POST data of the rule editor for (field, op, value) rules; lists go to the checkboxes."""
    data = {"rules-count": str(len(rules))}
    for index, (field, op, value) in enumerate(rules):
        data[f"rules-{index}-field"] = field
        data[f"rules-{index}-op"] = op
        data[f"rules-{index}-{'values' if isinstance(value, list) else 'value'}"] = value
    return data


# --- Each rule kind ---------------------------------------------------------------------------


def test_aum_at_least_and_at_most_include_the_boundary(org):
    rich = _customer(aum=Decimal("6000000.00"))
    just_below = _customer(aum=Decimal("5999999.99"))
    assert _matching([{"field": "aum", "op": "gte", "value": "6000000"}]) == _ids(rich)
    assert _matching([{"field": "aum", "op": "lte", "value": 5999999.99}]) == _ids(just_below)


def test_tier_is_one_of(org):
    wealth = _customer(tier=Customer.Tier.WEALTH)
    private = _customer(tier=Customer.Tier.PRIVATE)
    _customer(tier=Customer.Tier.MASS)
    assert _matching([{"field": "tier", "op": "in", "value": ["wealth", "private"]}]) == _ids(wealth, private)


def test_risk_tolerance_compares_in_c1_to_c5_order_and_never_matches_the_unassessed(org):
    c1 = _customer(risk_tolerance="C1")
    c3 = _customer(risk_tolerance="C3")
    c4 = _customer(risk_tolerance="C4")
    _customer(risk_tolerance="")
    assert _matching([{"field": "risk_tolerance", "op": "lte", "value": "C3"}]) == _ids(c1, c3)
    assert _matching([{"field": "risk_tolerance", "op": "gte", "value": "C3"}]) == _ids(c3, c4)
    assert _matching([{"field": "risk_tolerance", "op": "in", "value": ["C1", "C4"]}]) == _ids(c1, c4)


@pytest.mark.parametrize(("field", "wanted", "other"), [
    ("lifecycle_status", Customer.Lifecycle.DORMANT, Customer.Lifecycle.ACTIVE),
    ("kind", Customer.Kind.CORPORATE, Customer.Kind.INDIVIDUAL),
    ("kyc_status", Customer.KycStatus.EXPIRED, Customer.KycStatus.VERIFIED),
])
def test_plain_choice_fields_match_the_listed_values(org, field, wanted, other):
    match = _customer(**{field: wanted})
    _customer(**{field: other})
    assert _matching([{"field": field, "op": "in", "value": [wanted]}]) == _ids(match)


def test_home_branch_includes_the_branches_under_it(org):
    haidian = _customer("BJ01")
    zhongguancun = _customer("BJ0101")
    chaoyang = _customer("BJ02")
    pudong = _customer("SH01")
    assert _matching([{"field": "home_branch", "op": "in", "value": ["BJ01"]}]) == _ids(haidian, zhongguancun)
    assert _matching([{"field": "home_branch", "op": "in", "value": ["BJ"]}]) == _ids(haidian, zhongguancun, chaoyang)
    assert _matching([{"field": "home_branch", "op": "in", "value": ["BJ02", "SH01"]}]) == _ids(chaoyang, pudong)


def test_risk_expiring_within_days_counts_expired_and_never_assessed_too(org):
    soon = _customer(risk_expires_on=TODAY + datetime.timedelta(days=30))
    expired = _customer(risk_expires_on=TODAY - datetime.timedelta(days=1))
    never = _customer(risk_expires_on=None)
    _customer(risk_expires_on=TODAY + datetime.timedelta(days=31))
    rules = [{"field": "risk_expires_within_days", "op": "lte", "value": 30}]
    assert _matching(rules, today=TODAY) == _ids(soon, expired, never)


def test_age_counts_whole_years_from_the_birth_date(org):
    sixty_today = _customer(birth_date=datetime.date(1966, 6, 15))
    sixty_tomorrow = _customer(birth_date=datetime.date(1966, 6, 16))
    thirty_last_day = _customer(birth_date=datetime.date(1995, 6, 16))
    thirty_one_today = _customer(birth_date=datetime.date(1995, 6, 15))
    _customer(birth_date=None)
    assert _matching([{"field": "age", "op": "gte", "value": 60}], today=TODAY) == _ids(sixty_today)
    assert _matching([{"field": "age", "op": "lte", "value": 30}], today=TODAY) == _ids(thirty_last_day)
    assert _matching([{"field": "age", "op": "gte", "value": 31}, {"field": "age", "op": "lte", "value": 59}],
                     today=TODAY) == _ids(sixty_tomorrow, thirty_one_today)


def test_holds_product_category_needs_an_active_account_of_that_category(org):
    fund_holder = _customer()
    _account(fund_holder, Product.Category.FUND)
    insured = _customer()
    _account(insured, Product.Category.INSURANCE)
    closed_fund = _customer()
    _account(closed_fund, Product.Category.FUND, status=Account.Status.CLOSED)
    depositor = _customer()
    _account(depositor, Product.Category.DEPOSIT)
    assert _matching([{"field": "holds_product_category", "op": "in", "value": ["fund"]}]) == _ids(fund_holder)
    assert _matching([{"field": "holds_product_category", "op": "in", "value": ["fund", "insurance"]}]) == _ids(
        fund_holder, insured)


def test_matures_within_days_looks_at_active_holdings_from_today(org):
    maturing = _customer()
    _account(maturing, Product.Category.TIME_DEPOSIT, matures_on=TODAY + datetime.timedelta(days=30))
    later = _customer()
    _account(later, Product.Category.TIME_DEPOSIT, matures_on=TODAY + datetime.timedelta(days=31))
    already_matured = _customer()
    _account(already_matured, Product.Category.TIME_DEPOSIT, status=Account.Status.MATURED,
             matures_on=TODAY + datetime.timedelta(days=5))
    past_date = _customer()
    _account(past_date, Product.Category.TIME_DEPOSIT, matures_on=TODAY - datetime.timedelta(days=1))
    rules = [{"field": "matures_within_days", "op": "lte", "value": 30}]
    assert _matching(rules, today=TODAY) == _ids(maturing)


def test_no_transaction_in_days_matches_the_quiet_and_those_who_never_transacted(org):
    quiet = _customer()
    _transaction(quiet, days_ago=100)
    never = _customer()
    busy = _customer()
    _transaction(busy, days_ago=100)
    _transaction(busy, days_ago=10)
    assert _matching([{"field": "no_transaction_in_days", "op": "gte", "value": 90}]) == _ids(quiet, never)


def test_marketing_consent_is_yes_or_no(org):
    agreed = _customer(marketing_consent=True)
    refused = _customer(marketing_consent=False)
    assert _matching([{"field": "marketing_consent", "op": "eq", "value": True}]) == _ids(agreed)
    assert _matching([{"field": "marketing_consent", "op": "eq", "value": "false"}]) == _ids(refused)


def test_tag_matches_customers_with_any_listed_tag(org):
    vip, golf, other = (Tag.objects.create(name=name) for name in ("VIP", "Golf", "Other"))
    with_vip = _customer()
    with_golf = _customer()
    with_other = _customer()
    CustomerTag.objects.create(customer=with_vip, tag=vip)
    CustomerTag.objects.create(customer=with_golf, tag=golf)
    CustomerTag.objects.create(customer=with_other, tag=other)
    assert _matching([{"field": "tag", "op": "in", "value": [vip.pk, golf.pk]}]) == _ids(with_vip, with_golf)


def test_every_rule_must_hold_as_in_the_affluent_and_quiet_example(org):
    rules = [
        {"field": "aum", "op": "gte", "value": "6000000"},
        {"field": "risk_tolerance", "op": "lte", "value": "C3"},
        {"field": "no_transaction_in_days", "op": "gte", "value": 90},
    ]
    target = _customer(aum=Decimal("8000000"), risk_tolerance="C2")
    _transaction(target, days_ago=120)
    bold = _customer(aum=Decimal("8000000"), risk_tolerance="C5")
    active = _customer(aum=Decimal("8000000"), risk_tolerance="C2")
    _transaction(active, days_ago=3)
    poorer = _customer(aum=Decimal("100000"), risk_tolerance="C2")
    assert _matching(rules) == _ids(target)
    assert {bold.pk, active.pk, poorer.pk}.isdisjoint(_matching(rules))


def test_customers_merged_into_another_never_match(org):
    survivor = _customer(tier=Customer.Tier.WEALTH)
    _customer(tier=Customer.Tier.WEALTH, merged_into=survivor, lifecycle_status=Customer.Lifecycle.CLOSED)
    assert _matching([{"field": "tier", "op": "in", "value": ["wealth"]}]) == _ids(survivor)


# --- Validation --------------------------------------------------------------------------------


def test_validation_names_the_rule_and_an_unknown_field(org):
    assert _problems([{"field": "aum", "op": "gte", "value": 1}, {"field": "shoe_size", "op": "gte", "value": 42}]) \
        == ["Rule 2: “shoe_size” is not a field segments can use."]


def test_validation_names_the_operators_a_field_allows(org):
    assert _problems([{"field": "aum", "op": "in", "value": [1]}]) == [
        "Rule 1: “Assets under management (¥)” cannot use the operator “is one of”; use “at least”, “at most”."
    ]


@pytest.mark.parametrize(("rule", "problem"), [
    ({"field": "aum", "op": "gte", "value": "lots"}, "Rule 1: the value must be an amount."),
    ({"field": "aum", "op": "gte", "value": "-5"}, "Rule 1: the amount must be zero or more."),
    ({"field": "aum", "op": "gte", "value": ""}, "Rule 1: the value is missing."),
    ({"field": "age", "op": "gte", "value": 200}, "Rule 1: the value must be between 0 and 150."),
    ({"field": "age", "op": "gte", "value": "sixty"}, "Rule 1: the value must be a whole number."),
    ({"field": "risk_tolerance", "op": "lte", "value": "C9"}, "Rule 1: “C9” is not a choice of this field."),
    ({"field": "tier", "op": "in", "value": []}, "Rule 1: choose at least one value."),
    ({"field": "marketing_consent", "op": "eq", "value": "perhaps"}, "Rule 1: the value must be yes or no."),
    ({"field": "home_branch", "op": "in", "value": ["XX99"]}, "Rule 1: there is no branch with code “XX99”."),
    ({"field": "tag", "op": "in", "value": [987654]}, "Rule 1: there is no tag number 987654."),
    ({"field": "tier"}, "Rule 1: a rule needs a field, an operator and a value."),
])
def test_validation_names_the_rule_and_what_is_wrong_with_its_value(org, rule, problem):
    assert _problems([rule]) == [problem]


def test_validation_lists_every_wrong_rule_and_refuses_an_empty_rule_set(org):
    assert _problems([{"field": "age", "op": "gte", "value": "x"}, {"field": "tier", "op": "in", "value": ["mass"]},
                      {"field": "kind", "op": "gte", "value": "x"}]) == [
        "Rule 1: the value must be a whole number.",
        "Rule 3: “Customer kind” cannot use the operator “at least”; use “is one of”.",
    ]
    assert _problems([]) == ["A segment needs at least one rule."]
    assert _problems("aum > 5") == ["Rules must be a list."]


def test_validation_returns_the_rules_normalised(org):
    assert validate_rules([
        {"field": "aum", "op": "gte", "value": 6000000},
        {"field": "age", "op": "lte", "value": "65"},
        {"field": "tier", "op": "in", "value": "wealth"},
        {"field": "marketing_consent", "op": "eq", "value": "true"},
    ]) == [
        {"field": "aum", "op": "gte", "value": "6000000"},
        {"field": "age", "op": "lte", "value": 65},
        {"field": "tier", "op": "in", "value": ["wealth"]},
        {"field": "marketing_consent", "op": "eq", "value": True},
    ]


# --- Preview and refresh -----------------------------------------------------------------------


def _wealthy(org, owner, branch_code=None):
    user = org[owner]
    return CustomerFactory(home_branch=Branch.objects.get(code=branch_code) if branch_code else user.branch,
                           primary_rm=user, tier=Customer.Tier.WEALTH)


WEALTH_RULES = [{"field": "tier", "op": "in", "value": ["wealth"]}]


def test_preview_counts_only_the_customers_the_user_may_see(org):
    _wealthy(org, "rm1")
    _wealthy(org, "rm1")
    _wealthy(org, "rm3")
    _wealthy(org, "rm2")
    CustomerFactory(home_branch=Branch.objects.get(code="SH01"), tier=Customer.Tier.WEALTH)
    CustomerFactory(home_branch=org["rm1"].branch, primary_rm=org["rm1"], tier=Customer.Tier.MASS)
    assert segment_preview(user=org["rm1"], rules=WEALTH_RULES) == 2
    assert segment_preview(user=org["manager1"], rules=WEALTH_RULES) == 3
    assert segment_preview(user=org["marketing1"], rules=WEALTH_RULES) == 5


def test_preview_refuses_bad_rules_with_the_rule_named(org):
    with pytest.raises(ValidationError) as caught:
        segment_preview(user=org["marketing1"], rules=[{"field": "tier", "op": "gte", "value": "x"}])
    assert caught.value.messages == ["Rule 1: “Tier” cannot use the operator “at least”; use “is one of”."]


def test_refresh_stores_bank_wide_membership_and_the_date(org):
    members = [_wealthy(org, "rm1"), _wealthy(org, "rm2"),
               CustomerFactory(home_branch=Branch.objects.get(code="SH01"), tier=Customer.Tier.WEALTH)]
    _customer(tier=Customer.Tier.MASS)
    segment = Segment.objects.create(name="Wealth", rules=WEALTH_RULES)
    before = timezone.now()

    assert segment_refresh(segment=segment) == (3, 0)

    segment.refresh_from_db()
    assert set(SegmentMember.objects.filter(segment=segment).values_list("customer_id", flat=True)) == _ids(*members)
    assert segment.member_count == 3
    assert segment.refreshed_at >= before


def test_refresh_twice_on_unchanged_data_changes_nothing(org):
    _wealthy(org, "rm1")
    _wealthy(org, "rm2")
    segment = Segment.objects.create(name="Wealth", rules=WEALTH_RULES)
    segment_refresh(segment=segment)
    since = dict(SegmentMember.objects.filter(segment=segment).values_list("customer_id", "since"))

    assert segment_refresh(segment=segment) == (0, 0)
    assert dict(SegmentMember.objects.filter(segment=segment).values_list("customer_id", "since")) == since


def test_refresh_adds_newcomers_and_removes_leavers(org):
    stays = _wealthy(org, "rm1")
    leaves = _wealthy(org, "rm1")
    segment = Segment.objects.create(name="Wealth", rules=WEALTH_RULES)
    segment_refresh(segment=segment)
    Customer.objects.filter(pk=leaves.pk).update(tier=Customer.Tier.MASS)
    joins = _wealthy(org, "rm2")

    assert segment_refresh(segment=segment) == (1, 1)
    assert set(segment.members.values_list("customer_id", flat=True)) == _ids(stays, joins)
    assert segment.member_count == 2


def test_dynamic_tag_follows_membership_and_leaves_other_tags_alone(org):
    stays, leaves = _wealthy(org, "rm1"), _wealthy(org, "rm1")
    outsider = _customer(tier=Customer.Tier.MASS)
    segment = Segment.objects.create(name="Wealth", rules=WEALTH_RULES)
    tag = Tag.objects.create(name="Wealth clients", segment=segment)
    manual = Tag.objects.create(name="Golf")
    CustomerTag.objects.create(customer=outsider, tag=tag)  # stale: put there before the segment existed
    CustomerTag.objects.create(customer=leaves, tag=manual)

    segment_refresh(segment=segment)
    assert set(tag.customer_tags.values_list("customer_id", flat=True)) == _ids(stays, leaves)

    Customer.objects.filter(pk=leaves.pk).update(tier=Customer.Tier.MASS)
    joins = _wealthy(org, "rm2")
    segment_refresh(segment=segment)
    assert set(tag.customer_tags.values_list("customer_id", flat=True)) == _ids(stays, joins)
    assert set(manual.customer_tags.values_list("customer_id", flat=True)) == _ids(leaves)


def test_refresh_of_a_segment_with_broken_rules_changes_nothing(org):
    member = _wealthy(org, "rm1")
    segment = Segment.objects.create(name="Wealth", rules=WEALTH_RULES)
    segment_refresh(segment=segment)
    Segment.objects.filter(pk=segment.pk).update(rules=[{"field": "shoe_size", "op": "gte", "value": 1}])
    segment.refresh_from_db()

    with pytest.raises(ValidationError):
        segment_refresh(segment=segment)
    assert set(segment.members.values_list("customer_id", flat=True)) == _ids(member)


def test_refresh_job_refreshes_every_segment_and_reports_progress(org):
    from crm_site.jobs import jobrun_execute

    _wealthy(org, "rm1")
    _customer(marketing_consent=True)
    wealth = Segment.objects.create(name="Wealth", rules=WEALTH_RULES)
    consent = Segment.objects.create(name="Consent", rules=[{"field": "marketing_consent", "op": "eq", "value": True}])
    broken = Segment.objects.create(name="Broken", rules=[{"field": "shoe_size", "op": "gte", "value": 1}])

    run = jobrun_execute(run=JobRun.objects.create(name="segments_refresh"))

    assert (run.status, run.rows_total, run.rows_done, run.rows_changed, run.rows_failed) == (
        JobRun.Status.SUCCEEDED, 3, 3, 2, 1)
    assert [s.member_count for s in Segment.objects.filter(pk__in=[wealth.pk, consent.pk]).order_by("pk")] == [1, 1]
    assert Segment.objects.get(pk=broken.pk).refreshed_at is None


def test_refresh_job_takes_one_segment_by_id(org):
    from crm_site.jobs import jobrun_execute

    _wealthy(org, "rm1")
    wealth = Segment.objects.create(name="Wealth", rules=WEALTH_RULES)
    other = Segment.objects.create(name="Other", rules=WEALTH_RULES)

    run = jobrun_execute(run=JobRun.objects.create(name="segments_refresh", params={"segment_id": str(wealth.pk)}))

    assert (run.rows_total, run.rows_changed) == (1, 1)
    assert Segment.objects.get(pk=wealth.pk).member_count == 1
    assert Segment.objects.get(pk=other.pk).refreshed_at is None


def test_nightly_schedule_runs_the_refresh_job_at_half_past_two(roles, settings):
    from django_celery_beat.models import PeriodicTask

    # The row comes from a data migration (a transactional test's flush removes it): run its step.
    migration = importlib.import_module("customers.migrations.0007_segments_schedule")
    migration.create_schedule(django_apps, None)
    migration.create_schedule(django_apps, None)

    task = PeriodicTask.objects.get(name="Refresh segments")
    assert (task.task, task.args) == ("reports.tasks.run_job", '["segments_refresh"]')
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("30", "2", settings.TIME_ZONE)


# --- Pages -------------------------------------------------------------------------------------


def _members_page(client, segment, **params):
    return client.get(reverse("segments:segment-members", args=[segment.pk]), params)


def test_member_list_shows_only_members_the_user_may_see_with_masked_names(org, client_for):
    own = _wealthy(org, "rm1")
    colleagues = _wealthy(org, "rm3")
    elsewhere = _wealthy(org, "rm2")
    segment = Segment.objects.create(name="Wealth", rules=WEALTH_RULES)
    segment_refresh(segment=segment)

    rm1_page = _members_page(client_for("rm1"), segment).content.decode()
    manager_page = _members_page(client_for("manager1"), segment).content.decode()

    assert own.customer_no in rm1_page
    assert own.display_name in rm1_page
    assert own.name not in rm1_page
    assert colleagues.customer_no not in rm1_page
    assert elsewhere.customer_no not in rm1_page
    assert own.customer_no in manager_page
    assert colleagues.customer_no in manager_page
    assert elsewhere.customer_no not in manager_page


def test_member_list_pages_by_keyset(org, client_for):
    for _ in range(27):
        _wealthy(org, "rm1")
    segment = Segment.objects.create(name="Wealth", rules=WEALTH_RULES)
    segment_refresh(segment=segment)
    client = client_for("rm1")

    first = _members_page(client, segment)
    cursor = first.context["next_cursor"]
    second = _members_page(client, segment, after=cursor)

    assert len(first.context["members"]) == 25
    assert len(second.context["members"]) == 2
    assert second.context["next_cursor"] is None
    shown = [c.customer_no for c in first.context["members"] + second.context["members"]]
    assert shown == sorted(Customer.objects.values_list("customer_no", flat=True))


def test_member_list_query_count_does_not_grow_with_members(org, client_for, django_assert_max_num_queries):
    for _ in range(25):
        _wealthy(org, "rm1")
    segment = Segment.objects.create(name="Wealth", rules=WEALTH_RULES)
    segment_refresh(segment=segment)
    client = client_for("manager1")

    with django_assert_max_num_queries(8):
        response = _members_page(client, segment)
    assert len(response.context["members"]) == 25


def test_segment_list_shows_members_and_refresh_date(org, client_for):
    _wealthy(org, "rm1")
    segment = Segment.objects.create(name="Wealth", rules=WEALTH_RULES)
    segment_refresh(segment=segment)

    page = client_for("rm1").get(reverse("segments:segment-list")).content.decode()

    assert "Wealth" in page
    assert timezone.localtime(segment.refreshed_at).strftime("%Y-%m-%d %H:%M") in page
    assert reverse("segments:segment-create") not in page


def test_marketing_creates_a_segment_from_the_rule_editor(org, client_for):
    data = {"name": "Affluent and quiet", "description": "Call them", "action": "save",
            **_rows(("aum", "gte", "6000000"), ("risk_tolerance", "lte", "C3"), ("no_transaction_in_days", "gte", "90"),
                    ("tier", "in", ["wealth", "private"]))}

    response = client_for("marketing1").post(reverse("segments:segment-create"), data)

    assert response.status_code == 302
    segment = Segment.objects.get(name="Affluent and quiet")
    assert segment.owner == org["marketing1"]
    assert segment.rules == [
        {"field": "aum", "op": "gte", "value": "6000000"},
        {"field": "risk_tolerance", "op": "lte", "value": "C3"},
        {"field": "no_transaction_in_days", "op": "gte", "value": 90},
        {"field": "tier", "op": "in", "value": ["wealth", "private"]},
    ]
    assert AuditEntry.objects.filter(object_type="customers.segment", object_id=str(segment.pk),
                                     action=AuditEntry.Action.CREATE).exists()


def test_builder_shows_the_broken_rule_and_saves_nothing(org, client_for):
    data = {"name": "Broken", "action": "save", **_rows(("tier", "in", ["wealth"]), ("age", "gte", "abc"))}

    response = client_for("marketing1").post(reverse("segments:segment-create"), data)

    assert response.status_code == 200
    assert response.context["problems"] == ["Rule 2: the value must be a whole number."]
    assert "Rule 2: the value must be a whole number." in response.content.decode()
    assert not Segment.objects.exists()


def test_add_rule_rerenders_the_form_with_one_more_row(org, client_for):
    data = {"name": "Draft", "action": "add", **_rows(("tier", "in", ["wealth"]))}

    response = client_for("marketing1").post(reverse("segments:segment-create"), data)

    assert response.status_code == 200
    assert len(response.context["rule_forms"]) == 2
    assert response.content.decode().count('data-testid="rule-row"') == 2
    assert 'value="Draft"' in response.content.decode()
    assert not Segment.objects.exists()


def test_changing_a_rules_field_over_htmx_returns_the_editor_fitted_to_it(org, client_for):
    data = {"action": "reshape", **_rows(("risk_tolerance", "lte", "C3"))}
    data["rules-0-field"] = "holds_product_category"

    response = client_for("marketing1").post(reverse("segments:segment-create"), data, HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert [t.name for t in response.templates][0] == "customers/segments/partials/rule_editor.html"
    (rule,) = response.context["rule_forms"]
    assert (rule.initial["op"], rule.mode) == ("in", "multi")
    assert 'value="time_deposit"' in body
    assert 'hx-swap-oob="true"' in body


def test_preview_partial_counts_within_what_the_user_may_see(org, client_for):
    _wealthy(org, "rm1")
    _wealthy(org, "rm2")
    data = _rows(("tier", "in", ["wealth"]))

    response = client_for("manager1").post(reverse("segments:segment-preview"), data, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "1 customer matches (within what you can see)" in response.content.decode()
    marketing = client_for("marketing1").post(reverse("segments:segment-preview"), data, HTTP_HX_REQUEST="true")
    assert "2 customers match (within what you can see)" in marketing.content.decode()


def test_refresh_now_stores_members_and_is_audited(org, client_for):
    _wealthy(org, "rm1")
    segment = Segment.objects.create(name="Wealth", rules=WEALTH_RULES)

    response = client_for("marketing1").post(reverse("segments:segment-refresh", args=[segment.pk]))

    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.member_count == 1
    assert segment.refreshed_at is not None
    entry = AuditEntry.objects.get(object_type="customers.segment", object_id=str(segment.pk),
                                   action=AuditEntry.Action.UPDATE, actor_username="marketing1",
                                   detail__has_key="refresh")
    assert entry.detail["refresh"] == {"added": 1, "removed": 0, "members": 1}


# --- Who may use which route -------------------------------------------------------------------

ROUTES = [
    # (url name, method, takes the segment id, what it needs)
    ("segments:segment-list", "get", False, "view"),
    ("segments:segment-members", "get", True, "view"),
    ("segments:segment-create", "get", False, "build"),
    ("segments:segment-create", "post", False, "build"),
    ("segments:segment-edit", "get", True, "build"),
    ("segments:segment-edit", "post", True, "build"),
    ("segments:segment-preview", "post", False, "build"),
    ("segments:segment-refresh", "post", True, "build"),
]
ALLOWED = {"marketing1": {"view", "build"}, "manager1": {"view", "build"}, "rm1": {"view"}, "service1": set()}


def _state():
    return (list(Segment.objects.order_by("pk").values_list("name", "rules", "refreshed_at", "member_count")),
            SegmentMember.objects.count())


@pytest.mark.parametrize(("name", "method", "with_id", "needs"), ROUTES)
@pytest.mark.parametrize("username", ["anonymous", "service1", "rm1", "marketing1", "manager1"])
def test_segment_routes_permission_matrix(org, client, client_for, username, name, method, with_id, needs):
    from django.test import Client

    _wealthy(org, "rm1")
    segment = Segment.objects.create(name="Wealth", rules=WEALTH_RULES)
    url = reverse(name, args=[segment.pk] if with_id else [])
    data = {"name": "Renamed", "action": "save", **_rows(("tier", "in", ["private"]))}
    before = _state()

    browser = Client() if username == "anonymous" else client_for(username)
    response = getattr(browser, method)(url, data if method == "post" else None)

    if username == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    elif needs not in ALLOWED[username]:
        assert response.status_code == 403
    else:
        assert response.status_code == (302 if method == "post" and name != "segments:segment-preview" else 200)
    if method == "post" and (username == "anonymous" or needs not in ALLOWED[username]):
        assert _state() == before
