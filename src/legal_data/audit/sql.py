"""The audit trail's SQL: capture triggers, append-only guards, partition maintenance.

Everything here is installed by migrations (``alembic/versions/0014_audit.py`` and any
later revision that adds an audited table). Design, with the numbers behind it, is in
the README's audit section:

- capture is statement-level with transition tables (``REFERENCING NEW TABLE``/``OLD
  TABLE``): one INSERT into ``audit_logs`` per statement, whatever the number of rows;
- ``audit_capture()`` is SECURITY DEFINER (owner ``legal_audit``: NOLOGIN, BYPASSRLS,
  INSERT on the log and nothing else; pinned ``search_path``) so the application role
  has no INSERT privilege on the log: it can neither forge nor skip rows. Each audit
  row's firm is the changed row's own ``tenant_id``. Actor fields come from the
  transaction-local settings the tenant session already sent; a write without an actor
  fails unless the documented system actor (role ``system``) is in use. There is no
  switch to turn it off;
- UPDATE rows store only the changed columns (old and new); updates that change
  nothing but ``updated_at``/``updated_by``/``version`` are skipped;
- guards refuse UPDATE, DELETE and TRUNCATE on the log and every partition, also for
  the owner and under ``session_replication_role = replica`` (ENABLE ALWAYS), and an
  event trigger refuses DDL that would disable, detach or drop them.
"""

from __future__ import annotations

import re

AUDITED_KEY_DEFAULT = "tenant_id"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: Custom SQLSTATE raised by the capture trigger when a write has no actor.
SQLSTATE_ACTOR_MISSING = "LDA01"
#: Custom SQLSTATE raised by the append-only guards.
SQLSTATE_APPEND_ONLY = "LDA02"
#: Custom SQLSTATE of refused partition maintenance (unsealed month, bad name).
SQLSTATE_MAINTENANCE = "LDA03"


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def audit_triggers_sql(table: str, *, key: str = AUDITED_KEY_DEFAULT) -> str:
    """The three capture triggers of one table (PostgreSQL allows transition tables only
    on single-event triggers). ``key`` is the column holding the firm's id."""
    t, k = _ident(table), _ident(key)
    return f"""
CREATE TRIGGER audit_insert AFTER INSERT ON {t}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_capture('{k}');
CREATE TRIGGER audit_update AFTER UPDATE ON {t}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_capture('{k}');
CREATE TRIGGER audit_delete AFTER DELETE ON {t}
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_capture('{k}');
ALTER TABLE {t} ENABLE ALWAYS TRIGGER audit_insert;
ALTER TABLE {t} ENABLE ALWAYS TRIGGER audit_update;
ALTER TABLE {t} ENABLE ALWAYS TRIGGER audit_delete;
"""


def drop_audit_triggers_sql(table: str) -> str:
    t = _ident(table)
    return f"""
DROP TRIGGER IF EXISTS audit_insert ON {t};
DROP TRIGGER IF EXISTS audit_update ON {t};
DROP TRIGGER IF EXISTS audit_delete ON {t};
"""


