"""The tier and lifecycle job: tiers from thresholds, dormancy, AUM history, churn-risk episodes once per episode."""

import datetime
import itertools
import json
import zoneinfo
from decimal import Decimal

import pytest
from django.core.management import call_command

from customers.lifecycle import lifecycle_refresh, parse_params
from customers.models import (
    Account,
    ChurnRiskEpisode,
    Customer,
    CustomerAumSnapshot,
    Product,
    RfmRun,
    RfmScore,
    TierThreshold,
    Transaction,
)
from org.models import AuditEntry, Branch
from reports.models import JobRun

from ..factories import CustomerFactory

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
AS_OF = datetime.date(2026, 11, 1)
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def thresholds(db):
    # The defaults come from a data migration that a transactional test's flush removes.
    TierThreshold.objects.all().delete()
    for tier, amount in (("mass", "0"), ("affluent", "500000"), ("wealth", "6000000"), ("private", "30000000")):
        TierThreshold.objects.create(tier=tier, min_aum=Decimal(amount))


def _customer(*, aum="0", created_days_ago=400, **fields):
    customer = CustomerFactory(home_branch=Branch.objects.get(code="BJ01"), aum=Decimal(aum), **fields)
    created = datetime.datetime.combine(AS_OF, datetime.time(9), tzinfo=SHANGHAI) - datetime.timedelta(
        days=created_days_ago)
    Customer.objects.filter(pk=customer.pk).update(created_at=created)
    return customer


def _pay(customer, days_before_as_of):
    product, _created = Product.objects.get_or_create(
        code="LC-DEP", defaults={"name": "Deposit", "category": Product.Category.DEPOSIT})
    account = customer.accounts.first() or Account.objects.create(
        customer=customer, product=product, number=f"L{next(_numbers):09d}", opened_on=datetime.date(2020, 1, 1))
    when = datetime.datetime.combine(AS_OF - datetime.timedelta(days=days_before_as_of), datetime.time(12),
                                     tzinfo=SHANGHAI)
    Transaction.objects.create(account=account, customer=customer, occurred_at=when, amount=Decimal("10.00"),
                               direction=Transaction.Direction.CREDIT, channel=Transaction.Channel.COUNTER)


def _reload(customer):
    customer.refresh_from_db()
    return customer


def test_tier_follows_the_thresholds_at_their_boundaries(org):
    below = _customer(aum="499999.99", tier=Customer.Tier.WEALTH)
    at = _customer(aum="500000.00")
    wealth = _customer(aum="6000000.00")
    private = _customer(aum="45000000.00", tier=Customer.Tier.PRIVATE)

    result = lifecycle_refresh(as_of=AS_OF)

    assert [_reload(c).tier for c in (below, at, wealth, private)] == ["mass", "affluent", "wealth", "private"]
    assert result.tiers_changed == 3


def test_tier_follows_thresholds_an_administrator_changed(org):
    customer = _customer(aum="800000.00", tier=Customer.Tier.AFFLUENT)
    TierThreshold.objects.filter(tier="affluent").update(min_aum=Decimal("1000000"))

    lifecycle_refresh(as_of=AS_OF)

    assert _reload(customer).tier == Customer.Tier.MASS


def test_dormant_after_the_set_days_without_transactions_and_active_again_on_a_new_one(org):
    quiet = _customer()
    _pay(quiet, 180)  # 180 days before as_of: outside the 180 days ending with as_of
    recent = _customer()
    _pay(recent, 179)
    never = _customer()
    newcomer = _customer(created_days_ago=30)
    prospect = _customer(lifecycle_status=Customer.Lifecycle.PROSPECT)
    closed = _customer(lifecycle_status=Customer.Lifecycle.CLOSED)
    sleeper = _customer(lifecycle_status=Customer.Lifecycle.DORMANT)
    _pay(sleeper, 2)

    result = lifecycle_refresh(as_of=AS_OF)

    statuses = [_reload(c).lifecycle_status for c in (quiet, recent, never, newcomer, prospect, closed, sleeper)]
    assert statuses == ["dormant", "active", "dormant", "active", "prospect", "closed", "active"]
    assert (result.made_dormant, result.reactivated) == (2, 1)


def test_dormant_days_is_a_parameter(org):
    customer = _customer()
    _pay(customer, 40)

    lifecycle_refresh(as_of=AS_OF, dormant_days=30)

    assert _reload(customer).lifecycle_status == Customer.Lifecycle.DORMANT


