"""The security posture of a live database, read from the catalog.

Used by ``legal-data check`` and by the catalog tests, so an operator and CI look at
exactly the same rules. Each rule yields :class:`Finding` rows; an empty list means
the database isolates firms the way this library expects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import Connection, text

from legal_data.tenancy.policies import (
    APP_ROLE,
    AUDIT_ROLE,
    AUTH_ROLE,
    BASE_POLICY,
    OWNER_ROLE,
    READONLY_ROLE,
    TENANT_POLICY,
)

#: Owner of the full-text search functions (NOLOGIN, BYPASSRLS, no members; revision 0017).
SEARCH_ROLE = "legal_search"
#: Tables without ``tenant_id`` that are shared on purpose. Anything else without a
#: tenant column is a finding: a new table must either be isolated or be listed here.
GLOBAL_TABLES = frozenset(
    {"courts", "case_type_codes", "schema_revisions", "alembic_version", "audit_archives"}
)
#: ``tenants`` is isolated by its own ``id``.
TENANT_KEY = {"tenants": "id"}
#: SECURITY DEFINER functions that are allowed to exist, and the role that must own each:
#: login before a tenant is known and security events (legal_auth, BYPASSRLS), the audit
#: trail's writers (legal_audit, BYPASSRLS, INSERT on the log only: the app role has no
#: INSERT) and its partition maintenance (legal_owner, which owns the partitions).
DEFINER_OWNERS = {
    "auth_find_tenant": AUTH_ROLE,
    "auth_find_user": AUTH_ROLE,
    "auth_find_session": AUTH_ROLE,
    "auth_find_access_token": AUTH_ROLE,
    "security_event_record": AUTH_ROLE,
    "audit_capture": AUDIT_ROLE,
    "audit_record_access": AUDIT_ROLE,
    "audit_ensure_partitions": OWNER_ROLE,
    # Conflict checks (0018): key maintenance on parties (the app role only reads the
    # keys) and the screened-matter lookup for users behind an ethical wall.
    "conflict_keys_after_insert": SEARCH_ROLE,
    "conflict_keys_after_update": SEARCH_ROLE,
    "conflict_screened_appearances": SEARCH_ROLE,
    # Full-text search (0017): GIN under RLS needs a BYPASSRLS owner that applies the firm,
    # the ethical walls and soft deletion itself (legal_data.search.sql).
    "search_documents_find": SEARCH_ROLE,
    "search_cases_find": SEARCH_ROLE,
    "search_communications_find": SEARCH_ROLE,
}
DEFINER_ALLOWLIST = frozenset(DEFINER_OWNERS)
#: Tables that are not business data and carry no audit trigger.
AUDIT_EXEMPT = frozenset(
    {
        "tenant_counters",
        "tenant_keys",
        "audit_logs",
        "audit_seals",
        "audit_archives",
        "security_events",
        # The search index and its queue: derived rows, rebuilt from audited business
        # tables by the library (legal_data.search.indexer), not business data themselves.
        "search_documents",
        "search_cases",
        "search_communications",
        "search_queue",
        # Conflict-check name keys: derived from parties (audited) by triggers (0018).
        "party_name_keys",
        "party_name_grams",
    }
)


@dataclass(frozen=True)
class Finding:
    rule: str
    object: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _rows(conn: Connection, sql: str, **params: object) -> list[tuple]:
    return [tuple(r) for r in conn.execute(text(sql), params).all()]


def table_rls(conn: Connection) -> list[Finding]:
    """Every tenant table: RLS enabled and forced, the restrictive policy with USING and
    WITH CHECK in the initPlan form, and the permissive base policy."""
    findings = []
    rows = _rows(
        conn,
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, c.relispartition,
               EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                       AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        ORDER BY c.relname
        """,
    )
    policies = {
        (t, p): (permissive, qual, check, cmd)
        for t, p, permissive, qual, check, cmd in _rows(
            conn,
            """
            SELECT tablename, policyname, permissive, qual, with_check, cmd
            FROM pg_policies WHERE schemaname = 'public'
            """,
        )
    }
    for name, enabled, forced, is_partition, has_tenant in rows:
        key = TENANT_KEY.get(name, "tenant_id" if has_tenant else None)
        if key is None:
            if name not in GLOBAL_TABLES:
                findings.append(
                    Finding("global-allowlist", name, "table has no tenant_id and is not global")
                )
            continue
        if not enabled:
            findings.append(Finding("rls-enabled", name, "ROW LEVEL SECURITY is not enabled"))
        if not forced:
            findings.append(Finding("rls-forced", name, "ROW LEVEL SECURITY is not FORCEd"))
        tenant_policy = policies.get((name, TENANT_POLICY))
        expected = f"({key} = ( SELECT app_current_tenant_id() AS app_current_tenant_id))"
        if tenant_policy is None:
            findings.append(Finding("tenant-policy", name, f"policy {TENANT_POLICY} is missing"))
        else:
            permissive, qual, check, cmd = tenant_policy
            if permissive != "RESTRICTIVE" or cmd != "ALL":
                findings.append(
                    Finding("tenant-policy", name, "tenant policy must be RESTRICTIVE FOR ALL")
                )
            if qual != expected or check != expected:
                findings.append(
                    Finding(
                        "tenant-policy",
                        name,
                        f"USING/WITH CHECK must both be {expected}; found {qual!r} / {check!r}",
                    )
                )
        if (name, BASE_POLICY) not in policies and not is_partition:
            findings.append(Finding("base-policy", name, f"policy {BASE_POLICY} is missing"))
    return findings