CAPTURE_FUNCTION = f"""
CREATE FUNCTION audit_capture() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
DECLARE
    key text := TG_ARGV[0];
    actor uuid := NULLIF(current_setting('app.current_user_id', true), '')::uuid;
    actor_role text := NULLIF(current_setting('app.current_user_role', true), '');
    ip inet := NULLIF(current_setting('app.client_ip', true), '')::inet;
    agent text := NULLIF(current_setting('app.user_agent', true), '');
    request text := NULLIF(current_setting('app.request_id', true), '');
    why text := NULLIF(current_setting('app.reason', true), '');
    paired bigint;
BEGIN
    IF actor IS NULL AND actor_role IS DISTINCT FROM 'system' THEN
        RAISE EXCEPTION 'audit: % on % without an actor', TG_OP, TG_TABLE_NAME
            USING ERRCODE = '{SQLSTATE_ACTOR_MISSING}',
                  HINT = 'set user_id in the tenant context, or use the system actor';
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_logs (tenant_id, table_name, row_id, action, changed_values,
                                actor_id, actor_role, client_ip, user_agent, request_id, reason)
        SELECT (j ->> key)::uuid, TG_TABLE_NAME, (j ->> 'id')::uuid, 'INSERT', j,
               actor, actor_role, ip, agent, request, why
        FROM (SELECT to_jsonb(n) AS j FROM new_rows n) s;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO audit_logs (tenant_id, table_name, row_id, action, old_values,
                                actor_id, actor_role, client_ip, user_agent, request_id, reason)
        SELECT (j ->> key)::uuid, TG_TABLE_NAME, (j ->> 'id')::uuid, 'DELETE', j,
               actor, actor_role, ip, agent, request, why
        FROM (SELECT to_jsonb(o) AS j FROM old_rows o) s;
    ELSE
        -- Pair before/after images by id; a changed primary key would break the pairing,
        -- so it is refused rather than recorded wrongly.
        WITH o AS (SELECT to_jsonb(o) AS j FROM old_rows o),
             n AS (SELECT to_jsonb(n) AS j FROM new_rows n),
             pairs AS (
                 SELECT o.j AS oj, n.j AS nj FROM o JOIN n ON (o.j ->> 'id') = (n.j ->> 'id')
             ),
             diffs AS (
                 SELECT nj,
                        (SELECT jsonb_object_agg(k, oj -> k) FROM jsonb_object_keys(nj) k
                          WHERE oj -> k IS DISTINCT FROM nj -> k) AS before,
                        (SELECT jsonb_object_agg(k, nj -> k) FROM jsonb_object_keys(nj) k
                          WHERE oj -> k IS DISTINCT FROM nj -> k) AS after,
                        EXISTS (SELECT 1 FROM jsonb_object_keys(nj) k
                                WHERE oj -> k IS DISTINCT FROM nj -> k
                                  AND k NOT IN ('updated_at', 'updated_by', 'version'))
                            AS meaningful
                 FROM pairs
             ),
             written AS (
                 INSERT INTO audit_logs (tenant_id, table_name, row_id, action, old_values,
                                         changed_values, actor_id, actor_role, client_ip,
                                         user_agent, request_id, reason)
                 SELECT (nj ->> key)::uuid, TG_TABLE_NAME, (nj ->> 'id')::uuid, 'UPDATE',
                        before, after, actor, actor_role, ip, agent, request, why
                 FROM diffs WHERE meaningful
                 RETURNING 1
             )
        SELECT (SELECT count(*) FROM pairs) INTO paired;
        IF paired <> (SELECT count(*) FROM old_rows) THEN
            RAISE EXCEPTION 'audit: primary keys of % cannot be changed', TG_TABLE_NAME
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION audit_capture() FROM PUBLIC;
"""

GUARD_FUNCTION = f"""
CREATE FUNCTION audit_refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = '{SQLSTATE_APPEND_ONLY}';
END
$$;
"""


def append_only_guards_sql(table: str) -> str:
    """Row guards (cloned to partitions) and the TRUNCATE guard (per table: statement
    triggers are not cloned, and a partition TRUNCATE bypasses the parent)."""
    t = _ident(table)
    return f"""
CREATE TRIGGER append_only_rows BEFORE UPDATE OR DELETE ON {t}
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON {t}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
ALTER TABLE {t} ENABLE ALWAYS TRIGGER append_only_rows;
ALTER TABLE {t} ENABLE ALWAYS TRIGGER append_only_truncate;
"""


def drop_append_only_guards_sql(table: str) -> str:
    t = _ident(table)
    return f"""
DROP TRIGGER IF EXISTS append_only_truncate ON {t};
DROP TRIGGER IF EXISTS append_only_rows ON {t};
"""


