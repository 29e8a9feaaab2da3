"""The data-cleansing job: name normalisation (audited, nothing else changed), findings as issues, idempotency."""

import datetime
import json

import pytest
from django.core.management import call_command

from customers import pii
from customers.models import Customer, DataQualityIssue
from customers.quality import cleansing_run
from org.models import AuditEntry, Branch
from reports.models import JobRun

from ..factories import CustomerFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 11, 1)
VALID_ID = "11010519491231002X"  # born 1949-12-31, female
BAD_CHECKSUM = "110105194912310021"
PHONE = "+8613812345678"


def _sealed(field, value):
    sealed = pii.seal(field, value)
    return {f"{field}_enc": sealed.enc, f"{field}_bidx": sealed.bidx, f"{field}_masked": sealed.masked}


def _complete(**fields):
    """An individual with every required field, verified recently: no finding."""
    values = {"home_branch": Branch.objects.get(code="BJ01"), "birth_date": datetime.date(1949, 12, 31),
              "gender": "F", "id_type": Customer.IdType.RESIDENT_ID, "last_verified_on": AS_OF,
              **_sealed("id_number", VALID_ID), **_sealed("phone", PHONE)}
    values.update(fields)
    return CustomerFactory(**values)


def _open(customer):
    return set(DataQualityIssue.objects.filter(customer=customer, status="open").values_list("kind", "field"))


def test_a_complete_recently_verified_customer_has_no_issue(org):
    customer = _complete()

    cleansing_run(as_of=AS_OF)

    assert _open(customer) == set()


def test_missing_required_fields_are_issues_per_field(org):
    customer = _complete(birth_date=None, gender="", phone_enc="", phone_bidx="", phone_masked="")

    cleansing_run(as_of=AS_OF)

    assert _open(customer) == {("missing", "birth_date"), ("missing", "gender"), ("missing", "phone")}


def test_not_verified_for_12_months_is_stale(org):
    stale = _complete(last_verified_on=AS_OF - datetime.timedelta(days=366))
    fresh = _complete(last_verified_on=AS_OF - datetime.timedelta(days=365))
    never = _complete(last_verified_on=None)

    cleansing_run(as_of=AS_OF)

    assert (_open(stale), _open(fresh), _open(never)) == ({("stale", "")}, set(), {("stale", "")})


def test_id_checksum_and_consistency_with_birth_date_and_gender(org):
    bad_checksum = _complete(**_sealed("id_number", BAD_CHECKSUM))
    wrong_birth = _complete(birth_date=datetime.date(1950, 1, 1))
    wrong_gender = _complete(gender="M")

    cleansing_run(as_of=AS_OF)

    assert _open(bad_checksum) == {("invalid_id", "id_number")}
    assert _open(wrong_birth) == {("id_mismatch", "birth_date")}
    assert _open(wrong_gender) == {("id_mismatch", "gender")}


def test_values_a_person_entered_are_never_changed(org):
    wrong_birth = _complete(birth_date=datetime.date(1950, 1, 1), gender="M")
    before = Customer.objects.filter(pk=wrong_birth.pk).values().get()

    cleansing_run(as_of=AS_OF)

    assert Customer.objects.filter(pk=wrong_birth.pk).values().get() == before


def test_names_are_trimmed_half_width_and_single_spaced_and_the_fix_is_audited(org):
    messy = _complete(name="  ＡＢＣ　Trading   Co.  ", kind=Customer.Kind.CORPORATE)
    chinese = _complete(name="王\u3000芳 ")

    result = cleansing_run(as_of=AS_OF)

    messy.refresh_from_db()
    chinese.refresh_from_db()
    assert (messy.name, chinese.name) == ("ABC Trading Co.", "王 芳")
    assert result.names_normalised == 2
    assert messy.name_pinyin == pii.name_keys("ABC Trading Co.")[0]
    entry = AuditEntry.objects.filter(object_type="customers.customer", object_id=str(messy.pk),
                                      action=AuditEntry.Action.UPDATE).latest("pk")
    assert "name" in entry.fields


def test_a_second_run_on_unchanged_data_changes_nothing(org):
    customer = _complete(birth_date=None, name=" 李四 ")
    cleansing_run(as_of=AS_OF)
    issues = list(DataQualityIssue.objects.values())
    audit_count = AuditEntry.objects.count()

    again = cleansing_run(as_of=AS_OF + datetime.timedelta(days=1))

    assert again.changed == 0
    assert list(DataQualityIssue.objects.values()) == issues
    assert AuditEntry.objects.count() == audit_count
    assert _open(customer) == {("missing", "birth_date")}


