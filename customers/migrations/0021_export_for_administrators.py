from django.db import migrations

from org.roles import ROLE_PERMISSIONS, sync_role_permissions


def grant(apps, schema_editor):
    # Administrators export customers too (the list page and the admin's export button check the same
    # permission); operations, branch managers and marketing had it already.
    sync_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("customers", "0020_dedup_schedule_and_permissions"), ("org", "0003_role_groups")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
