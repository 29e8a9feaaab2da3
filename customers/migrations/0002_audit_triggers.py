from django.db import migrations

from org.audit import track_table_sql, untrack_table_sql

TRACKED = [
    ("customers_customer", "customers.customer", "fields"),
    ("customers_customeruserobjectpermission", "customers.customeruserobjectpermission", "permission"),
    ("customers_customergroupobjectpermission", "customers.customergroupobjectpermission", "permission"),
]


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial"), ("org", "0002_audit_triggers")]

    operations = [
        migrations.RunSQL(track_table_sql(table, label=label, mode=mode), untrack_table_sql(table))
        for table, label, mode in TRACKED
    ]
