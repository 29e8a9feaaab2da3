from django.db import migrations

from opportunities.defaults import DEFAULT_PIPELINES, DEFAULT_STAGES


def create_defaults(apps, schema_editor):
    pipeline_model = apps.get_model("opportunities", "Pipeline")
    stage_model = apps.get_model("opportunities", "Stage")
    for category, english, _label in DEFAULT_PIPELINES:
        pipeline, created = pipeline_model.objects.get_or_create(category=category, defaults={"name": english})
        if not created:
            continue
        for order, (code, name, _label2, probability, suitability, won, lost) in enumerate(DEFAULT_STAGES, start=1):
            stage_model.objects.create(pipeline=pipeline, code=code, name=name, order=order * 10,
                                       probability=probability, needs_suitability=suitability,
                                       is_won=won, is_lost=lost)


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
