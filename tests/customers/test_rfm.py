"""RFM scoring: raw values, quintile scores with ties, inactive customers, labels, snapshots, the job."""

import datetime
import itertools
import json
import random
import zoneinfo
from decimal import Decimal

import pandas as pd
import pytest
from django.core.management import call_command
from django.utils import timezone, translation

from customers.models import Account, Customer, Product, RfmRun, RfmScore, Transaction
from customers.rfm import LABEL_GRID, label_for, parse_params, rfm_score_all
from org.models import Branch
from reports.models import JobRun

from ..factories import CustomerFactory

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
AS_OF = datetime.date(2026, 11, 1)
_numbers = itertools.count(1)


def _local(year, month, day, hour=12, minute=0):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def _customer(**fields):
    return CustomerFactory(home_branch=Branch.objects.get(code="BJ01"), **fields)


def _product():
    product, _created = Product.objects.get_or_create(
        code="RFM-DEP", defaults={"name": "Deposit", "category": Product.Category.DEPOSIT})
    return product


def _pay(customer, when, amount, direction=Transaction.Direction.DEBIT):
    account = customer.accounts.first() or Account.objects.create(
        customer=customer, product=_product(), number=f"R{next(_numbers):09d}", opened_on=datetime.date(2020, 1, 1))
    return Transaction.objects.create(account=account, customer=customer, occurred_at=when, amount=Decimal(amount),
                                      direction=direction, channel=Transaction.Channel.COUNTER)


def _scores(run):
    return {score.customer_id: score for score in RfmScore.objects.filter(run=run)}


@pytest.fixture
def book(org):
    """Six active customers with ties in every dimension, two inactive ones, a closed and a merged one."""
    made = {name: _customer() for name in "ABCDEFGH"}
    a, b, c, d, e, f, g, h = (made[name] for name in "ABCDEFGH")
    # A: 07:00 in Shanghai on the as-of day is still the previous day in UTC: R must be 0, not 1.
    _pay(a, _local(2026, 11, 1, 7), "400.00", Transaction.Direction.CREDIT)
    for when in (_local(2026, 10, 1), _local(2026, 9, 1), _local(2026, 8, 1), _local(2026, 7, 1)):
        _pay(a, when, "150.00")
    _pay(a, _local(2026, 11, 2, 0, 0), "9999.00")  # after the as-of day: never counts
    _pay(b, _local(2026, 11, 1, 23, 59), "900.00")
    _pay(b, _local(2026, 5, 1), "50.00")
    _pay(b, _local(2026, 1, 1), "50.00", Transaction.Direction.CREDIT)
    for when in (_local(2026, 10, 22), _local(2026, 3, 1), _local(2026, 2, 1)):
        _pay(c, when, "166.66")
    _pay(d, _local(2026, 7, 24), "20.00")
    # E: the first day of the 365-day window (2025-11-02, local midnight) counts: R = 364.
    _pay(e, _local(2025, 11, 2, 0, 0), "20.00")
    _pay(f, _local(2026, 10, 2), "100.00")
    _pay(f, _local(2026, 1, 15), "200.00")
    # G: one minute before the window opens: inactive. H: never transacted.
    _pay(g, _local(2025, 11, 1, 23, 59), "5000.00")
    closed = _customer(lifecycle_status=Customer.Lifecycle.CLOSED)
    _pay(closed, _local(2026, 10, 30), "10.00")
    merged = _customer(merged_into=a)
    made.update(closed=closed, merged=merged)
    return made


# Expected (recency_days, frequency, monetary, R, F, M, label) with six active customers:
# score = min(5, 1 + floor(5 * (rank - 1) / 5)) = min(5, rank) where rank() gives ties the lowest rank.
EXPECTED = {
    "A": (0, 5, Decimal("1000.00"), 5, 5, 5, RfmScore.Label.CHAMPIONS),
    "B": (0, 3, Decimal("1000.00"), 5, 4, 5, RfmScore.Label.CHAMPIONS),
    "C": (10, 3, Decimal("499.98"), 4, 4, 4, RfmScore.Label.LOYAL),
    "D": (100, 1, Decimal("20.00"), 2, 1, 1, RfmScore.Label.HIBERNATING),
    "E": (364, 1, Decimal("20.00"), 1, 1, 1, RfmScore.Label.HIBERNATING),
    "F": (30, 2, Decimal("300.00"), 3, 3, 3, RfmScore.Label.NEED_ATTENTION),
    "G": (None, 0, Decimal("0.00"), 1, 1, 1, RfmScore.Label.LOST),
    "H": (None, 0, Decimal("0.00"), 1, 1, 1, RfmScore.Label.LOST),
}