def test_fixing_the_data_resolves_the_issue_on_the_next_run(org):
    customer = _complete(birth_date=None)
    cleansing_run(as_of=AS_OF)
    Customer.objects.filter(pk=customer.pk).update(birth_date=datetime.date(1949, 12, 31))

    result = cleansing_run(as_of=AS_OF + datetime.timedelta(days=1))

    issue = DataQualityIssue.objects.get(customer=customer)
    assert (issue.status, issue.resolved_on, issue.resolved_by) == ("resolved", AS_OF + datetime.timedelta(days=1),
                                                                    None)
    assert result.issues_resolved == 1


def test_closed_and_merged_customers_are_not_flagged(org):
    closed = _complete(birth_date=None, lifecycle_status=Customer.Lifecycle.CLOSED)
    survivor = _complete()
    merged = _complete(birth_date=None, merged_into=survivor)

    cleansing_run(as_of=AS_OF)

    assert (_open(closed), _open(merged)) == (set(), set())


def test_run_job_cleansing_records_the_run(org, capsys):
    _complete(birth_date=None)

    call_command("run_job", "cleansing", "--param", "as_of=2026-11-01")

    run = JobRun.objects.get(pk=json.loads(capsys.readouterr().out)["id"])
    assert (run.status, run.rows_total, run.rows_done, run.rows_changed) == (JobRun.Status.SUCCEEDED, 1, 1, 1)


def test_nightly_schedule_exists():
    import importlib

    from django.apps import apps as django_apps
    from django_celery_beat.models import PeriodicTask

    migration = importlib.import_module("customers.migrations.0016_cleansing_schedule")
    migration.create_schedule(django_apps, None)
    migration.create_schedule(django_apps, None)

    task = PeriodicTask.objects.get(name="Data cleansing")
    assert (task.task, task.args, task.crontab.hour, task.crontab.minute) == (
        "reports.tasks.run_job", '["cleansing"]', "2", "0")


# --- Work queue, resolve, 360° panel --------------------------------------------------------------


@pytest.fixture
def flagged(customers):
    """rm1's first customer, rm2's first and the Shanghai one each miss a birth date."""
    picked = {"rm1": customers["rm1"][0], "rm2": customers["rm2"][0], "shanghai": customers["shanghai"][0]}
    for customer in picked.values():
        Customer.objects.filter(pk=customer.pk).update(
            birth_date=None, gender="F", last_verified_on=AS_OF, id_type=Customer.IdType.RESIDENT_ID,
            **_sealed("id_number", VALID_ID),
            **_sealed("phone", PHONE))
    Customer.objects.exclude(pk__in=[c.pk for c in picked.values()]).update(
        birth_date=datetime.date(1949, 12, 31), gender="F", last_verified_on=AS_OF,
        id_type=Customer.IdType.RESIDENT_ID, **_sealed("id_number", VALID_ID), **_sealed("phone", PHONE))
    cleansing_run(as_of=AS_OF)
    return picked


def _queue(client):
    response = client.get("/quality/issues/")
    assert response.status_code == 200
    return {issue.customer_id for issue in response.context["page"]}


def test_queue_shows_each_person_the_issues_of_the_customers_they_see(flagged, client_for):
    assert _queue(client_for("rm1")) == {flagged["rm1"].pk}
    assert _queue(client_for("rm2")) == {flagged["rm2"].pk}
    assert _queue(client_for("manager1")) == {flagged["rm1"].pk}  # BJ01 only: not BJ02, not Shanghai
    assert _queue(client_for("ops1")) == {flagged["rm1"].pk, flagged["rm2"].pk}  # Beijing branch


@pytest.mark.parametrize(("username", "status"), [("service1", 403), ("marketing1", 403), ("auditor1", 403)])
def test_queue_is_closed_to_roles_without_the_permission(flagged, client_for, username, status):
    assert client_for(username).get("/quality/issues/").status_code == status


def test_rm_resolves_an_issue_of_their_customer_and_it_is_audited(flagged, client_for, org):
    issue = DataQualityIssue.objects.get(customer=flagged["rm1"])

    response = client_for("rm1").post(f"/quality/issues/{issue.pk}/resolve/")

    issue.refresh_from_db()
    assert response.status_code == 302
    assert (issue.status, issue.resolved_by) == ("resolved", org["rm1"])
    assert AuditEntry.objects.filter(object_type="customers.dataqualityissue", object_id=str(issue.pk),
                                     actor_username="rm1").exists()


