from django.db import migrations

from org.audit import track_table_sql, untrack_table_sql


class Migration(migrations.Migration):
    dependencies = [("customers", "0012_churn_risk")]

    operations = [
        migrations.RunSQL(track_table_sql("customers_churnriskepisode", label="customers.churnriskepisode"),
                          untrack_table_sql("customers_churnriskepisode")),
    ]