def test_hand_made_book_gets_exact_values_scores_and_labels(book):
    result = rfm_score_all(as_of=AS_OF, window_days=365)

    scores = _scores(result.run)
    got = {
        name: (s.recency_days, s.frequency, s.monetary, s.r_score, s.f_score, s.m_score, s.label)
        for name in EXPECTED
        for s in [scores[book[name].pk]]
    }
    assert got == EXPECTED
    assert {name for name in EXPECTED if scores[book[name].pk].inactive} == {"G", "H"}
    assert (result.scored, result.run.customers_scored, result.run.active_customers) == (8, 8, 6)


def test_closed_and_merged_customers_get_no_score(book):
    run = rfm_score_all(as_of=AS_OF, window_days=365).run

    assert book["closed"].pk not in _scores(run)
    assert book["merged"].pk not in _scores(run)


def test_equal_raw_values_always_share_a_score(book):
    scores = _scores(rfm_score_all(as_of=AS_OF, window_days=365).run)

    a, b, d, e = (scores[book[name].pk] for name in "ABDE")
    assert (a.recency_days, a.r_score) == (b.recency_days, b.r_score) == (0, 5)
    assert (d.frequency, d.f_score) == (e.frequency, e.f_score) == (1, 1)
    assert (a.monetary, a.m_score) == (b.monetary, b.m_score) == (Decimal("1000.00"), 5)


def test_shorter_window_turns_older_customers_inactive(book):
    scores = _scores(rfm_score_all(as_of=AS_OF, window_days=31).run)

    # 31 days ending 1 November start on 2 October: A (1 Nov), B (1 Nov), C (22 Oct), F (2 Oct) remain.
    active = {name for name in EXPECTED if not scores[book[name].pk].inactive}
    assert active == {"A", "B", "C", "F"}
    assert (scores[book["A"].pk].frequency, scores[book["F"].pk].recency_days) == (1, 30)


def test_a_single_active_customer_scores_one_like_postgresqls_percent_rank(org):
    only = _customer()
    _pay(only, _local(2026, 10, 31), "10.00")

    score = RfmScore.objects.get(run=rfm_score_all(as_of=AS_OF, window_days=365).run, customer=only)
    assert (score.r_score, score.f_score, score.m_score, score.inactive) == (1, 1, 1, False)
    assert score.label == RfmScore.Label.HIBERNATING


def test_every_score_pair_has_a_label_and_the_labels_are_translated():
    assert {label_for(r_score=r, f_score=f) for r in range(1, 6) for f in range(1, 6)} == (
        set(RfmScore.Label.values) - {RfmScore.Label.LOST})
    assert label_for(r_score=5, f_score=5, inactive=True) == RfmScore.Label.LOST
    assert set(LABEL_GRID) == {1, 2, 3, 4, 5}
    with translation.override("zh-hans"):
        assert str(RfmScore.Label.CHAMPIONS.label) != "Champions"


# --- Snapshots and idempotency ------------------------------------------------------------------


def test_each_as_of_date_keeps_its_own_snapshot(book):
    october = rfm_score_all(as_of=datetime.date(2026, 10, 1), window_days=365).run
    november = rfm_score_all(as_of=AS_OF, window_days=365).run

    assert list(RfmRun.objects.values_list("as_of", flat=True)) == [AS_OF, datetime.date(2026, 10, 1)]
    a_history = RfmScore.objects.filter(customer=book["A"]).order_by("run__as_of")
    assert [(s.run_id, s.recency_days, s.frequency) for s in a_history] == [(october.pk, 0, 4), (november.pk, 0, 5)]
    # B's November payment did not exist in October: 153 days since 1 May then.
    assert RfmScore.objects.get(run=october, customer=book["B"]).recency_days == 153


def test_rerunning_a_date_replaces_its_snapshot_and_changes_nothing_when_data_did_not(book):
    first = rfm_score_all(as_of=AS_OF, window_days=365)
    before = {s.customer_id: (s.pk, s.r_score, s.f_score, s.m_score, s.label) for s in RfmScore.objects.all()}

    again = rfm_score_all(as_of=AS_OF, window_days=365)

    assert again.run.pk == first.run.pk
    assert RfmRun.objects.count() == 1
    assert again.changed == 0
    assert {s.customer_id: (s.pk, s.r_score, s.f_score, s.m_score, s.label)
            for s in RfmScore.objects.all()} == before


