from django.db import migrations

from org.audit import track_table_sql, untrack_table_sql
from org.roles import ROLE_PERMISSIONS, sync_role_permissions

# Stage changes are themselves the history of an opportunity (and the service audits each move), so
# the row trigger covers the opportunity and the override decisions only.
TRACKED = [
    ("opportunities_opportunity", "opportunities.opportunity"),
    ("opportunities_suitabilityoverride", "opportunities.suitabilityoverride"),
    ("opportunities_pipeline", "opportunities.pipeline"),
    ("opportunities_stage", "opportunities.stage"),
]


def grant(apps, schema_editor):
    sync_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0002_default_pipelines"), ("org", "0003_role_groups")]

    operations = [
        *(migrations.RunSQL(track_table_sql(table, label=label), untrack_table_sql(table)) for table, label in TRACKED),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
