"""A job for the worker tests: slow enough to be killed mid-run, and it counts how often it finishes.

Loaded into the test worker through CELERY_EXTRA_TASK_MODULES; the product never imports it.
"""

import time

import redis
from django.conf import settings

from crm_site.jobs import JobProgress, job


def finished_key(run_id: int) -> str:
    return f"crm-test:slow-job-finished:{run_id}"


@job("test_slow_job", label="test: slow job")
def slow_job(progress: JobProgress, chunks: int = 10, pause: float = 0.3) -> None:
    progress.set_total(int(chunks))
    for _ in range(int(chunks)):
        time.sleep(float(pause))
        progress.advance(1)
    redis.Redis.from_url(settings.REDIS_URL).incr(finished_key(progress.run.pk))
