"""Administrators may read the export log in admin; hourly deletion of export files past EXPORT_FILE_RETENTION_HOURS (editable in admin), and the removal of
`reports.export_data`: it gated nothing (each list's export has its own permission, customers.export_customer),
so a role holding it only looked able to do something it could not."""

import json

from django.conf import settings
from django.db import migrations

from org.roles import ROLE_PERMISSIONS, sync_role_permissions

SCHEDULE = ("export_files_purge", "Delete export files past their retention", "20", "*")


def forwards(apps, schema_editor):
    sync_role_permissions(apps, ROLE_PERMISSIONS)  # administrators read the export log in admin
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
    apps.get_model("auth", "Permission").objects.filter(content_type__app_label="reports",
                                                       codename="export_data").delete()


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE[1]).delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0011_export_jobs"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(forwards, backwards)]
