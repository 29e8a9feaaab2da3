from django.db import migrations

from org.audit import track_table_sql, untrack_table_sql

# Transactions are facts from core banking loaded in bulk; their loads are audited per file.
TRACKED = [
    ("customers_product", "customers.product"),
    ("customers_account", "customers.account"),
    ("customers_relationship", "customers.relationship"),
    ("customers_tag", "customers.tag"),
    ("customers_customertag", "customers.customertag"),
    ("customers_segment", "customers.segment"),
    ("customers_tierthreshold", "customers.tierthreshold"),
]


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_banking_model")]

    operations = [
        migrations.RunSQL(track_table_sql(table, label=label), untrack_table_sql(table))
        for table, label in TRACKED
    ]
