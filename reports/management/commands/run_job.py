"""manage.py run_job NAME [--param key=value ...]: run one job now, in the foreground."""

import json

from django.core.management.base import BaseCommand, CommandError

from crm_site.jobs import JOBS, jobrun_execute
from reports.models import JobRun


class Command(BaseCommand):
    help = "Run one scheduled job now, in the foreground, and print its job-run record."

    def add_arguments(self, parser):
        parser.add_argument("name", help="job name; one of the registered jobs")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                            help="a parameter for the job (repeatable)")

    def handle(self, *args, name: str, param: list[str], **options):
        if name not in JOBS:
            raise CommandError(f"Unknown job {name!r}. Known jobs: {', '.join(sorted(JOBS))}")
        params = {}
        for item in param:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--param needs KEY=VALUE, got {item!r}")
            params[key.replace("-", "_")] = value
        run = JobRun.objects.create(name=name, trigger=JobRun.Trigger.COMMAND, params=params)
        try:
            jobrun_execute(run=run)
        except Exception as exc:
            run.refresh_from_db()
            self.stdout.write(json.dumps(_record(run), ensure_ascii=False, indent=2))
            raise CommandError(f"job {name} failed: {exc}") from exc
        self.stdout.write(json.dumps(_record(run), ensure_ascii=False, indent=2))


def _record(run: JobRun) -> dict:
    return {
        "id": run.pk,
        "name": run.name,
        "status": run.status,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "rows_total": run.rows_total,
        "rows_done": run.rows_done,
        "rows_changed": run.rows_changed,
        "rows_failed": run.rows_failed,
        "attempts": run.attempts,
        "error": run.error,
    }
