"""The Row Level Security SQL for tenant tables, generated from one place.

Every tenant-scoped table gets exactly the same treatment (see ``tenant_isolation_sql``):

- ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` (FORCE so the owner is filtered too);
- a RESTRICTIVE policy for all commands with ``USING`` and ``WITH CHECK`` that compares
  ``tenant_id`` with the transaction's tenant, read once per statement through an
  initPlan (``(SELECT app_current_tenant_id())``); an unset or empty setting is NULL,
  so nothing matches and every write is refused (fail closed);
- a PERMISSIVE base policy that grants the rest. Feature policies added later (ethical
  walls) are RESTRICTIVE too, so they can only narrow access, never widen it;
- privileges for ``legal_app`` (SELECT/INSERT/UPDATE/DELETE, never TRUNCATE, REFERENCES
  or TRIGGER) and ``legal_readonly`` (SELECT).

Migrations call these functions; the catalog tests check the result in ``pg_class``
and ``pg_policy`` for every table that has a ``tenant_id`` column.
"""

from __future__ import annotations

import re

APP_ROLE = "legal_app"
READONLY_ROLE = "legal_readonly"
OWNER_ROLE = "legal_owner"
AUTH_ROLE = "legal_auth"
AUDIT_ROLE = "legal_audit"

TENANT_POLICY = "tenant_isolation"
BASE_POLICY = "tenant_access"

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

CURRENT_TENANT_FUNCTIONS_SQL = """
CREATE FUNCTION app_current_tenant_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    -- '' (what a reused connection shows after a transaction-local SET ends) means no tenant.
    RETURN NULLIF(current_setting('app.current_tenant_id', true), '')::uuid;

CREATE FUNCTION app_current_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN NULLIF(current_setting('app.current_user_id', true), '')::uuid;
"""

DROP_CURRENT_TENANT_FUNCTIONS_SQL = """
DROP FUNCTION IF EXISTS app_current_user_id();
DROP FUNCTION IF EXISTS app_current_tenant_id();
"""


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


APP_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


def tenant_isolation_sql(
    table: str, *, column: str = "tenant_id", app_privileges: str = APP_PRIVILEGES
) -> str:
    """RLS, policies and grants that isolate ``table`` by ``column``."""
    t, c = _ident(table), _ident(column)
    return f"""
ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {t} FORCE ROW LEVEL SECURITY;
CREATE POLICY {TENANT_POLICY} ON {t} AS RESTRICTIVE FOR ALL
    USING ({c} = (SELECT app_current_tenant_id()))
    WITH CHECK ({c} = (SELECT app_current_tenant_id()));
CREATE POLICY {BASE_POLICY} ON {t} AS PERMISSIVE FOR ALL
    USING (true)
    WITH CHECK (true);
REVOKE ALL ON {t} FROM PUBLIC;
GRANT {app_privileges} ON {t} TO {APP_ROLE};
GRANT SELECT ON {t} TO {READONLY_ROLE};
"""


def drop_tenant_isolation_sql(table: str) -> str:
    t = _ident(table)
    return f"""
REVOKE ALL ON {t} FROM {APP_ROLE}, {READONLY_ROLE};
DROP POLICY IF EXISTS {BASE_POLICY} ON {t};
DROP POLICY IF EXISTS {TENANT_POLICY} ON {t};
ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY;
ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;
"""


def global_table_grants_sql(table: str) -> str:
    """Reference tables: readable by everyone in the firm, writable by migrations only."""
    t = _ident(table)
    return f"""
REVOKE ALL ON {t} FROM PUBLIC;
GRANT SELECT ON {t} TO {APP_ROLE}, {READONLY_ROLE};
"""


def drop_global_table_grants_sql(table: str) -> str:
    t = _ident(table)
    return f"REVOKE ALL ON {t} FROM {APP_ROLE}, {READONLY_ROLE};"