def test_rerun_after_new_data_updates_the_same_snapshot(book):
    first = rfm_score_all(as_of=AS_OF, window_days=365)
    _pay(book["H"], _local(2026, 10, 31), "5.00")
    Customer.objects.filter(pk=book["G"].pk).update(lifecycle_status=Customer.Lifecycle.CLOSED)

    again = rfm_score_all(as_of=AS_OF, window_days=365)

    scores = _scores(again.run)
    assert again.run.pk == first.run.pk
    assert book["G"].pk not in scores
    assert (scores[book["H"].pk].inactive, scores[book["H"].pk].recency_days) == (False, 1)
    assert (again.run.customers_scored, again.run.active_customers) == (7, 7)
    assert again.changed >= 2


# --- The job ------------------------------------------------------------------------------------


def test_run_job_rfm_takes_string_params_and_records_the_run(book, capsys):
    call_command("run_job", "rfm", "--param", "as_of=2026-11-01", "--param", "window_days=365")

    record = json.loads(capsys.readouterr().out)
    run = JobRun.objects.get(pk=record["id"])
    assert (run.name, run.status, run.rows_total, run.rows_done, run.rows_changed) == (
        "rfm", JobRun.Status.SUCCEEDED, 8, 8, 8)
    assert RfmRun.objects.get().as_of == AS_OF

    call_command("run_job", "rfm", "--param", "as-of=2026-11-01")
    second = JobRun.objects.get(pk=json.loads(capsys.readouterr().out)["id"])
    assert (second.rows_done, second.rows_changed, RfmRun.objects.count()) == (8, 0, 1)


def test_job_params_default_to_yesterday_and_365_days_and_reject_nonsense(settings):
    day, days = parse_params(None, None)
    assert days == 365
    assert day == timezone.localdate() - datetime.timedelta(days=1)
    assert parse_params("2026-11-01", "30") == (AS_OF, 30)
    with pytest.raises(ValueError, match="window_days"):
        parse_params("2026-11-01", "0")
    with pytest.raises(ValueError, match="isoformat"):
        parse_params("1 Nov", None)


def test_a_bad_param_fails_the_job_run_with_the_reason(org):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("run_job", "rfm", "--param", "window_days=-5")
    run = JobRun.objects.get(name="rfm")
    assert run.status == JobRun.Status.FAILED
    assert "window_days" in run.error


def test_nightly_schedule_exists():
    import importlib

    from django.apps import apps as django_apps
    from django_celery_beat.models import PeriodicTask

    # The row comes from a data migration (a transactional test's flush removes it): run its step twice.
    migration = importlib.import_module("customers.migrations.0010_rfm_schedule")
    migration.create_schedule(django_apps, None)
    migration.create_schedule(django_apps, None)
    task = PeriodicTask.objects.get(name="RFM scoring")
    assert (task.task, task.args, task.crontab.hour, task.crontab.minute) == (
        "reports.tasks.run_job", '["rfm"]', "3", "0")


# --- Cross-check against pandas -----------------------------------------------------------------