def role_attributes(conn: Connection, login: str | None = None) -> list[Finding]:
    """The app roles (and the given login) cannot bypass RLS or own anything."""
    findings = []
    names = [APP_ROLE, READONLY_ROLE] + ([login] if login else [])
    for name, superuser, bypass, owns in _rows(
        conn,
        """
        SELECT r.rolname, r.rolsuper, r.rolbypassrls,
               EXISTS (SELECT 1 FROM pg_class c WHERE pg_has_role(r.oid, c.relowner, 'MEMBER')
                       AND c.relnamespace = 'public'::regnamespace)
        FROM pg_roles r WHERE r.rolname = ANY(:names)
        """,
        names=names,
    ):
        for flag, what in ((superuser, "is a superuser"), (bypass, "has BYPASSRLS")):
            if flag:
                findings.append(Finding("role-attributes", name, what))
        if owns:
            findings.append(Finding("role-attributes", name, "owns or can act as a table owner"))
    if login:
        member = conn.execute(
            text("SELECT pg_has_role(:l, :g, 'MEMBER')"), {"l": login, "g": APP_ROLE}
        ).scalar()
        if not member:
            findings.append(Finding("role-attributes", login, f"is not a member of {APP_ROLE}"))
    return findings


def grants(conn: Connection) -> list[Finding]:
    """Privileges that must not exist."""
    findings = []
    for grantee, table, privilege in _rows(
        conn,
        """
        SELECT g.grantee, g.table_name, g.privilege_type
        FROM information_schema.role_table_grants g
        WHERE g.table_schema = 'public'
          AND g.grantee IN (:app, :ro, 'PUBLIC')
          AND (g.privilege_type IN ('TRUNCATE', 'REFERENCES', 'TRIGGER')
               OR (g.grantee = :ro AND g.privilege_type <> 'SELECT')
               OR g.grantee = 'PUBLIC')
        ORDER BY 1, 2, 3
        """,
        app=APP_ROLE,
        ro=READONLY_ROLE,
    ):
        findings.append(Finding("grants", table, f"{grantee} has {privilege}"))
    for (table,) in _rows(
        conn,
        """
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(:globals)
          AND (has_table_privilege(:app, c.oid, 'INSERT')
               OR has_table_privilege(:app, c.oid, 'UPDATE')
               OR has_table_privilege(:app, c.oid, 'DELETE'))
        """,
        globals=sorted(GLOBAL_TABLES),
        app=APP_ROLE,
    ):
        findings.append(Finding("grants", table, f"{APP_ROLE} can write a global table"))
    for (table,) in _rows(
        conn,
        """
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relispartition
          AND (has_table_privilege(:app, c.oid, 'SELECT')
               OR has_table_privilege(:app, c.oid, 'INSERT')
               OR has_table_privilege(:app, c.oid, 'UPDATE')
               OR has_table_privilege(:app, c.oid, 'DELETE'))
        """,
        app=APP_ROLE,
    ):
        findings.append(Finding("partitions", table, f"{APP_ROLE} can reach a partition directly"))
    for (role,) in _rows(
        conn,
        """
        SELECT r FROM unnest(ARRAY[:app, :ro, 'public']) AS r
        WHERE has_schema_privilege(r, 'public', 'CREATE')
        """,
        app=APP_ROLE,
        ro=READONLY_ROLE,
    ):
        findings.append(Finding("grants", "schema public", f"{role} has CREATE"))
    return findings


