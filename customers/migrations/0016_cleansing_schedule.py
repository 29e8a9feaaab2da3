"""Nightly data cleansing; administrators edit the schedule in admin afterwards."""

import json

from django.conf import settings
from django.db import migrations

JOB = "cleansing"
TITLE = "Data cleansing"


def create_schedule(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _created = crontab_model.objects.get_or_create(
        minute="0", hour="2", day_of_week="*", day_of_month="*", month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    task_model.objects.get_or_create(
        name=TITLE,
        defaults={"task": "reports.tasks.run_job", "crontab": crontab, "args": json.dumps([JOB]),
                  "description": f"job {JOB}"},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TITLE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0015_data_quality_issue"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