def test_raw_values_and_scores_equal_an_independent_pandas_computation(org):
    rng = random.Random(20261101)
    branch = Branch.objects.get(code="BJ01")
    customers = Customer.objects.bulk_create(
        Customer(customer_no=f"PX{i:07d}", name=f"客户{i}", home_branch=branch) for i in range(3000))
    product = _product()
    accounts = Account.objects.bulk_create(
        Account(customer=c, product=product, number=f"PXA{c.pk:09d}", opened_on=datetime.date(2020, 1, 1))
        for c in customers)
    window_start = datetime.datetime(2025, 6, 1, tzinfo=datetime.UTC)
    span = int((datetime.datetime(2026, 11, 10, tzinfo=datetime.UTC) - window_start).total_seconds())
    rows = []
    for account in accounts:
        if rng.random() < 0.1:
            continue  # some customers never transact
        for _ in range(rng.randint(1, 12)):
            rows.append(Transaction(
                account=account, customer_id=account.customer_id,
                occurred_at=window_start + datetime.timedelta(seconds=rng.randrange(span)),
                # Round amounts so ties in M happen; some tiny, some large.
                amount=Decimal(rng.choice([10, 50, 100, 500, rng.randint(1, 10**6)])) / rng.choice([1, 1, 100]),
                direction=rng.choice(Transaction.Direction.values), channel=Transaction.Channel.ONLINE,
            ))
    Transaction.objects.bulk_create(rows, batch_size=5000)

    run = rfm_score_all(as_of=AS_OF, window_days=365).run

    frame = pd.DataFrame.from_records(Transaction.objects.values("customer_id", "occurred_at", "amount"))
    frame["local_date"] = frame["occurred_at"].dt.tz_convert("Asia/Shanghai").dt.date
    window = frame[(frame["local_date"] > AS_OF - datetime.timedelta(days=365)) & (frame["local_date"] <= AS_OF)]
    expected = window.groupby("customer_id").agg(
        last=("local_date", "max"), frequency=("amount", "size"),
        monetary=("amount", lambda amounts: sum((abs(a) for a in amounts), Decimal(0))))
    expected["recency_days"] = expected["last"].map(lambda day: (AS_OF - day).days)

    def score(series, ascending):
        ranks = series.rank(method="min", ascending=ascending)
        n = len(series)
        return ((5 * (ranks - 1)) // max(n - 1, 1) + 1).clip(upper=5).astype(int)

    expected["r_score"] = score(expected["recency_days"], ascending=False)
    expected["f_score"] = score(expected["frequency"], ascending=True)
    expected["m_score"] = score(expected["monetary"].astype(float), ascending=True)

    got = pd.DataFrame.from_records(
        RfmScore.objects.filter(run=run, inactive=False).values(
            "customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score")
    ).set_index("customer_id").sort_index()
    expected = expected.sort_index()
    assert list(got.index) == list(expected.index)
    assert len(got) > 2000
    for column in ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"):
        assert got[column].tolist() == expected[column].tolist(), column
    inactive = RfmScore.objects.filter(run=run, inactive=True)
    assert inactive.count() == 3000 - len(expected)
    assert set(inactive.values_list("r_score", "f_score", "m_score", "label").distinct()) == {(1, 1, 1, "lost")}


# --- The 360° panel -------------------------------------------------------------------------------


def _english_client(client_for, username):
    client = client_for(username)
    client.cookies["django_language"] = "en"
    return client


def _scripts_are_files_or_data(html):
    """CSP: every <script> either loads a file or holds JSON data; none runs inline code."""
    import re

    tags = re.findall(r"<script\b[^>]*>", html)
    assert tags
    for tag in tags:
        assert 'src="' in tag or 'type="application/json"' in tag, tag


def test_panel_shows_current_scores_label_and_a_history_chart(customers, client_for):
    wang = customers["rm1"][0]
    _pay(wang, _local(2026, 9, 30), "80.00")
    rfm_score_all(as_of=datetime.date(2026, 10, 1), window_days=365)
    _pay(wang, _local(2026, 10, 31), "20.00")
    rfm_score_all(as_of=AS_OF, window_days=365)
    client = _english_client(client_for, "rm1")

    page = client.get(wang.get_absolute_url()).content.decode()
    html = client.get(f"/customers/{wang.pk}/panels/rfm/", HTTP_HX_REQUEST="true").content.decode()

    # The page holds a placeholder that loads the panel (the 360° page keeps its query budget).
    assert f'hx-get="/customers/{wang.pk}/panels/rfm/" hx-trigger="load"' in page
    score = RfmScore.objects.get(customer=wang, run__as_of=AS_OF)
    assert f'data-testid="rfm-scores">{score.r_score} / {score.f_score} / {score.m_score}<' in html
    assert f">{score.get_label_display()}</span>" in html
    assert "2026-11-01 (365-day window)" in html
    assert f'<canvas data-chart="rfm-chart-{wang.pk}"' in html
    data = json.loads(html.split(f'<script id="rfm-chart-{wang.pk}" type="application/json">')[1].split("</script>")[0])
    history = list(RfmScore.objects.filter(customer=wang).order_by("run__as_of"))
    assert data["labels"] == ["2026-10-01", "2026-11-01"]
    assert [dataset["data"] for dataset in data["datasets"]] == [
        [s.r_score for s in history], [s.f_score for s in history], [s.m_score for s in history]]
    assert "/static/js/charts.js" in html
    _scripts_are_files_or_data(html)
    _scripts_are_files_or_data(page)


def test_panel_of_an_inactive_customer_says_so(customers, client_for):
    wang = customers["rm1"][0]
    rfm_score_all(as_of=AS_OF, window_days=365)

    html = _english_client(client_for, "rm1").get(f"/customers/{wang.pk}/panels/rfm/").content.decode()

    assert 'data-testid="rfm-label">Lost</span> <span class="text-muted">no transaction in the window' in html
    assert 'data-testid="rfm-scores">1 / 1 / 1<' in html
    assert "<canvas" not in html


def test_panel_of_a_customer_the_rm_does_not_serve_is_404(customers, client_for):
    rfm_score_all(as_of=AS_OF, window_days=365)

    response = client_for("rm1").get(f"/customers/{customers['rm2'][0].pk}/panels/rfm/")

    assert response.status_code == 404


def test_panel_alone_says_not_scored_yet_before_the_first_run(customers, client_for):
    wang = customers["rm1"][0]

    response = _english_client(client_for, "rm1").get(f"/customers/{wang.pk}/panels/rfm/")

    assert response.status_code == 200
    assert "Not scored yet" in response.content.decode()


def test_panel_is_not_shown_to_roles_without_the_permission(customers, client_for):
    wang = customers["rm1"][0]
    rfm_score_all(as_of=AS_OF, window_days=365)

    assert 'data-testid="panel-rfm"' not in client_for("service1").get(wang.get_absolute_url()).content.decode()
    assert client_for("service1").get(f"/customers/{wang.pk}/panels/rfm/").status_code in (403, 404)


# --- The report -----------------------------------------------------------------------------------


@pytest.fixture
def two_runs(customers):
    """October: rm1's two customers Champions-like and inactive; November: both moved."""
    first, second = customers["rm1"]
    other = customers["rm2"][0]
    shanghai = customers["shanghai"][0]
    _pay(first, _local(2026, 9, 30), "10.00")
    _pay(other, _local(2026, 9, 30), "10.00")
    _pay(shanghai, _local(2026, 9, 30), "10.00")
    rfm_score_all(as_of=datetime.date(2026, 10, 1), window_days=30)
    _pay(second, _local(2026, 10, 31), "10.00")
    _pay(other, _local(2026, 10, 31), "10.00")
    rfm_score_all(as_of=AS_OF, window_days=30)
    return customers


def _label(customer, as_of):
    return RfmScore.objects.get(customer=customer, run__as_of=as_of).label


def test_report_counts_labels_per_branch_within_the_managers_reach(two_runs, client_for):
    response = _english_client(client_for, "manager1").get("/quality/rfm/")

    assert response.status_code == 200
    report = response.context["report"]
    assert report.run.as_of == AS_OF
    assert report.previous.as_of == datetime.date(2026, 10, 1)
    # manager1 (BJ01) sees BJ01's customers (rm1's and rm3's), not BJ02 (rm2) nor Shanghai.
    [(branch, counts, total)] = report.branches
    assert (branch.code, total) == ("BJ01", 4)
    expected = {}
    for customer in two_runs["rm1"] + two_runs["rm3"]:
        expected[_label(customer, AS_OF)] = expected.get(_label(customer, AS_OF), 0) + 1
    assert {code: count for (code, _l), count in zip(report.labels, counts, strict=True) if count} == expected
    html = response.content.decode()
    assert 'data-branch="BJ02"' not in html
    assert 'data-branch="SH01"' not in html
    _scripts_are_files_or_data(html)


def test_report_transition_matrix_counts_moves_since_the_previous_run(two_runs, client_for):
    report = _english_client(client_for, "rm1").get("/quality/rfm/").context["report"]

    # rm1 sees their own two customers: one moved from active to Lost, the other from Lost to active.
    first, second = two_runs["rm1"]
    moves = {}
    for code, _display, cells, _total in report.transitions:
        for (now, _label_text), (count, _stayed) in zip(report.labels, cells, strict=True):
            if count:
                moves[(code, now)] = count
    assert moves == {
        (_label(first, datetime.date(2026, 10, 1)), _label(first, AS_OF)): 1,
        (_label(second, datetime.date(2026, 10, 1)), _label(second, AS_OF)): 1,
    }
    assert _label(first, AS_OF) == RfmScore.Label.LOST
    assert _label(second, datetime.date(2026, 10, 1)) == RfmScore.Label.LOST


def test_report_before_any_run_says_so(org, client_for):
    response = _english_client(client_for, "manager1").get("/quality/rfm/")

    assert response.status_code == 200
    assert 'data-testid="rfm-no-run"' in response.content.decode()


@pytest.mark.parametrize(("username", "status"), [
    ("rm1", 200), ("manager1", 200), ("marketing1", 200), ("service1", 403), ("ops1", 403), ("auditor1", 403),
])
def test_report_is_open_to_the_roles_with_the_permission(org, client_for, username, status):
    assert client_for(username).get("/quality/rfm/").status_code == status


def test_report_needs_sign_in(org, client):
    response = client.get("/quality/rfm/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_report_answers_404_for_an_unknown_run(org, client_for):
    assert client_for("manager1").get("/quality/rfm/?run=999999").status_code == 404
