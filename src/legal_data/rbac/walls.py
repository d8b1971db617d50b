"""Ethical walls (情報遮断措置): the database policy, generated from one place, and the API.

A wall screens a user and/or every holder of a role from one case. The database enforces
it with an extra RESTRICTIVE policy ``ethical_wall`` (for all commands, USING and WITH
CHECK) on ``cases`` and every table that hangs off a case, so a screened user sees none of
those rows through the ORM, Core or ``text()`` SQL, and cannot write them either:

- tables with a ``case_id`` (:data:`CASE_TABLES`):
  ``case_id IS NULL OR case_id <> ALL ((SELECT app_walled_case_ids()))``;
- children without one (:data:`CHILD_TABLES`, e.g. ``document_versions`` → ``documents``):
  visible only while the parent row is visible (``app_visible_<parent>(tenant, id)``, an
  invoker's-rights lookup) — the parent's own policies (including its wall) decide, so
  there is one source of truth; the check is skipped outright when the current user has
  no wall (``cardinality(...) = 0``, evaluated once per statement).

``app_walled_case_ids()`` reads the active walls of the transaction's user
(``app.current_user_id``) and of that user's roles once per statement (an initPlan), so
the row filter is an array comparison of leakproof uuid operators and the case list keeps
its index. Walls are plain rows, so a change takes effect in the next statement (and so
in the next transaction) and is captured by the audit trail like any business row.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legal_data.models.access import EthicalWall

WALL_POLICY = "ethical_wall"
WALL_FUNCTION = "app_walled_case_ids"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: Tables with a column naming the case: table -> column. ``cases`` is the case itself.
CASE_TABLES: dict[str, str] = {
    "cases": "id",
    "case_statuses": "case_id",
    "case_assignments": "case_id",
    "case_parties": "case_id",
    "court_cases": "case_id",
    "documents": "case_id",
    "tasks": "case_id",
    "communications": "case_id",
    "time_entries": "case_id",
    "expenses": "case_id",
    "invoices": "case_id",
    "trust_ledger": "case_id",
    "consultations": "case_id",
    "conflict_checks": "case_id",
}
#: Tables that hang off a case through a parent: table -> (parent table, foreign key column).
CHILD_TABLES: dict[str, tuple[str, str]] = {
    "document_versions": ("documents", "document_id"),
    "communication_participants": ("communications", "communication_id"),
    "communication_emails": ("communications", "communication_id"),
    "invoice_lines": ("invoices", "invoice_id"),
    "invoice_tax_summaries": ("invoices", "invoice_id"),
    "payments": ("invoices", "invoice_id"),
    "consultation_parties": ("consultations", "consultation_id"),
}
#: References a case but must stay readable: a screened user evaluates its own walls.
WALL_EXEMPT = frozenset({"ethical_walls"})

# PL/pgSQL, not a SQL function: its plan is cached per connection (a SQL function is
# planned on every call). Every name is schema-qualified, so nothing on the caller's
# search_path (a temporary table called ethical_walls, say) can stand in for the real
# objects; no SET clause, which would make every call save and restore a setting.
WALL_FUNCTION_SQL = f"""
CREATE FUNCTION {WALL_FUNCTION}() RETURNS uuid[]
    LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    t uuid := public.app_current_tenant_id();
    u uuid := public.app_current_user_id();
    walled uuid[];
BEGIN
    IF t IS NULL OR u IS NULL THEN
        RETURN '{{}}'::uuid[];  -- no user (system jobs): no wall applies
    END IF;
    SELECT coalesce(array_agg(DISTINCT w.case_id), '{{}}'::uuid[]) INTO walled
    FROM public.ethical_walls w
    WHERE w.tenant_id = t AND w.ended_at IS NULL
      AND (w.user_id = u OR w.role_id IN (
            SELECT ur.role_id FROM public.user_roles ur
            WHERE ur.tenant_id = t AND ur.user_id = u));
    RETURN walled;
END
$$;
REVOKE ALL ON FUNCTION {WALL_FUNCTION}() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {WALL_FUNCTION}() TO legal_app, legal_readonly;
""" + "".join(
    f"""
