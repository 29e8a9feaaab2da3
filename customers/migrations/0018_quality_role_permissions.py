from django.db import migrations

from org.roles import ROLE_PERMISSIONS, sync_role_permissions


def grant(apps, schema_editor):
    sync_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("customers", "0017_audit_quality_issues"), ("org", "0003_role_groups")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
