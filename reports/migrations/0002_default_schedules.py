"""Default beat schedules of the platform's jobs; administrators edit them in admin afterwards."""

import json

from django.conf import settings
from django.db import migrations

SCHEDULES = [
    # (job name, task name, minute, hour)
    ("sessions_purge", "Purge expired sessions", "10", "3"),
    ("lockouts_purge", "Purge expired sign-in failures", "20", "3"),
]


def create_schedules(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    for job, title, minute, hour in SCHEDULES:
        crontab, _created = crontab_model.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*",
            timezone=settings.TIME_ZONE,
        )
        task_model.objects.get_or_create(
            name=title,
            defaults={"task": "reports.tasks.run_job", "crontab": crontab, "args": json.dumps([job]),
                      "description": f"job {job}"},
        )


def remove_schedules(apps, schema_editor):
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    task_model.objects.filter(name__in=[title for _job, title, _m, _h in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