#: Creates the monthly partitions from the current month up to ``months_ahead`` later,
#: each with its TRUNCATE guard and RLS; the maintenance command and the migration call it.
#: SECURITY DEFINER so partitions are owned by ``legal_owner`` whoever runs maintenance.
PARTITION_FUNCTION = """
CREATE FUNCTION audit_ensure_partitions(months_ahead integer) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
DECLARE
    first_month date := date_trunc('month', statement_timestamp() AT TIME ZONE 'UTC')::date;
    m date;
    part text;
    created integer := 0;
BEGIN
    IF months_ahead < 0 OR months_ahead > 120 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 120';
    END IF;
    FOR i IN 0..months_ahead LOOP
        m := (first_month + make_interval(months => i))::date;
        part := format('audit_logs_p%s', to_char(m, 'YYYYMM'));
        IF to_regclass('public.' || part) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE public.%I PARTITION OF public.audit_logs'
                ' FOR VALUES FROM (%L) TO (%L)',
                part,
                (m::timestamp AT TIME ZONE 'UTC'),
                ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            EXECUTE format('CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON public.%I'
                           ' FOR EACH STATEMENT'
                           ' EXECUTE FUNCTION public.audit_refuse_change()', part);
            EXECUTE format('ALTER TABLE public.%I'
                           ' ENABLE ALWAYS TRIGGER append_only_truncate', part);
            EXECUTE format('ALTER TABLE public.%I ENABLE ALWAYS TRIGGER append_only_rows', part);
            EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', part);
            EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', part);
            EXECUTE format('CREATE POLICY tenant_isolation ON public.%I AS RESTRICTIVE FOR ALL'
                           ' USING (tenant_id = (SELECT public.app_current_tenant_id()))'
                           ' WITH CHECK'
                           ' (tenant_id = (SELECT public.app_current_tenant_id()))', part);
            EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC', part);
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END
$$;
REVOKE ALL ON FUNCTION audit_ensure_partitions(integer) FROM PUBLIC;
"""

#: Detaches and drops one month after ``legal-data audit archive`` exported and verified
#: it. Runs as its caller, who must see every firm's rows (the migration admin): as a
#: definer owned by ``legal_owner`` Row Level Security would hide the rows it counts.
#: Refuses a month with unsealed rows; records the archive (append-only) so that
#: verification knows those sealed batches now live in the archive file.
DROP_PARTITION_FUNCTION = f"""
CREATE FUNCTION audit_drop_partition(part text, archive_sha256 text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
DECLARE
    n bigint;
    unsealed bigint;
BEGIN
    IF part !~ '^audit_logs_p[0-9]{{6}}$' OR to_regclass('public.' || part) IS NULL THEN
        RAISE EXCEPTION 'not an audit partition: %', part
            USING ERRCODE = '{SQLSTATE_MAINTENANCE}';
    END IF;
    IF archive_sha256 !~ '^[0-9a-f]{{64}}$' THEN
        RAISE EXCEPTION 'archive checksum must be 64 lowercase hex digits'
            USING ERRCODE = '{SQLSTATE_MAINTENANCE}';
    END IF;
    EXECUTE format(
        'SELECT count(*), count(*) FILTER (WHERE NOT EXISTS ('
        ' SELECT 1 FROM public.audit_seals s WHERE s.tenant_id = l.tenant_id'
        ' AND l.txid >= s.txid_from AND l.txid < s.txid_to)) FROM public.%I l', part)
        INTO n, unsealed;
    IF unsealed > 0 THEN
        RAISE EXCEPTION '% has % unsealed rows; run legal-data audit seal first', part, unsealed
            USING ERRCODE = '{SQLSTATE_MAINTENANCE}';
    END IF;
    INSERT INTO public.audit_archives (partition_name, row_count, archive_sha256)
        VALUES (part, n, archive_sha256);
    EXECUTE format('ALTER TABLE public.audit_logs DETACH PARTITION public.%I', part);
    EXECUTE format('DROP TABLE public.%I', part);
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION audit_drop_partition(text, text) FROM PUBLIC;
"""

