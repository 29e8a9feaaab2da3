from django.db import migrations

BACKFILL = """
UPDATE opportunities_opportunity o SET furthest_stage_id = f.stage_id
FROM (
    SELECT DISTINCT ON (c.opportunity_id) c.opportunity_id, s.id AS stage_id
    FROM opportunities_stagechange c
    JOIN opportunities_stage s ON s.id = c.to_stage_id AND NOT s.is_lost
    ORDER BY c.opportunity_id, s."order" DESC
) f
WHERE f.opportunity_id = o.id AND o.furthest_stage_id IS DISTINCT FROM f.stage_id
"""


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0007_opportunity_furthest_stage")]

    operations = [migrations.RunSQL(BACKFILL, migrations.RunSQL.noop)]