def functions(conn: Connection) -> list[Finding]:
    """SECURITY DEFINER functions: allow-listed, search_path pinned, not executable by PUBLIC."""
    findings = []
    for name, config, public_exec, owner in _rows(
        conn,
        """
        SELECT p.proname, p.proconfig,
               has_function_privilege('public', p.oid, 'EXECUTE'),
               pg_get_userbyid(p.proowner)
        FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
        """,
    ):
        if not any(str(c).startswith("search_path=") for c in (config or [])):
            findings.append(Finding("definer-search-path", name, "search_path is not pinned"))
        if name not in DEFINER_ALLOWLIST:
            findings.append(Finding("definer-allowlist", name, "unexpected SECURITY DEFINER"))
        if public_exec:
            findings.append(Finding("definer-execute", name, "PUBLIC may execute it"))
        expected_owner = DEFINER_OWNERS.get(name)
        if expected_owner and owner != expected_owner:
            findings.append(
                Finding("definer-owner", name, f"owned by {owner}, not {expected_owner}")
            )
    return findings


def views(conn: Connection) -> list[Finding]:
    findings = []
    for name, kind, options, app_can_read in _rows(
        conn,
        """
        SELECT c.relname, c.relkind, c.reloptions, has_table_privilege(:app, c.oid, 'SELECT')
        FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm')
        """,
        app=APP_ROLE,
    ):
        if kind == "v" and "security_invoker=true" not in (options or []):
            findings.append(Finding("view-invoker", name, "view lacks security_invoker=true"))
        if kind == "m" and app_can_read:
            findings.append(
                Finding("matview", name, f"{APP_ROLE} can read a materialized view (no RLS)")
            )
    return findings


def audit_triggers(conn: Connection) -> list[Finding]:
    """Every tenant table (and ``tenants``) has its three audit triggers, ENABLE ALWAYS."""
    findings = []
    for table, enabled in _rows(
        conn,
        """
        SELECT c.relname,
               (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgenabled = 'A'
                  AND t.tgname IN ('audit_insert', 'audit_update', 'audit_delete'))
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition
          AND (c.relname = 'tenants' OR EXISTS (
                SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                  AND a.attname = 'tenant_id' AND NOT a.attisdropped))
        ORDER BY 1
        """,
    ):
        if table not in AUDIT_EXEMPT and enabled != 3:
            findings.append(
                Finding("audit-trigger", table, f"{enabled} of 3 audit triggers enabled (ALWAYS)")
            )
    return findings


def ownership(conn: Connection) -> list[Finding]:
    return [
        Finding("ownership", name, f"owned by {owner}, not {OWNER_ROLE}")
        for name, owner in _rows(
            conn,
            """
            SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
              AND pg_get_userbyid(c.relowner) <> :owner
            """,
            owner=OWNER_ROLE,
        )
    ]


def wall_policies(conn: Connection) -> list[Finding]:
    """Every case-related table carries the ethical-wall policy (RESTRICTIVE, FOR ALL):
    each table with a foreign key to ``cases`` (except ``ethical_walls`` itself), ``cases``
    and the child tables listed in ``legal_data.rbac.walls.CHILD_TABLES``."""
    from legal_data.rbac.walls import CASE_TABLES, CHILD_TABLES, WALL_EXEMPT, WALL_POLICY

    if not _rows(conn, "SELECT 1 FROM pg_class WHERE oid = to_regclass('public.ethical_walls')"):
        return []  # before the access-control revision
    related = {
        r[0]
        for r in _rows(
            conn,
            """
            SELECT DISTINCT c.conrelid::regclass::text FROM pg_constraint c
            WHERE c.contype = 'f' AND c.confrelid = 'public.cases'::regclass
              AND c.connamespace = 'public'::regnamespace
            """,
        )
    }
    related = (related | set(CASE_TABLES) | set(CHILD_TABLES)) - WALL_EXEMPT
    policies = {
        t: (permissive, cmd, qual, check)
        for t, permissive, cmd, qual, check in _rows(
            conn,
            """
            SELECT tablename, permissive, cmd, qual, with_check FROM pg_policies
            WHERE schemaname = 'public' AND policyname = :p
            """,
            p=WALL_POLICY,
        )
    }
    findings = []
    for table in sorted(related):
        found = policies.get(table)
        if found is None:
            findings.append(Finding("wall-policy", table, f"policy {WALL_POLICY} is missing"))
        elif found[0] != "RESTRICTIVE" or found[1] != "ALL" or not found[2] or not found[3]:
            findings.append(
                Finding(
                    "wall-policy",
                    table,
                    "wall policy must be RESTRICTIVE FOR ALL, with USING and WITH CHECK",
                )
            )
    return findings


def check_posture(conn: Connection, *, login: str | None = None) -> list[Finding]:
    """Every rule, in a stable order."""
    return [
        *table_rls(conn),
        *role_attributes(conn, login),
        *grants(conn),
        *functions(conn),
        *views(conn),
        *audit_triggers(conn),
        *ownership(conn),
        *wall_policies(conn),
    ]
