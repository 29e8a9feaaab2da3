"""The duplicate-detection job on a real Celery worker: it runs, records its counts, and a rerun changes nothing."""

import pytest

from customers.models import DuplicateCandidate
from reports.models import JobRun
from reports.tasks import run_job

from ..workers import Worker, wait_for
from .test_dedup import ID_A, _person

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture
def worker(org):
    running = Worker().start()
    yield running
    running.stop()


def _finished(run):
    run.refresh_from_db()
    return run.status in (JobRun.Status.SUCCEEDED, JobRun.Status.FAILED)


def test_dedup_runs_on_the_worker_and_a_rerun_changes_nothing(org, worker):
    _person(id_number=ID_A)
    _person(name="张伟刚", id_number=ID_A)

    runs = []
    for _attempt in range(2):
        run = JobRun.objects.create(name="dedup")
        run_job.apply_async(args=["dedup"], kwargs={"run_id": run.pk})
        wait_for(lambda run=run: _finished(run), what="dedup to finish")
        runs.append(run)

    assert [(run.status, run.rows_done, run.rows_changed) for run in runs] == [
        (JobRun.Status.SUCCEEDED, 2, 1), (JobRun.Status.SUCCEEDED, 2, 0)]
    assert DuplicateCandidate.objects.get().reasons == ["same_id_number", "similar_name", "same_birth_date",
                                                        "same_address"]
