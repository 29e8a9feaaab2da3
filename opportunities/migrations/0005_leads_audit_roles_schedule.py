"""Leads: row-change audit, role permissions, and the assignment sweep every minute (editable in admin)."""

import json

from django.conf import settings
from django.db import migrations

from org.audit import track_table_sql, untrack_table_sql
from org.roles import ROLE_PERMISSIONS, sync_role_permissions

TRACKED = [
    ("opportunities_lead", "opportunities.lead"),
    ("opportunities_leadassignment", "opportunities.leadassignment"),
    ("opportunities_assignmentrule", "opportunities.assignmentrule"),
    ("opportunities_productspecialist", "opportunities.productspecialist"),
    ("opportunities_referral", "opportunities.referral"),
]

JOB = "lead_assignment"
TITLE = "Lead assignment and first-contact warnings"


def grant(apps, schema_editor):
    sync_role_permissions(apps, ROLE_PERMISSIONS)


def create_schedule(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _created = crontab_model.objects.get_or_create(
        minute="*", hour="*", day_of_week="*", day_of_month="*", month_of_year="*",
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
        ("opportunities", "0004_leads"),
        ("org", "0003_role_groups"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        *(migrations.RunSQL(track_table_sql(table, label=label), untrack_table_sql(table)) for table, label in TRACKED),
        migrations.RunPython(grant, migrations.RunPython.noop),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
