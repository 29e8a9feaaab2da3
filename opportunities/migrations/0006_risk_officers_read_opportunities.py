from django.db import migrations

from org.roles import ROLE_PERMISSIONS, sync_role_permissions


def grant(apps, schema_editor):
    sync_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0005_leads_audit_roles_schedule")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
