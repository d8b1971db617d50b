"""EXPLAIN as the app role: under Row Level Security the hot case queries still find the
firm's rows through an index whose ``Index Cond`` holds ``tenant_id`` (and ``status``),
never through a ``Filter``.

The queries carry no tenant filter of their own: the ``tenant_id`` condition comes from
the policy (``tenant_id = (SELECT app_current_tenant_id())``). Several thousand cases over
several firms are bulk-loaded through the admin engine and ANALYZEd first, so the planner
has real statistics to choose from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from isolation_support import tenant_tx
from sqlalchemy import func, select, text

from legal_data.models import Case
from legal_data.testing.plugin import make_tenant

FIRMS = 10
CASES_PER_FIRM = 500

LOAD = """
-- bulk load: skip triggers (display numbers are given)
SET LOCAL session_replication_role = replica;
INSERT INTO parties (tenant_id, id, kind, name)
    SELECT t, gen_random_uuid(), 'company', 'EXPLAIN用当事者' FROM unnest(CAST(:firms AS uuid[])) t;
INSERT INTO clients (tenant_id, id, party_id, client_code, status)
    SELECT p.tenant_id, gen_random_uuid(), p.id, 'C-EXPLAIN', 'active'
    FROM parties p WHERE p.tenant_id = ANY(CAST(:firms AS uuid[]));
INSERT INTO cases (tenant_id, id, display_number, title, practice_area, status, client_id,
                   opened_on, closed_on, deleted_at)
    SELECT c.tenant_id, gen_random_uuid(), g, '事件' || g, 'civil',
           (ARRAY['intake', 'open', 'pending', 'closed', 'archived'])[1 + g % 5],
           c.id, DATE '2020-01-01' + g % 2000,
           CASE WHEN g % 5 IN (3, 4) THEN DATE '2020-01-01' + g % 2000 + 30 END,
           CASE WHEN g % 50 = 0 THEN now() END
    FROM clients c CROSS JOIN generate_series(1, :per_firm) g
    WHERE c.tenant_id = ANY(CAST(:firms AS uuid[]))
"""


@pytest.fixture
def loaded(legal_db) -> Iterator[list[Any]]:
    firms = [
        make_tenant(legal_db, f"explain-{i:02d}", f"EXPLAIN事務所{i}").id for i in range(FIRMS)
    ]
    with legal_db.admin_engine.begin() as conn:
        # A bulk load by the operator is the system actor's (the audit trail records it).
        conn.execute(text("SET LOCAL app.current_user_role = 'system'"))
        for statement in LOAD.split(";\n"):
            conn.execute(text(statement), {"firms": firms, "per_firm": CASES_PER_FIRM})
    with legal_db.admin_engine.begin() as conn:
        conn.execute(text("ANALYZE cases, clients, parties, tenants"))
    yield firms


def _plan(session: Any, stmt: Any) -> dict[str, Any]:
    compiled = stmt.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
    )
    return session.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar()[0]["Plan"]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _case_scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Scan nodes that read ``cases``, each with the Index Cond it (or its bitmap) uses."""
    scans = []
    for node in _nodes(plan):
        if node.get("Relation Name") != "cases":
            continue
        used = [node]
        if node["Node Type"] == "Bitmap Heap Scan":
            used = [n for n in _nodes(node) if n["Node Type"] == "Bitmap Index Scan"]
        scans.append(
            {
                **node,
                "_index_conds": " AND ".join(n["Index Cond"] for n in used if "Index Cond" in n),
                "_indexes": {n["Index Name"] for n in used if "Index Name" in n},
            }
        )
    return scans


def _assert_index_cond_on_tenant(plan: dict[str, Any], *, also: str | None = None) -> None:
    scans = _case_scans(plan)
    assert scans, plan
    for scan in scans:
        kind = scan["Node Type"]
        assert kind in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), (kind, plan)
        assert "tenant_id" in scan["_index_conds"], scan
        assert "tenant_id" not in scan.get("Filter", ""), scan
        if also:
            assert also in scan["_index_conds"], scan
            assert also not in scan.get("Filter", ""), scan


CASE_LIST = (
    select(Case)
    .where(Case.status == "open", Case.deleted_at.is_(None))
    .order_by(Case.opened_on.desc())
    .limit(50)
)


def test_case_list_uses_index_cond_on_tenant_under_rls(legal_db, loaded):
    firm = loaded[3]
    with tenant_tx(legal_db.app_sessions, firm) as s:
        assert s.execute(text("SELECT current_user")).scalar() == legal_db.app_url.username
        plan = _plan(s, CASE_LIST)
        _assert_index_cond_on_tenant(plan, also="status")
        (scan,) = _case_scans(plan)
        assert scan["_indexes"] == {"ix_cases_tenant_id_status_opened_on"}
        # The condition is the policy's (the query has no tenant filter), read once.
        assert any(n.get("Subplan Name", "").startswith("InitPlan") for n in _nodes(plan))
        rows = s.scalars(CASE_LIST).all()
        assert len(rows) == 50
        assert {c.tenant_id for c in rows} == {firm}
        assert [c.opened_on for c in rows] == sorted((c.opened_on for c in rows), reverse=True)


@pytest.mark.parametrize(
    "stmt",
    [
        pytest.param(
            select(Case)
            .where(Case.status.in_(["open", "pending"]), Case.deleted_at.is_(None))
            .order_by(Case.opened_on.desc())
            .limit(50),
            id="status-in-list",
        ),
        pytest.param(
            select(func.count())
            .select_from(Case)
            .where(Case.status == "closed", Case.deleted_at.is_(None)),
            id="count-by-status",
        ),
        pytest.param(
            select(Case.status, func.count())
            .where(Case.deleted_at.is_(None), Case.status != "archived")
            .group_by(Case.status),
            id="status-breakdown",
        ),
    ],
)
def test_status_filters_use_index_cond_on_tenant_under_rls(legal_db, loaded, stmt):
    with tenant_tx(legal_db.app_sessions, loaded[0]) as s:
        _assert_index_cond_on_tenant(_plan(s, stmt))


def test_each_firm_counts_only_its_cases(legal_db, loaded):
    stmt = select(func.count()).select_from(Case).where(Case.status == "closed")
    for firm in loaded[:3]:
        with tenant_tx(legal_db.app_sessions, firm) as s:
            assert s.execute(stmt).scalar() == CASES_PER_FIRM // 5