def test_resolving_an_issue_of_someone_elses_customer_is_404_and_changes_nothing(flagged, client_for):
    issue = DataQualityIssue.objects.get(customer=flagged["rm2"])

    response = client_for("rm1").post(f"/quality/issues/{issue.pk}/resolve/")

    assert response.status_code == 404
    issue.refresh_from_db()
    assert (issue.status, issue.resolved_by) == ("open", None)


def test_resolve_needs_post_and_never_redirects_off_site(flagged, client_for):
    issue = DataQualityIssue.objects.get(customer=flagged["rm1"])
    client = client_for("rm1")

    assert client.get(f"/quality/issues/{issue.pk}/resolve/").status_code == 405
    response = client.post(f"/quality/issues/{issue.pk}/resolve/", {"next": "https://evil.example/"})
    assert response["Location"] == "/quality/issues/"


def test_a_resolved_issue_the_data_still_shows_opens_again_on_the_next_run(flagged, client_for):
    issue = DataQualityIssue.objects.get(customer=flagged["rm1"])
    client_for("rm1").post(f"/quality/issues/{issue.pk}/resolve/")

    cleansing_run(as_of=AS_OF + datetime.timedelta(days=1))

    assert _open(flagged["rm1"]) == {("missing", "birth_date")}


def test_360_panel_lists_open_issues_when_it_loads(flagged, client_for):
    client = client_for("rm1")
    customer = flagged["rm1"]

    page = client.get(customer.get_absolute_url()).content.decode()
    panel = client.get(f"/customers/{customer.pk}/panels/quality/", HTTP_HX_REQUEST="true")

    assert f'hx-get="/customers/{customer.pk}/panels/quality/"' in page
    assert [issue.field for issue in panel.context["issues"]] == ["birth_date"]
    assert 'data-testid="quality-issues"' in panel.content.decode()


# --- Dashboard --------------------------------------------------------------------------------------


def test_dashboard_figures_per_branch_within_the_managers_reach(flagged, client_for):
    response = client_for("manager1").get("/quality/")

    assert response.status_code == 200
    [row] = response.context["rows"]
    # BJ01: rm1's and rm3's two customers each, 4 × 4 required fields, one birth date missing.
    assert (row.customers, row.completeness, row.error_rate, row.stale_share, row.open_issues) == (
        4, 15 / 16, 0.0, 0.0, 1)
    html = response.content.decode()
    assert 'data-testid="completeness">94%<' in html
    assert '<canvas data-chart="quality-chart"' in html


def test_dashboard_per_rm_and_error_rate_from_id_findings(flagged, client_for, org):
    Customer.objects.filter(pk=flagged["rm1"].pk).update(gender="M")  # disagrees with the female ID
    cleansing_run(as_of=AS_OF)

    rows = {row.label: row for row in client_for("manager1").get("/quality/?by=rm").context["rows"]}

    assert set(rows) == {org["rm1"].full_name, org["rm3"].full_name}
    assert rows[org["rm1"].full_name].error_rate == 0.5
    assert rows[org["rm1"].full_name].open_issues == 2
    assert rows[org["rm3"].full_name].error_rate == 0.0


@pytest.mark.parametrize(("username", "status"), [("rm1", 200), ("manager1", 200), ("ops1", 200),
                                                  ("service1", 403), ("marketing1", 403)])
def test_dashboard_is_open_to_the_roles_with_the_permission(org, client_for, username, status):
    assert client_for(username).get("/quality/").status_code == status


def test_the_cached_resident_id_check_agrees_with_stdnum():
    import random

    from stdnum.cn import ric

    from customers.demo import REGIONS, resident_id
    from customers.quality import resident_id_valid

    rng = random.Random(8)  # noqa: S311
    regions = [code for pool in REGIONS.values() for code, _since in pool] + ["999999", "110000", "000000"]
    numbers = []
    for _ in range(2000):
        born = datetime.date(1930, 1, 1) + datetime.timedelta(days=rng.randrange(30_000))
        number = resident_id(rng.choice(regions), born, rng.randrange(1000))
        wrong = "0" if number[-1] == "X" else "X" if number[-1] == "9" else str(int(number[-1]) + 1)
        numbers += [number, number[:-1] + wrong,  # wrong check digit
                    number[:10] + "1332" + number[14:]]  # impossible date
    assert [resident_id_valid(n) for n in numbers] == [ric.is_valid(n) for n in numbers]
    assert any(ric.is_valid(n) for n in numbers)
    assert not all(ric.is_valid(n) for n in numbers)