#: DDL on the audit objects is refused unless it runs inside the two maintenance
#: functions above, called as the whole top-level statement. Event triggers fire for
#: superusers too; only dropping the event trigger (superuser) gets around it, and the
#: seals then detect what was changed.
DDL_GUARD = f"""
CREATE FUNCTION audit_guard_ddl() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
DECLARE
    r record;
    -- The log (and its partitions), seals, archives, security events, their guards and
    -- policies, and the functions that write or guard them.
    protected constant text :=
        '(^public\\.(audit_(logs|seals|archives)|security_events)(_p[0-9]{{6}}|_default)?$)'
        '|( on public\\.(audit_(logs|seals|archives)|security_events)(_p[0-9]{{6}}|_default)?$)'
        '|(^public\\.(audit_(capture|refuse_change|ensure_partitions|drop_partition|guard_ddl'
        '|record_access)|security_event_record)\\()';
BEGIN
    IF current_query() ~*
        '^\\s*SELECT\\s+(public\\.)?audit_(ensure_partitions|drop_partition)\\([^;]*\\)\\s*;?\\s*$'
    THEN
        RETURN;
    END IF;
    IF TG_EVENT = 'sql_drop' THEN
        FOR r IN SELECT object_identity FROM pg_event_trigger_dropped_objects() LOOP
            IF r.object_identity ~ protected THEN
                RAISE EXCEPTION 'the audit trail cannot be dropped or weakened (%)',
                    r.object_identity USING ERRCODE = '{SQLSTATE_APPEND_ONLY}';
            END IF;
        END LOOP;
    ELSE
        FOR r IN SELECT object_identity FROM pg_event_trigger_ddl_commands() LOOP
            IF r.object_identity ~ protected THEN
                RAISE EXCEPTION 'DDL on the audit trail is refused (%)',
                    r.object_identity USING ERRCODE = '{SQLSTATE_APPEND_ONLY}';
            END IF;
        END LOOP;
    END IF;
END
$$;
CREATE EVENT TRIGGER audit_guard_ddl ON ddl_command_end EXECUTE FUNCTION audit_guard_ddl();
CREATE EVENT TRIGGER audit_guard_drop ON sql_drop EXECUTE FUNCTION audit_guard_ddl();
"""

DROP_DDL_GUARD = """
DROP EVENT TRIGGER IF EXISTS audit_guard_drop;
DROP EVENT TRIGGER IF EXISTS audit_guard_ddl;
DROP FUNCTION IF EXISTS audit_guard_ddl();
"""

#: READ events: the only way the application writes to the log directly. Action,
#: time, transaction and actor are set here, never taken from the caller.
RECORD_ACCESS_FUNCTION = f"""
CREATE FUNCTION audit_record_access(p_table text, p_row_id uuid, p_details jsonb)
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
DECLARE
    tenant uuid := app_current_tenant_id();
    actor uuid := NULLIF(current_setting('app.current_user_id', true), '')::uuid;
    new_id uuid := app_uuid_v7();
BEGIN
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'audit: READ event without a tenant'
            USING ERRCODE = '{SQLSTATE_ACTOR_MISSING}';
    END IF;
    IF actor IS NULL THEN
        RAISE EXCEPTION 'audit: READ event without an actor'
            USING ERRCODE = '{SQLSTATE_ACTOR_MISSING}';
    END IF;
    INSERT INTO audit_logs (tenant_id, id, table_name, row_id, action, changed_values,
                            actor_id, actor_role, client_ip, user_agent, request_id, reason)
    VALUES (tenant, new_id, p_table, p_row_id, 'READ', p_details, actor,
            NULLIF(current_setting('app.current_user_role', true), ''),
            NULLIF(current_setting('app.client_ip', true), '')::inet,
            NULLIF(current_setting('app.user_agent', true), ''),
            NULLIF(current_setting('app.request_id', true), ''),
            NULLIF(current_setting('app.reason', true), ''));
    RETURN new_id;
END
$$;
REVOKE ALL ON FUNCTION audit_record_access(text, uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_record_access(text, uuid, jsonb) TO legal_app;
"""

#: Security events are written by the library where it detects them, also when no firm
#: is known (a failed login for an unknown slug): such events carry the nil UUID and are
#: visible to operators only. Owned by ``legal_auth`` so it can write any firm's row.
SECURITY_EVENT_FUNCTION = """
CREATE FUNCTION security_event_record(p_tenant uuid, p_kind text, p_severity text,
                                      p_details jsonb)
    RETURNS uuid
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
    INSERT INTO public.security_events
        (tenant_id, id, kind, severity, details, actor_id, client_ip, user_agent, request_id)
    VALUES (
        coalesce(p_tenant, '00000000-0000-0000-0000-000000000000'::uuid),
        public.app_uuid_v7(), p_kind, p_severity, coalesce(p_details, '{}'::jsonb),
        NULLIF(current_setting('app.current_user_id', true), '')::uuid,
        NULLIF(current_setting('app.client_ip', true), '')::inet,
        NULLIF(current_setting('app.user_agent', true), ''),
        NULLIF(current_setting('app.request_id', true), ''))
    RETURNING id
$$;
"""
