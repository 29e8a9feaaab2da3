"""Duplicate detection and the review queue: candidates with reasons, decisions kept, merge, who may see what."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from customers import pii
from customers.dedup import THRESHOLD, dedup_run
from customers.demo_duplicates import plant_duplicates, planted_pairs
from customers.models import Account, Customer, DataQualitySnapshot, DuplicateCandidate, Product
from customers.quality import snapshot_take
from org.models import AuditEntry, Branch

from ..factories import CustomerFactory

pytestmark = pytest.mark.django_db

BORN = datetime.date(1985, 3, 14)
ID_A = "110105198503140019"  # valid resident ID, born 1985-03-14, male
ID_B = "110105198503140035"  # another valid one, same birth date
ADDRESS = "北京市海淀区中关村大街27号3号楼2单元501室"


def _person(branch="BJ01", rm=None, *, name="张伟强", id_number="", phone="", address=ADDRESS, born=BORN, **extra):
    values = {"home_branch": Branch.objects.get(code=branch), "primary_rm": rm, "name": name, "birth_date": born,
              "gender": "M"}
    if id_number:
        values["id_type"] = Customer.IdType.RESIDENT_ID
    for field, value in (("id_number", id_number), ("phone", phone), ("address", address)):
        if value:
            sealed = pii.seal(field, value)
            values[f"{field}_enc"], values[f"{field}_masked"] = sealed.enc, sealed.masked
            if field != "address":
                values[f"{field}_bidx"] = sealed.bidx
    values["name_pinyin"], values["name_initials"] = pii.name_keys(name)
    values.update(extra)
    return CustomerFactory(**values)


def _pair(a, b):
    low, high = sorted([a.pk, b.pk])
    return DuplicateCandidate.objects.filter(low_id=low, high_id=high).first()


# --- candidates and their reasons -----------------------------------------------------------------


def test_same_id_number_with_a_typo_in_the_name_is_proposed_with_its_reasons(org):
    first = _person(id_number=ID_A, phone="+8613812345678")
    second = _person(name="张伟刚", id_number=ID_A, phone="+8613912345678", address="")

    dedup_run()

    pair = _pair(first, second)
    assert pair.reasons == ["same_id_number", "similar_name", "same_birth_date"]
    assert pair.score == 90
    assert pair.status == "open"


def test_same_phone_is_proposed(org):
    first = _person(phone="+8613812345678", born=None, address="")
    second = _person(name="张伟强", phone="+8613812345678", born=None, address="", customer_no="X1")

    dedup_run()

    pair = _pair(first, second)
    assert pair.reasons == ["same_phone", "same_name"]
    assert pair.score == 65


def test_swapped_characters_with_same_birth_date_and_address_are_proposed(org):
    first = _person(id_number=ID_A, phone="+8613812345678")
    second = _person(name="张强伟", phone="+8613712345678")

    dedup_run()

    pair = _pair(first, second)
    assert pair.reasons == ["similar_name", "same_birth_date", "same_address"]
    assert pair.score == THRESHOLD


def test_namesakes_born_the_same_day_elsewhere_are_not_proposed(org):
    # The same two-character name and birth date, nothing else shared: common in a big book.
    _person(name="王芳", phone="+8613812345678", address="上海市浦东新区世纪大道100号")
    _person(name="王芳", phone="+8613912345678", address=ADDRESS)

    dedup_run()

    assert DuplicateCandidate.objects.count() == 0


def test_two_different_resident_ids_outweigh_a_shared_address_and_similar_name(org):
    # Twins: same birth date, same home, names one character apart, but two valid ID numbers.
    _person(name="张伟强", id_number=ID_A)
    _person(name="张伟刚", id_number=ID_B)

    dedup_run()

    assert DuplicateCandidate.objects.count() == 0


def test_closed_and_merged_customers_are_not_proposed(org):
    _person(id_number=ID_A)
    _person(id_number=ID_A, lifecycle_status=Customer.Lifecycle.CLOSED)

    dedup_run()

    assert DuplicateCandidate.objects.count() == 0


# --- reruns ---------------------------------------------------------------------------------------


def test_a_second_run_on_unchanged_data_changes_nothing(org):
    _person(id_number=ID_A)
    _person(name="张伟刚", id_number=ID_A)
    dedup_run()
    before = list(DuplicateCandidate.objects.values())
    audit_count = AuditEntry.objects.count()

    again = dedup_run()

    assert again.changed == 0
    assert list(DuplicateCandidate.objects.values()) == before
    assert AuditEntry.objects.count() == audit_count


def test_not_duplicates_is_remembered_across_reruns(org, client_for):
    first, second = _person(id_number=ID_A), _person(name="张伟刚", id_number=ID_A)
    dedup_run()
    pair = _pair(first, second)

    response = client_for("manager1").post(f"/quality/duplicates/{pair.pk}/dismiss/")
    dedup_run()
    dedup_run()

    assert response.status_code == 302
    pair.refresh_from_db()
    assert pair.status == "not_duplicate"
    assert pair.decided_by.username == "manager1"
    assert DuplicateCandidate.objects.filter(status="open").count() == 0
    entry = AuditEntry.objects.get(object_type="customers.duplicatecandidate", object_id=str(pair.pk))
    assert entry.actor_username == "manager1"
    assert entry.detail["decision"] == "not_duplicate"


def test_a_rerun_updates_the_score_and_withdraws_pairs_whose_evidence_went(org):
    first = _person(id_number=ID_A, phone="+8613812345678")
    second = _person(name="张伟刚", id_number=ID_A, phone="+8613912345678")
    third = _person(name="李娜", born=datetime.date(1990, 1, 1), phone="+8613812345678", address="")
    dedup_run()
    assert _pair(first, second).score == 100  # ID, similar name, birth date, address
    assert _pair(first, third) is None  # a shared phone alone (a family's) stays below the threshold

    Customer.objects.filter(pk=second.pk).update(address_enc="", address_masked="")
    Customer.objects.filter(pk=second.pk).update(id_number_enc="", id_number_bidx="", id_number_masked="",
                                                 id_type="")
    dedup_run()

    assert _pair(first, second) is None  # similar name and birth date alone: withdrawn


# --- the queue ------------------------------------------------------------------------------------


@pytest.fixture
def pairs(org):
    """An open pair in BJ01 (manager1's), and one with a customer in Shanghai that manager1 cannot see."""
    mine = (_person(rm=org["rm1"], id_number=ID_A, phone="+8613812345678"),
            _person(rm=org["rm1"], name="张伟刚", id_number=ID_A, phone="+8613912345678", address="",
                    email_enc=pii.seal("email", "zwq@example.com").enc, email_masked="z***@example.com"))
    other = (_person(name="李娜", id_number=ID_B, born=datetime.date(1985, 3, 14)),
             _person(branch="SH01", name="李娜", id_number=ID_B))
    dedup_run()
    return {"mine": _pair(*mine), "other": _pair(*other), "customers": mine}


def test_rm_may_not_open_the_queue_or_decide(pairs, client_for):
    client = client_for("rm1")
    pair = pairs["mine"]

    assert client.get("/quality/duplicates/").status_code == 403
    assert client.get(f"/quality/duplicates/{pair.pk}/").status_code == 403
    assert client.post(f"/quality/duplicates/{pair.pk}/dismiss/").status_code == 403
    assert client.post(f"/quality/duplicates/{pair.pk}/merge/", {"survivor": "low"}).status_code == 403
    pair.refresh_from_db()
    assert pair.status == "open"
    assert Customer.objects.filter(merged_into__isnull=False).count() == 0


def test_anonymous_is_sent_to_sign_in(pairs, client):
    response = client.get("/quality/duplicates/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_manager_sees_only_pairs_whose_two_customers_are_in_reach(pairs, client_for):
    response = client_for("manager1").get("/quality/duplicates/")

    assert response.status_code == 200
    shown = [row.pk for row in response.context["rows"]]
    assert shown == [pairs["mine"].pk]


def test_a_pair_out_of_reach_is_404_and_cannot_be_decided(pairs, client_for):
    client, pair = client_for("manager1"), pairs["other"]

    assert client.get(f"/quality/duplicates/{pair.pk}/").status_code == 404
    assert client.post(f"/quality/duplicates/{pair.pk}/dismiss/").status_code == 404
    assert client.post(f"/quality/duplicates/{pair.pk}/merge/", {"survivor": "low"}).status_code == 404
    pair.refresh_from_db()
    assert pair.status == "open"


def test_head_office_operations_see_every_pair(pairs, client_for, org):
    ops = org["ops1"]
    ops.branch = Branch.objects.get(parent__isnull=True)
    ops.save()
    response = client_for("ops1").get("/quality/duplicates/")

    assert {row.pk for row in response.context["rows"]} == {pairs["mine"].pk, pairs["other"].pk}


def test_pair_page_shows_both_records_masked_with_the_reasons(pairs, client_for):
    pair = pairs["mine"]
    response = client_for("manager1").get(f"/quality/duplicates/{pair.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Same ID number" in html
    assert "Similar name" in html
    assert "110***********0019" in html  # the masked ID; the full number never appears
    assert "110105198503140019" not in html
    assert "138****5678" in html
    assert "139****5678" in html


def test_merge_from_the_queue_keeps_the_chosen_values_and_moves_children(pairs, client_for, org):
    pair = pairs["mine"]
    kept, gone = pairs["customers"]
    product = Product.objects.create(code="DD01", name="活期", category=Product.Category.DEPOSIT)
    Account.objects.create(customer=gone, product=product, number="6222000011112222", balance=Decimal("5000"),
                           opened_on=datetime.date(2020, 1, 1))
    survivor_side = "low" if kept.pk == pair.low_id else "high"
    other_side = "high" if survivor_side == "low" else "low"

    response = client_for("manager1").post(f"/quality/duplicates/{pair.pk}/merge/", {
        "survivor": survivor_side, "keep_name": other_side, "keep_phone": survivor_side})

    assert response.status_code == 302
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert kept.name == "张伟刚"  # the value chosen from the other record
    assert pii.unseal(kept, "phone") == "+8613812345678"  # its own, as chosen
    assert pii.unseal(kept, "email") == "zwq@example.com"  # empty on the survivor: taken from the other
    assert gone.lifecycle_status == "closed"
    assert gone.merged_into_id == kept.pk
    assert Account.objects.get(number="6222000011112222").customer_id == kept.pk
    assert kept.aum == Decimal("5000.00")
    pair.refresh_from_db()
    assert pair.status == "merged"
    assert pair.decided_by == org["manager1"]
    assert AuditEntry.objects.filter(object_type="customers.duplicatecandidate", object_id=str(pair.pk),
                                     actor_username="manager1").exists()


def test_merge_without_choosing_the_survivor_is_refused_with_a_message(pairs, client_for):
    pair = pairs["mine"]
    response = client_for("manager1").post(f"/quality/duplicates/{pair.pk}/merge/", {})

    assert response.status_code == 400
    assert "Choose which of the two records survives." in response.content.decode()
    pair.refresh_from_db()
    assert pair.status == "open"


def test_a_decided_pair_cannot_be_decided_again(pairs, client_for):
    pair = pairs["mine"]
    client = client_for("manager1")
    client.post(f"/quality/duplicates/{pair.pk}/dismiss/")

    response = client.post(f"/quality/duplicates/{pair.pk}/merge/", {"survivor": "low"})

    assert response.status_code == 400
    assert "already been decided" in response.content.decode()
    assert Customer.objects.filter(merged_into__isnull=False).count() == 0


def test_htmx_dismiss_replaces_the_row(pairs, client_for):
    pair = pairs["mine"]
    response = client_for("manager1").post(f"/quality/duplicates/{pair.pk}/dismiss/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert 'data-testid="duplicate-row-dismissed"' in response.content.decode()


def test_queue_query_count_does_not_grow_with_the_pairs(org, client_for, django_assert_max_num_queries):
    for n in range(30):
        phone = f"+86138{n:08d}"
        _person(rm=org["rm1"], name=f"赵{chr(0x4E00 + n)}", phone=phone, address="", born=None)
        _person(rm=org["rm1"], name=f"赵{chr(0x4E00 + n)}", phone=phone, address="", born=None)
    dedup_run()
    client = client_for("manager1")

    with django_assert_max_num_queries(8):
        response = client.get("/quality/duplicates/")

    assert len(response.context["rows"]) == 30


def test_pair_page_query_count(pairs, client_for, django_assert_max_num_queries):
    client = client_for("manager1")
    with django_assert_max_num_queries(8):
        assert client.get(f"/quality/duplicates/{pairs['mine'].pk}/").status_code == 200


# --- planted duplicates ---------------------------------------------------------------------------


def test_seed_demo_plants_duplicates_once_and_the_job_finds_them(org):
    call_command("seed_demo", customers=300, transactions_per_customer=1, verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    first = plant_duplicates(count=300, share=0.1)
    again = plant_duplicates(count=300, share=0.1)

    dedup_run()

    truth = {(low, high) for low, high, _n, _kind in planted_pairs()}
    found = set(DuplicateCandidate.objects.values_list("low_id", "high_id"))
    assert first.planted == 30
    assert again.planted == 0
    assert again.already == 30
    assert len(truth) == 30
    assert len(found & truth) / len(found) >= 0.95  # precision
    assert len(found & truth) / len(truth) >= 0.9  # recall


# --- the dashboard's history ----------------------------------------------------------------------


def test_dashboard_history_shows_the_days_in_the_viewers_reach(org, client_for):
    _person(rm=org["rm1"], id_number=ID_A, phone="+8613812345678", last_verified_on=timezone.localdate())
    _person(branch="BJ02", rm=org["rm2"], name="李娜", phone="+8613912345678")  # no ID number
    today = timezone.localdate()
    snapshot_take(as_of=today - datetime.timedelta(days=1))
    _person(rm=org["rm1"], name="王五")  # no ID, no phone: completeness falls
    snapshot_take(as_of=today)

    response = client_for("manager1").get("/quality/")

    history = response.context["history"]
    assert history["labels"] == [(today - datetime.timedelta(days=1)).isoformat(), today.isoformat()]
    completeness = history["datasets"][0]["data"]
    assert completeness == [100.0, 75.0]  # BJ01 only: 4 of 4 fields, then 6 of 8
    assert DataQualitySnapshot.objects.filter(taken_on=today).count() == 2
    assert 'data-chart="quality-history"' in response.content.decode()


def test_taking_the_snapshot_again_changes_only_what_moved(org):
    first = _person(rm=org["rm1"], id_number=ID_A)
    _person(branch="BJ02", rm=org["rm2"], name="李娜")
    today = timezone.localdate()
    snapshot_take(as_of=today)
    before = list(DataQualitySnapshot.objects.order_by("pk").values())

    assert snapshot_take(as_of=today) == 0
    assert list(DataQualitySnapshot.objects.order_by("pk").values()) == before

    Customer.objects.filter(pk=first.pk).update(lifecycle_status=Customer.Lifecycle.CLOSED)
    snapshot_take(as_of=today)

    assert list(DataQualitySnapshot.objects.values_list("branch__code", "customers")) == [("BJ02", 1)]


def test_rm_history_is_their_own_book(org, client_for):
    _person(rm=org["rm1"], id_number=ID_A, phone="+8613812345678")
    _person(branch="BJ01", rm=None, name="王五")
    snapshot_take()

    response = client_for("rm1").get("/quality/")

    assert response.context["history"]["datasets"][0]["data"] == [100.0]


# --- the job ----------------------------------------------------------------------------------------


def test_run_job_dedup_records_the_run_with_counts(org, capsys):
    import json

    from reports.models import JobRun

    _person(id_number=ID_A)
    _person(name="张伟刚", id_number=ID_A)

    call_command("run_job", "dedup")

    run = JobRun.objects.get(pk=json.loads(capsys.readouterr().out)["id"])
    assert (run.status, run.rows_total, run.rows_done, run.rows_changed) == (JobRun.Status.SUCCEEDED, 2, 2, 1)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.JOB, object_type="customers.duplicatecandidate")
    assert entry.detail["candidates"] == 1


def test_a_run_cut_short_converges_on_the_next_one(org):
    first, second = _person(id_number=ID_A), _person(name="张伟刚", id_number=ID_A)
    # What a killed run leaves: one range written with a stale score, nothing withdrawn yet.
    low, high = sorted([first.pk, second.pk])
    DuplicateCandidate.objects.create(low_id=low, high_id=high, score=10, reasons=[], seen_at=timezone.now())
    third, fourth = _person(name="李娜", born=None, address=""), _person(name="王芳", born=None, address="")
    DuplicateCandidate.objects.create(low_id=third.pk, high_id=fourth.pk, score=60, reasons=[],
                                      seen_at=timezone.now())

    dedup_run()

    assert list(DuplicateCandidate.objects.values_list("low_id", "high_id", "score")) == [(low, high, 100)]


def test_nightly_dedup_schedule_exists():
    import importlib

    from django.apps import apps as django_apps
    from django_celery_beat.models import PeriodicTask

    migration = importlib.import_module("customers.migrations.0020_dedup_schedule_and_permissions")
    migration.create_schedule(django_apps, None)
    migration.create_schedule(django_apps, None)

    task = PeriodicTask.objects.get(name="Duplicate detection")
    assert (task.task, task.args, task.crontab.hour, task.crontab.minute) == (
        "reports.tasks.run_job", '["dedup"]', "2", "30")


def test_run_job_quality_snapshot_records_the_day_once(org):
    from reports.models import JobRun

    _person(rm=org["rm1"], id_number=ID_A)

    call_command("run_job", "quality_snapshot", "--param", "as_of=2026-11-01")
    call_command("run_job", "quality_snapshot", "--param", "as_of=2026-11-01")

    runs = list(JobRun.objects.filter(name="quality_snapshot").order_by("pk"))
    assert [run.rows_changed for run in runs] == [1, 0]
    assert list(DataQualitySnapshot.objects.values_list("taken_on", "customers")) == [
        (datetime.date(2026, 11, 1), 1)]
