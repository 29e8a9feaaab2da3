from django.db import migrations

from org.audit import (
    APPEND_ONLY_FUNCTION,
    ROW_CHANGE_FUNCTION,
    append_only_sql,
    track_table_sql,
    untrack_table_sql,
)

TRACKED = [
    ("org_user", "org.user", "fields", ["last_login"]),
    ("org_branch", "org.branch", "fields", []),
    ("org_user_groups", "org.user_groups", "permission", []),
    ("org_user_user_permissions", "org.user_user_permissions", "permission", []),
    ("auth_group_permissions", "auth.group_permissions", "permission", []),
]


class Migration(migrations.Migration):
    dependencies = [("org", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunSQL(
            APPEND_ONLY_FUNCTION + append_only_sql("org_auditentry"),
            "DROP TRIGGER IF EXISTS org_auditentry_append_only ON org_auditentry;"
            "DROP FUNCTION IF EXISTS crm_refuse_change();",
        ),
        migrations.RunSQL(ROW_CHANGE_FUNCTION, "DROP FUNCTION IF EXISTS crm_audit_row_change() CASCADE;"),
        *[
            migrations.RunSQL(track_table_sql(table, label=label, mode=mode, skip=skip), untrack_table_sql(table))
            for table, label, mode, skip in TRACKED
        ],
    ]