def test_a_second_run_on_unchanged_data_changes_nothing(org):
    customer = _customer(aum="700000.00")
    _customer()
    lifecycle_refresh(as_of=AS_OF)
    before = Customer.objects.filter(pk=customer.pk).values().get()
    audit_count = AuditEntry.objects.count()

    again = lifecycle_refresh(as_of=AS_OF)

    assert again.changed == 0
    assert Customer.objects.filter(pk=customer.pk).values().get() == before
    assert AuditEntry.objects.count() == audit_count


def test_aum_history_is_a_change_log(org):
    customer = _customer(aum="100.00")

    first = lifecycle_refresh(as_of=AS_OF)
    unchanged = lifecycle_refresh(as_of=AS_OF + datetime.timedelta(days=1))
    Customer.objects.filter(pk=customer.pk).update(aum=Decimal("150.00"))
    changed = lifecycle_refresh(as_of=AS_OF + datetime.timedelta(days=2))

    assert (first.snapshots_written, unchanged.snapshots_written, changed.snapshots_written) == (1, 0, 1)
    assert list(CustomerAumSnapshot.objects.filter(customer=customer).order_by("taken_on")
                .values_list("taken_on", "aum")) == [
        (AS_OF, Decimal("100.00")), (AS_OF + datetime.timedelta(days=2), Decimal("150.00"))]


def test_snapshots_no_look_back_can_reach_are_pruned(org):
    customer = _customer(aum="300.00")
    for days_ago, aum in ((200, "100.00"), (150, "200.00"), (95, "250.00"), (10, "300.00")):
        CustomerAumSnapshot.objects.create(customer=customer, taken_on=AS_OF - datetime.timedelta(days=days_ago),
                                           aum=Decimal(aum))

    lifecycle_refresh(as_of=AS_OF)

    # 95 days ago is the AUM the 90-day look-back reads; the two older ones can go.
    assert list(CustomerAumSnapshot.objects.filter(customer=customer).order_by("taken_on")
                .values_list("aum", flat=True)) == [Decimal("250.00"), Decimal("300.00")]


# --- Churn risk ---------------------------------------------------------------------------------


def _aum_90_days_ago(customer, aum):
    CustomerAumSnapshot.objects.create(customer=customer, taken_on=AS_OF - datetime.timedelta(days=100),
                                       aum=Decimal(aum))


def test_aum_falling_more_than_the_share_in_90_days_opens_an_episode(org):
    falling = _customer(aum="600000.00", primary_rm=org["rm1"])
    _aum_90_days_ago(falling, "1000000.00")
    steady = _customer(aum="750000.00")
    _aum_90_days_ago(steady, "1000000.00")  # a 25 % fall is within the 30 % share

    result = lifecycle_refresh(as_of=AS_OF)

    episode = ChurnRiskEpisode.objects.get()
    assert (episode.customer_id, episode.opened_on, episode.closed_on) == (falling.pk, AS_OF, None)
    assert (episode.aum_drop, episode.recency_drop) == (True, False)
    assert (episode.aum_before, episode.aum_now) == (Decimal("1000000.00"), Decimal("600000.00"))
    assert result.episodes_opened == [episode.pk]
    entry = AuditEntry.objects.get(object_type="customers.churnriskepisode", object_id=str(episode.pk))
    assert entry.action == AuditEntry.Action.CREATE


def test_the_same_episode_is_not_opened_again_every_night(org):
    falling = _customer(aum="100.00")
    _aum_90_days_ago(falling, "1000.00")

    first = lifecycle_refresh(as_of=AS_OF)
    second = lifecycle_refresh(as_of=AS_OF + datetime.timedelta(days=1))

    assert len(first.episodes_opened) == 1
    assert second.episodes_opened == []
    assert ChurnRiskEpisode.objects.count() == 1


