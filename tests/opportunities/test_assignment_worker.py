"""The assignment job under concurrency and on a real Celery worker: each lead is assigned exactly once and round
robin stays fair when several sweeps run at the same time."""

import threading
from collections import Counter

import pytest
from django.db import connection

from opportunities import lead_services as services
from opportunities.models import AssignmentRule, Lead, LeadAssignment
from org.models import Branch
from reports.models import JobRun
from reports.tasks import run_job

from ..workers import Worker, wait_for
from .lead_helpers import rm_in

pytestmark = pytest.mark.django_db(transaction=True)


def _leads(org, n):
    branch = Branch.objects.get(code="BJ01")
    Lead.objects.bulk_create(Lead(name=f"客户{i}", channel="import", product_interest="wealth", branch=branch,
                                  phone_bidx=f"bidx{i}", phone_masked="138****0000") for i in range(n))


def test_concurrent_sweeps_assign_each_lead_once_and_round_robin_stays_fair(org):
    members = [org["rm1"], org["rm3"], rm_in("BJ01", "rm9")]
    rule = AssignmentRule.objects.create(branch=Branch.objects.get(code="BJ01"), name="轮询",
                                         strategy="round_robin")
    rule.members.set(members)
    _leads(org, 150)
    results, errors = [], []

    def sweep():
        try:
            results.append(services.leads_assign_pending(chunk=7))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(results) == 150
    assert LeadAssignment.objects.count() == 150
    assert not Lead.objects.filter(assigned_to=None).exists()
    assert sorted(Counter(Lead.objects.values_list("assigned_to", flat=True)).values()) == [50, 50, 50]


def test_concurrent_sweeps_over_several_rules_neither_deadlock_nor_double_assign(org):
    from opportunities.models import ProductSpecialist

    branch = Branch.objects.get(code="BJ01")
    specialist = AssignmentRule.objects.create(branch=branch, name="专家", strategy="specialist", position=1,
                                               product_interest="loans")
    fallback = AssignmentRule.objects.create(branch=Branch.objects.get(code="BJ"), name="兜底", strategy="least_open",
                                             position=1)
    fallback.members.set([org["rm1"], org["rm2"]])
    ProductSpecialist.objects.create(user=org["rm3"], area="loans")
    Lead.objects.bulk_create(Lead(name=f"客户{i}", channel="import", product_interest="loans" if i % 2 else "wealth",
                                  branch=branch, phone_bidx=f"bidx{i}", phone_masked="x") for i in range(120))
    results, errors = [], []

    def sweep():
        try:
            results.append(services.leads_assign_pending(chunk=5))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(results) == 120
    assert LeadAssignment.objects.filter(rule=specialist).count() == 60
    assert sorted(Counter(Lead.objects.filter(product_interest="wealth")
                          .values_list("assigned_to__username", flat=True)).items()) == [("rm1", 30), ("rm2", 30)]


@pytest.mark.worker
def test_the_job_runs_on_a_real_worker_and_a_rerun_changes_nothing(org):
    rule = AssignmentRule.objects.create(branch=Branch.objects.get(code="BJ01"), name="最少", strategy="least_open")
    rule.members.set([org["rm1"], org["rm3"]])
    _leads(org, 20)
    worker = Worker().start()
    try:
        runs = []
        for _ in range(2):
            run = JobRun.objects.create(name="lead_assignment", params={"chunk": 6})
            run_job.apply_async(args=["lead_assignment"], kwargs={"run_id": run.pk})
            wait_for(lambda pk=run.pk: JobRun.objects.get(pk=pk).status == JobRun.Status.SUCCEEDED, timeout=90,
                     what="lead assignment to finish")
            runs.append(JobRun.objects.get(pk=run.pk))
    finally:
        worker.stop()

    assert [(r.rows_done, r.rows_changed) for r in runs] == [(20, 20), (0, 0)]
    assert sorted(Counter(Lead.objects.values_list("assigned_to__username", flat=True)).items()) == [
        ("rm1", 10), ("rm3", 10)]
