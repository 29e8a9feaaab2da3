"""Nightly duplicate detection (after cleansing), and who works the duplicate queue."""

import json

from django.conf import settings
from django.db import migrations

from org.roles import ROLE_PERMISSIONS, sync_role_permissions

JOB = "dedup"
TITLE = "Duplicate detection"


def create_schedule(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _created = crontab_model.objects.get_or_create(
        minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    task_model.objects.get_or_create(
        name=TITLE,
        defaults={"task": "reports.tasks.run_job", "crontab": crontab, "args": json.dumps([JOB]),
                  "description": f"job {JOB}"},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TITLE).delete()


def grant(apps, schema_editor):
    sync_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0019_duplicates_and_quality_history"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("org", "0003_role_groups"),
    ]

    operations = [
        migrations.RunPython(create_schedule, remove_schedule),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
