"""Default tier thresholds (CNY of assets under management); administrators change them in admin."""

from decimal import Decimal

from django.db import migrations

DEFAULTS = [("mass", "0"), ("affluent", "500000"), ("wealth", "6000000"), ("private", "30000000")]


def create(apps, schema_editor):
    model = apps.get_model("customers", "TierThreshold")
    for tier, amount in DEFAULTS:
        model.objects.get_or_create(tier=tier, defaults={"min_aum": Decimal(amount)})


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_audit_new_tables")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
