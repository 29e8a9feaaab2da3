"""A slowed-down reminder sweep for the worker tests: long enough to kill a worker half-way.

Loaded into the test worker through CELERY_EXTRA_TASK_MODULES; the product never imports it.
"""

import time

from crm_site.jobs import JobProgress, job
from interactions import services


class _Slow:
    def __init__(self, progress: JobProgress, pause: float) -> None:
        self.progress, self.pause = progress, pause

    def advance(self, done: int, **counts) -> None:
        self.progress.advance(done, **counts)
        time.sleep(self.pause)


@job("test_slow_reminder_sweep", label="test: slow reminder sweep")
def slow_reminder_sweep(progress: JobProgress, chunk: int = 5, pause: float = 0.3) -> None:
    services.task_reminders_send(chunk=int(chunk), progress=_Slow(progress, float(pause)))