CREATE FUNCTION app_visible_{parent}(p_tenant uuid, p_id uuid) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT EXISTS (SELECT 1 FROM {parent} p WHERE p.tenant_id = p_tenant AND p.id = p_id);
END;
REVOKE ALL ON FUNCTION app_visible_{parent}(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_visible_{parent}(uuid, uuid) TO legal_app, legal_readonly;
"""
    for parent in sorted({p for p, _c in CHILD_TABLES.values()})
)
DROP_WALL_FUNCTION_SQL = f"DROP FUNCTION IF EXISTS {WALL_FUNCTION}();" + "".join(
    f"DROP FUNCTION IF EXISTS app_visible_{parent}(uuid, uuid);"
    for parent in sorted({p for p, _c in CHILD_TABLES.values()})
)


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def wall_condition_sql(table: str, case_column: str) -> str:
    t, c = _ident(table), _ident(case_column)
    # CAST: an expression, so ``<> ALL`` reads the array (not a one-row subquery).
    walled = f"CAST((SELECT {WALL_FUNCTION}()) AS uuid[])"
    if c == "id":
        return f"({t}.id <> ALL ({walled}))"
    return f"({t}.{c} IS NULL OR {t}.{c} <> ALL ({walled}))"


def child_wall_condition_sql(table: str, parent: str, fk_column: str) -> str:
    t, p, c = _ident(table), _ident(parent), _ident(fk_column)
    # Through a function, not an inline subquery: the policy expression then names no
    # other table, so reading pg_policies never locks the parents (catalog checks).
    return (
        f"(cardinality((SELECT {WALL_FUNCTION}())) = 0 OR app_visible_{p}({t}.tenant_id, {t}.{c}))"
    )


def _policy(table: str, condition: str) -> str:
    return (
        f"CREATE POLICY {WALL_POLICY} ON {table} AS RESTRICTIVE FOR ALL\n"
        f"    USING {condition}\n    WITH CHECK {condition};\n"
    )


def wall_policy_sql(table: str, case_column: str = "case_id") -> str:
    """The wall policy of a table whose ``case_column`` names the case."""
    return _policy(_ident(table), wall_condition_sql(table, case_column))


def child_wall_policy_sql(table: str, parent: str, fk_column: str) -> str:
    """The wall policy of a table that hangs off a case through ``parent``."""
    return _policy(_ident(table), child_wall_condition_sql(table, parent, fk_column))


def drop_wall_policy_sql(table: str) -> str:
    return f"DROP POLICY IF EXISTS {WALL_POLICY} ON {_ident(table)};"


def all_wall_policies_sql() -> str:
    return "".join(
        [wall_policy_sql(t, c) for t, c in CASE_TABLES.items()]
        + [child_wall_policy_sql(t, p, c) for t, (p, c) in CHILD_TABLES.items()]
    )


# -- API ------------------------------------------------------------------------------


def add_wall(
    session: Session,
    actor: object,
    case_id: uuid.UUID,
    *,
    reason: str,
    user_id: uuid.UUID | None = None,
    role_id: uuid.UUID | None = None,
) -> EthicalWall:
    """Screen ``user_id`` (or every holder of ``role_id``) from ``case_id``.

    ``actor`` (a principal or user id) must hold ``wall:manage`` or ``firm:admin``.
    Effective from the next statement; audited by the database."""
    from legal_data.rbac.admin import require_wall_manager

    require_wall_manager(session, actor)
    from legal_data.rbac.admin import _tenant

    wall = EthicalWall(
        tenant_id=_tenant(), case_id=case_id, user_id=user_id, role_id=role_id, reason=reason
    )
    session.add(wall)
    session.flush()
    return wall


def end_wall(session: Session, actor: object, wall_id: uuid.UUID) -> int:
    """Lift a wall (sets ``ended_at``; the row and its audit history stay)."""
    from legal_data.rbac.admin import require_wall_manager

    require_wall_manager(session, actor)
    result = session.execute(
        update(EthicalWall)
        .where(EthicalWall.id == wall_id, EthicalWall.ended_at.is_(None))
        .values(ended_at=_now_sql())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def active_walls(session: Session, case_id: uuid.UUID | None = None) -> list[EthicalWall]:
    stmt = select(EthicalWall).where(EthicalWall.ended_at.is_(None))
    if case_id is not None:
        stmt = stmt.where(EthicalWall.case_id == case_id)
    return list(session.scalars(stmt))


def _now_sql():
    from sqlalchemy import func

    return func.now()
