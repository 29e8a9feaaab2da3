"""The audit trail: who did what, when, from where, to which object — never the values of personal data.

Application events (sign-in, reveal, export, import) are written with `audit_record()`. Row changes
are written by the PostgreSQL trigger `crm_audit_row_change()` installed on every tracked table
(`track_table_sql()`), so bulk writes and `queryset.update()` are recorded too. The trigger reads
the actor from the pghistory context that AuditContextMiddleware (and `audit_context()` in jobs and
commands) opens around each request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pghistory
from django.db import models
from django.http import HttpRequest

from .models import AuditEntry


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: the proxy's X-Forwarded-For entry only when proxies are configured."""
    if request is None:
        return None
    from django.conf import settings

    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    action: str,
    actor: Any = None,
    request: HttpRequest | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    fields: Iterable[str] = (),
    detail: dict | None = None,
    username: str = "",
) -> AuditEntry:
    """Append one audit entry (in the caller's transaction, so it commits or rolls back with the act)."""
    if actor is None and request is not None and getattr(request, "user", None) is not None:
        actor = request.user if request.user.is_authenticated else None
    if obj is not None:
        object_type = obj._meta.label_lower
        object_id = str(obj.pk)
    return AuditEntry.objects.create(
        actor_id=getattr(actor, "pk", None),
        actor_username=getattr(actor, "username", "") or username,
        ip_address=client_ip(request),
        action=action,
        object_type=object_type,
        object_id=object_id,
        # str() of our models masks personal data, so the repr is safe to keep.
        object_repr=str(obj)[:200] if obj is not None else "",
        fields=sorted(fields),
        detail=detail or {},
    )


def audit_context(
    *, user: Any = None, username: str = "", ip: str | None = None, **extra: Any
) -> pghistory.context:
    """Context for the row-change trigger outside a request (jobs, commands, imports)."""
    return pghistory.context(
        user=getattr(user, "pk", None), username=getattr(user, "username", "") or username, ip=ip, **extra
    )


# ---------------------------------------------------------------------------------------------
# SQL installed by migrations.

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION crm_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
"""


def append_only_sql(table: str) -> str:
    return (
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};"
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION crm_refuse_change();"
    )


# TG_ARGV[0] is the mode: 'fields' records the names of changed columns; 'permission' records a
# grant/revoke on a permission link table with the row's ids (no personal data lives there).
# TG_ARGV[1] is the model label ("customers.customer"), as audit_record() writes it.
# The remaining arguments are columns whose changes are not worth an entry (e.g. last_login).
ROW_CHANGE_FUNCTION = r"""
CREATE OR REPLACE FUNCTION crm_audit_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    meta jsonb;
    old_row jsonb;
    new_row jsonb;
    changed text[];
    mode text := TG_ARGV[0];
    label text := TG_ARGV[1];
    skipped text[] := TG_ARGV[2:];
    act text;
    detail jsonb := '{}'::jsonb;
BEGIN
    -- A bulk import sets crm.audit_bulk (transaction-local) and writes one summary entry itself.
    IF current_setting('crm.audit_bulk', true) <> '' THEN
        RETURN NULL;
    END IF;
    BEGIN
        meta := NULLIF(current_setting('pghistory.context_metadata', true), '')::jsonb;
    EXCEPTION WHEN others THEN
        meta := NULL;
    END;
    IF TG_OP = 'INSERT' THEN
        new_row := to_jsonb(NEW);
        SELECT array_agg(k ORDER BY k) INTO changed FROM jsonb_object_keys(new_row) AS k
            WHERE NOT (k = ANY(skipped)) AND new_row -> k <> 'null'::jsonb;
        act := 'create';
    ELSIF TG_OP = 'UPDATE' THEN
        old_row := to_jsonb(OLD);
        new_row := to_jsonb(NEW);
        SELECT array_agg(k ORDER BY k) INTO changed FROM jsonb_object_keys(new_row) AS k
            WHERE NOT (k = ANY(skipped)) AND new_row -> k IS DISTINCT FROM old_row -> k;
        IF changed IS NULL THEN
            RETURN NULL;
        END IF;
        act := 'update';
    ELSE
        old_row := to_jsonb(OLD);
        act := 'delete';
    END IF;
    IF mode = 'permission' THEN
        act := 'permission_change';
        detail := jsonb_build_object('op', lower(TG_OP), 'row', COALESCE(new_row, old_row));
    END IF;
    IF meta ? 'url' THEN
        detail := detail || jsonb_build_object('url', meta ->> 'url');
    END IF;
    IF meta ? 'job' THEN
        detail := detail || jsonb_build_object('job', meta ->> 'job');
    END IF;
    INSERT INTO org_auditentry
        (occurred_at, actor_id, actor_username, ip_address, action, object_type, object_id,
         object_repr, fields, detail)
    VALUES (
        clock_timestamp(),
        NULLIF(meta ->> 'user', '')::bigint,
        COALESCE(meta ->> 'username', ''),
        NULLIF(meta ->> 'ip', '')::inet,
        act,
        label,
        COALESCE(new_row ->> 'id', old_row ->> 'id', ''),
        '',
        COALESCE(changed, '{}'),
        detail
    );
    RETURN NULL;
END $$;
"""


# Evaluated as each row is written: while a bulk import's transaction-local crm.audit_bulk is set, no trigger
# event is queued at all (a million-row commit would otherwise queue and run a million no-op calls).
AUDIT_WHEN = "(COALESCE(current_setting('crm.audit_bulk', true), '') = '')"

# Adds the WHEN clause to the audit triggers installed before it existed (reports/0009).
AUDIT_WHEN_UPGRADE = f"""
DO $$
DECLARE
    t record;
    definition text;
BEGIN
    FOR t IN SELECT tg.oid, tg.tgname, c.relname FROM pg_trigger AS tg
               JOIN pg_class AS c ON c.oid = tg.tgrelid JOIN pg_proc AS p ON p.oid = tg.tgfoid
              WHERE p.proname = 'crm_audit_row_change' AND NOT tg.tgisinternal AND tg.tgqual IS NULL LOOP
        definition := replace(pg_get_triggerdef(t.oid), ' FOR EACH ROW EXECUTE',
                              ' FOR EACH ROW WHEN {AUDIT_WHEN.replace("'", "''")} EXECUTE');
        EXECUTE format('DROP TRIGGER %I ON %I', t.tgname, t.relname);
        EXECUTE definition;
    END LOOP;
END $$;
"""  # noqa: S608 - constant text, no input


def track_table_sql(table: str, *, label: str, mode: str = "fields", skip: Iterable[str] = ()) -> str:
    args = ", ".join(f"'{name}'" for name in (mode, label, *skip))
    return (
        f"DROP TRIGGER IF EXISTS {table}_audit ON {table};"
        f"CREATE TRIGGER {table}_audit AFTER INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW WHEN {AUDIT_WHEN} EXECUTE FUNCTION crm_audit_row_change({args});"
    )


def untrack_table_sql(table: str) -> str:
    return f"DROP TRIGGER IF EXISTS {table}_audit ON {table};"
