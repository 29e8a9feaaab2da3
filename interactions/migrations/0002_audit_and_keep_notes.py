from django.db import migrations

from org.audit import track_table_sql, untrack_table_sql

TRACKED = [
    ("interactions_interaction", "interactions.interaction"),
    ("interactions_interactionrevision", "interactions.interactionrevision"),
    ("interactions_outboundmessage", "interactions.outboundmessage"),
]

# Tasks: every create, change and delete is audited except the sweeps' claims (NULL → time on
# reminded_at / overdue_notified_at), which only the sweep writes. A WHEN clause skips those rows
# before the trigger function runs, so a million-task sweep pays no per-row PL/pgSQL call.
TASK_TRIGGERS = """
DROP TRIGGER IF EXISTS interactions_task_audit ON interactions_task;
CREATE TRIGGER interactions_task_audit AFTER INSERT OR DELETE ON interactions_task
    FOR EACH ROW EXECUTE FUNCTION crm_audit_row_change('fields', 'interactions.task');
DROP TRIGGER IF EXISTS interactions_task_audit_update ON interactions_task;
CREATE TRIGGER interactions_task_audit_update AFTER UPDATE ON interactions_task
    FOR EACH ROW WHEN (NOT (
        (OLD.reminded_at IS NULL AND NEW.reminded_at IS NOT NULL)
        OR (OLD.overdue_notified_at IS NULL AND NEW.overdue_notified_at IS NOT NULL)
    ))
    EXECUTE FUNCTION crm_audit_row_change('fields', 'interactions.task');
"""
UNTRACK_TASK = """
DROP TRIGGER IF EXISTS interactions_task_audit ON interactions_task;
DROP TRIGGER IF EXISTS interactions_task_audit_update ON interactions_task;
"""

# A contact note is never lost: the database refuses to delete notes, and to change or delete the
# earlier versions a correction keeps (TRUNCATE is a privilege the application role does not hold).
KEEP_NOTES = """
CREATE OR REPLACE FUNCTION interactions_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'contact notes are kept: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER IF EXISTS interactions_interaction_keep ON interactions_interaction;
CREATE TRIGGER interactions_interaction_keep BEFORE DELETE ON interactions_interaction
    FOR EACH ROW EXECUTE FUNCTION interactions_refuse_change();
DROP TRIGGER IF EXISTS interactions_revision_keep ON interactions_interactionrevision;
CREATE TRIGGER interactions_revision_keep BEFORE UPDATE OR DELETE ON interactions_interactionrevision
    FOR EACH ROW EXECUTE FUNCTION interactions_refuse_change();
"""
UNKEEP_NOTES = """
DROP TRIGGER IF EXISTS interactions_interaction_keep ON interactions_interaction;
DROP TRIGGER IF EXISTS interactions_revision_keep ON interactions_interactionrevision;
DROP FUNCTION IF EXISTS interactions_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("interactions", "0001_initial"), ("org", "0002_audit_triggers")]

    operations = [
        *[migrations.RunSQL(track_table_sql(table, label=label), untrack_table_sql(table))
          for table, label in TRACKED],
        migrations.RunSQL(TASK_TRIGGERS, UNTRACK_TASK),
        migrations.RunSQL(KEEP_NOTES, UNKEEP_NOTES),
    ]
