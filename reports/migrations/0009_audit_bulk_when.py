"""The row audit triggers get a WHEN clause on the bulk switch: a bulk import's commit no longer queues one
trigger event per row only for the trigger function to skip it (≈ 2 µs a row, and the queue's memory).
The function keeps its own check, so a trigger created some other way still skips bulk rows."""

from django.db import migrations

from org.audit import AUDIT_WHEN_UPGRADE


class Migration(migrations.Migration):
    dependencies = [("reports", "0008_import_reverting")]

    operations = [migrations.RunSQL(AUDIT_WHEN_UPGRADE, migrations.RunSQL.noop)]
