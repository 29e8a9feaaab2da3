"""The row audit trigger skips rows written by a bulk import (transaction-local crm.audit_bulk), which
records one summary entry instead. CREATE OR REPLACE FUNCTION takes no lock on the audited tables."""

from django.db import migrations

from org.audit import ROW_CHANGE_FUNCTION


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_import_roles_schedule"), ("org", "0002_audit_triggers")]

    operations = [migrations.RunSQL(ROW_CHANGE_FUNCTION, migrations.RunSQL.noop)]
