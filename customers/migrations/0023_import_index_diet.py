"""Fewer customer indexes, each paid for on every row a bulk import writes (docs/benchmarks.md).

- The single-column foreign-key indexes on home_branch and primary_rm go: cust_branch_rm_name and cust_rm_name
  lead with those columns and serve the same lookups (PROTECT checks, a branch's or an RM's customers).
- merged_into keeps an index only over merged-away records (a partial index), not one entry per customer.
- name takes collation "C" (the code-point order the C.UTF-8 database sorts in anyway), so cust_name_id serves
  `LIKE 'prefix%'` and cust_name_prefix goes.

The foreign-key constraints themselves stay as they are: only their indexes are dropped (no re-validation).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0022_dq_issue_fewer_indexes'),
        ('org', '0003_role_groups'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='customer',
            name='cust_name_prefix',
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(
                'DROP INDEX IF EXISTS "customers_customer_home_branch_id_ecc0227c"',
                'CREATE INDEX IF NOT EXISTS "customers_customer_home_branch_id_ecc0227c" ON "customers_customer" ("home_branch_id")',
            )],
            state_operations=[
                migrations.AlterField(
                    model_name='customer',
                    name='home_branch',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='customers', to='org.branch', verbose_name='home branch'),
                ),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(
                'DROP INDEX IF EXISTS "customers_customer_merged_into_id_2994ddb6"',
                'CREATE INDEX IF NOT EXISTS "customers_customer_merged_into_id_2994ddb6" ON "customers_customer" ("merged_into_id")',
            )],
            state_operations=[
                migrations.AlterField(
                    model_name='customer',
                    name='merged_into',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='merged_from', to='customers.customer', verbose_name='merged into'),
                ),
            ],
        ),
        migrations.AlterField(
            model_name='customer',
            name='name',
            field=models.CharField(db_collation='C', help_text='Legal name as on the identity document.', max_length=200, verbose_name='name'),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(
                'DROP INDEX IF EXISTS "customers_customer_primary_rm_id_c798f0ab"',
                'CREATE INDEX IF NOT EXISTS "customers_customer_primary_rm_id_c798f0ab" ON "customers_customer" ("primary_rm_id")',
            )],
            state_operations=[
                migrations.AlterField(
                    model_name='customer',
                    name='primary_rm',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='customers', to=settings.AUTH_USER_MODEL, verbose_name='relationship manager'),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(condition=models.Q(('merged_into__isnull', False)), fields=['merged_into'], name='cust_merged_into'),
        ),
    ]
