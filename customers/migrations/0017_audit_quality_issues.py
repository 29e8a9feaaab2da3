from django.db import migrations

from org.audit import track_table_sql, untrack_table_sql


class Migration(migrations.Migration):
    dependencies = [("customers", "0016_cleansing_schedule")]

    operations = [
        migrations.RunSQL(track_table_sql("customers_dataqualityissue", label="customers.dataqualityissue"),
                          untrack_table_sql("customers_dataqualityissue")),
    ]