def test_an_episode_closes_when_the_signs_go_and_a_new_fall_opens_a_new_one(org):
    customer = _customer(aum="100.00")
    _aum_90_days_ago(customer, "1000.00")
    lifecycle_refresh(as_of=AS_OF)

    Customer.objects.filter(pk=customer.pk).update(aum=Decimal("1000.00"))
    closing = lifecycle_refresh(as_of=AS_OF + datetime.timedelta(days=1))
    Customer.objects.filter(pk=customer.pk).update(aum=Decimal("100.00"))
    reopening = lifecycle_refresh(as_of=AS_OF + datetime.timedelta(days=2))

    assert closing.episodes_closed == 1
    assert len(reopening.episodes_opened) == 1
    assert list(ChurnRiskEpisode.objects.order_by("opened_on").values_list("opened_on", "closed_on")) == [
        (AS_OF, AS_OF + datetime.timedelta(days=1)), (AS_OF + datetime.timedelta(days=2), None)]


def _rfm(customer, as_of, r_score):
    run, _created = RfmRun.objects.get_or_create(as_of=as_of)
    RfmScore.objects.create(run=run, customer=customer, recency_days=1, frequency=1, monetary=Decimal(1),
                            r_score=r_score, f_score=3, m_score=3, label=RfmScore.Label.NEED_ATTENTION)


def test_recency_score_dropping_two_levels_since_the_previous_run_opens_an_episode(org):
    two_down = _customer()
    one_down = _customer()
    _rfm(two_down, AS_OF - datetime.timedelta(days=1), 5)
    _rfm(two_down, AS_OF, 3)
    _rfm(one_down, AS_OF - datetime.timedelta(days=1), 5)
    _rfm(one_down, AS_OF, 4)

    lifecycle_refresh(as_of=AS_OF)

    episode = ChurnRiskEpisode.objects.get()
    assert (episode.customer_id, episode.aum_drop, episode.recency_drop, episode.r_before, episode.r_now) == (
        two_down.pk, False, True, 5, 3)


def test_closed_customers_get_no_episode(org):
    closed = _customer(aum="0.00", lifecycle_status=Customer.Lifecycle.CLOSED)
    _aum_90_days_ago(closed, "1000.00")

    lifecycle_refresh(as_of=AS_OF)

    assert not ChurnRiskEpisode.objects.exists()


# --- The job ------------------------------------------------------------------------------------


def test_run_job_lifecycle_takes_string_params(org, capsys):
    customer = _customer(aum="700000.00")
    _pay(customer, 5)

    call_command("run_job", "lifecycle", "--param", "as_of=2026-11-01", "--param", "dormant_days=180",
                 "--param", "aum_drop_share=0.3")

    run = JobRun.objects.get(pk=json.loads(capsys.readouterr().out)["id"])
    assert (run.status, run.rows_done) == (JobRun.Status.SUCCEEDED, 4)
    assert run.rows_changed >= 2  # the tier and the first AUM snapshot
    assert _reload(customer).tier == Customer.Tier.AFFLUENT


def test_job_params_are_checked():
    assert parse_params("2026-11-01", "90", "0.5") == (AS_OF, 90, Decimal("0.5"))
    with pytest.raises(ValueError, match="aum_drop_share"):
        parse_params("2026-11-01", None, "1.5")
    with pytest.raises(ValueError, match="dormant_days"):
        parse_params("2026-11-01", "0", None)


def test_nightly_schedule_exists():
    import importlib

    from django.apps import apps as django_apps
    from django_celery_beat.models import PeriodicTask

    migration = importlib.import_module("customers.migrations.0014_lifecycle_schedule")
    migration.create_schedule(django_apps, None)
    migration.create_schedule(django_apps, None)

    task = PeriodicTask.objects.get(name="Tiers, dormancy and churn risk")
    assert (task.task, task.args, task.crontab.hour, task.crontab.minute) == (
        "reports.tasks.run_job", '["lifecycle"]', "3", "30")


def test_a_new_episode_gives_the_owning_rm_one_task_and_later_nights_none(org):
    from interactions.models import Task

    falling = _customer(aum="100.00", primary_rm=org["rm1"])
    _aum_90_days_ago(falling, "1000.00")
    orphan = _customer(aum="100.00", primary_rm=None)
    _aum_90_days_ago(orphan, "1000.00")

    lifecycle_refresh(as_of=AS_OF)
    lifecycle_refresh(as_of=AS_OF + datetime.timedelta(days=1))

    task = Task.objects.get()
    assert (task.customer_id, task.assignee, task.priority, task.status) == (
        falling.pk, org["rm1"], Task.Priority.HIGH, Task.Status.OPEN)
    assert "1000.00" in task.description
    assert "100.00" in task.description
    assert ChurnRiskEpisode.objects.count() == 2  # the customer without an RM is flagged too
