"""Nightly purge of old job runs (the every-minute sweeps write about 1,440 a day); editable in admin."""

import json

from django.conf import settings
from django.db import migrations

SCHEDULE = ("jobruns_purge", "Purge old job runs", "50", "3")


def forwards(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    job, title, minute, hour = SCHEDULE
    crontab, _created = crontab_model.objects.get_or_create(
        minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE,
    )
    task_model.objects.get_or_create(
        name=title,
        defaults={"task": "reports.tasks.run_job", "crontab": crontab, "args": json.dumps([job]),
                  "description": f"job {job}"},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE[1]).delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0005_audit_bulk_switch"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(forwards, backwards)]
