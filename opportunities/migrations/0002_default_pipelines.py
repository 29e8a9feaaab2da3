from django.db import migrations

from opportunities.defaults import create_default_pipelines


def create_defaults(apps, schema_editor):
    create_default_pipelines(apps.get_model("opportunities", "Pipeline"), apps.get_model("opportunities", "Stage"))


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
