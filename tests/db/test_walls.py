"""Ethical walls (情報遮断措置) enforced by the database.

A screened user sees no row tied to a walled case in any case-related table — through the
ORM, Core and ``text()`` SQL — and cannot write one; colleagues are unaffected; lifting
the wall restores access in the next transaction; the posture check names a case-related
table that lacks the policy; the walled case list stays on its index.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from isolation_support import build_canary, tenant_tx
from sqlalchemy import func, select, text

from legal_data.errors import LegalDataError
from legal_data.models import Base, Case, Document, User
from legal_data.rbac import admin, walls
from legal_data.rbac.walls import CASE_TABLES, CHILD_TABLES, WALL_POLICY
from legal_data.tenancy.posture import wall_policies
from legal_data.testing.factories import CaseFactory, DocumentFactory, UserFactory

RELATED = [*CASE_TABLES, *CHILD_TABLES]


def _case_of_sql(table: str) -> str:
    """SQL (as the admin) for ``(id, case id)`` of every row of ``table``."""
    if table in CASE_TABLES:
        return f"SELECT id, {CASE_TABLES[table]} FROM {table}"
    parent, fk = CHILD_TABLES[table]
    return (
        f"SELECT t.id, p.{CASE_TABLES[parent]} FROM {table} t"
        f" JOIN {parent} p ON p.tenant_id = t.tenant_id AND p.id = t.{fk}"
    )


@pytest.fixture
def walled_firm(legal_db, tenant_a) -> dict[str, Any]:
    """One canary row of every case-related table, two users, and the walled case ids."""
    for table in RELATED:
        build_canary(legal_db.app_sessions, Base.metadata.tables[table], tenant_a.id)
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        walled, colleague = UserFactory(), UserFactory()
        open_case = CaseFactory(title="遮断されない案件")
        ids = {"walled": walled.id, "colleague": colleague.id, "open_case": open_case.id}
    with legal_db.admin_engine.connect() as c:
        tied = {
            t: {
                r[0]
                for r in c.execute(text(_case_of_sql(t)))
                if r[1] not in (None, ids["open_case"])
            }
            for t in RELATED
        }
        cases = [
            r[0]
            for r in c.execute(
                text("SELECT id FROM cases WHERE tenant_id = :t AND id <> :o"),
                {"t": tenant_a.id, "o": ids["open_case"]},
            )
        ]
    # Walls are set by the system actor here (the admin API is tested separately).
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True, role="system") as s:
        wall_ids = [
            walls.add_wall(s, None, case_id, user_id=ids["walled"], reason="相手方から移籍").id
            for case_id in cases
        ]
    return {"firm": tenant_a.id, "tied": tied, "cases": cases, "walls": wall_ids, **ids}


def _visible(s, table: str, how: str) -> set[uuid.UUID]:
    t = Base.metadata.tables[table]
    if how == "text":
        return {r[0] for r in s.execute(text(f"SELECT id FROM {table}"))}
    if how == "core":
        return set(s.execute(select(t.c.id)).scalars())
    model = next(m.class_ for m in Base.registry.mappers if m.local_table is t)
    return {o.id for o in s.scalars(select(model))}


@pytest.mark.parametrize("how", ["orm", "core", "text"])
def test_screened_user_sees_no_row_of_a_walled_case(legal_db, walled_firm, how):
    f = walled_firm
    with tenant_tx(legal_db.app_sessions, f["firm"], user_id=f["walled"]) as s:
        for table in RELATED:
            assert f["tied"][table], f"canary of {table} is tied to no case"
            assert _visible(s, table, how) & f["tied"][table] == set(), table
        assert _visible(s, "cases", how) == {f["open_case"]}
    with tenant_tx(legal_db.app_sessions, f["firm"], user_id=f["colleague"]) as s:
        for table in RELATED:
            assert f["tied"][table] <= _visible(s, table, how), table


def test_screened_user_cannot_write_into_a_walled_case(legal_db, walled_firm):
    f = walled_firm
    case_id = f["cases"][0]
    with tenant_tx(legal_db.app_sessions, f["firm"], user_id=f["walled"]) as s:
        assert (
            s.execute(text("UPDATE cases SET title = 'x' WHERE id = :i"), {"i": case_id}).rowcount
            == 0
        )
        with pytest.raises(LegalDataError):
            DocumentFactory(case_id=case_id)
            s.flush()


def test_lifting_the_wall_restores_access_in_the_next_transaction(legal_db, walled_firm):
    f = walled_firm
    with tenant_tx(legal_db.app_sessions, f["firm"], commit=True, role="system") as s:
        for wall_id in f["walls"]:
            assert walls.end_wall(s, None, wall_id) == 1
    with tenant_tx(legal_db.app_sessions, f["firm"], user_id=f["walled"]) as s:
        for table in RELATED:
            assert f["tied"][table] <= _visible(s, table, "text"), table
    with legal_db.admin_engine.connect() as c:
        audited = c.execute(
            text(
                "SELECT count(*) FROM audit_logs WHERE table_name = 'ethical_walls'"
                " AND action IN ('INSERT', 'UPDATE')"
            )
        ).scalar()
    assert audited >= 2  # the walls were audited when set and when lifted


def test_a_wall_on_a_role_screens_its_holders_only(legal_db, tenant_a):
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True, role="system") as s:
        screened, other = UserFactory(), UserFactory()
        role = admin.create_role(s, None, "移籍者")
        admin.assign(s, None, screened.id, role.id)
        case = CaseFactory()
        walls.add_wall(s, None, case.id, role_id=role.id, reason="移籍者チームを遮断")
        ids = (screened.id, other.id, case.id)
    with tenant_tx(legal_db.app_sessions, tenant_a.id, user_id=ids[0]) as s:
        assert s.get(Case, (tenant_a.id, ids[2])) is None
    with tenant_tx(legal_db.app_sessions, tenant_a.id, user_id=ids[1]) as s:
        assert s.get(Case, (tenant_a.id, ids[2])) is not None


def test_walls_need_the_wall_manager_permission(legal_db, tenant_a):
    from legal_data.errors import PermissionDenied

    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        nobody, case = UserFactory(), CaseFactory()
        with pytest.raises(PermissionDenied):
            walls.add_wall(s, nobody.id, case.id, user_id=nobody.id, reason="x")


def test_posture_names_a_case_related_table_without_the_wall_policy(legal_data_harness):
    with legal_data_harness.admin_engine.connect() as c, c.begin() as tx:
        assert wall_policies(c) == []
        c.execute(text(f"DROP POLICY {WALL_POLICY} ON time_entries"))
        c.execute(text(f"DROP POLICY {WALL_POLICY} ON document_versions"))
        c.execute(
            text(
                "CREATE TABLE stray_notes (tenant_id uuid, case_id uuid,"
                " FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id))"
            )
        )
        found = {(f.rule, f.object) for f in wall_policies(c)}
        tx.rollback()
    assert found == {
        ("wall-policy", "time_entries"),
        ("wall-policy", "document_versions"),
        ("wall-policy", "stray_notes"),
    }


def test_users_and_documents_outside_walls_are_untouched(legal_db, walled_firm):
    f = walled_firm
    with tenant_tx(legal_db.app_sessions, f["firm"], user_id=f["walled"]) as s:
        assert s.scalar(select(func.count()).select_from(User)) >= 2
        assert s.scalar(select(func.count()).select_from(Document)) == 0


def test_demo_shows_a_walled_lawyer_missing_one_case(legal_db, tenant_a):
    from legal_data.demo.walls import demo_walls

    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        walled, colleague = UserFactory(), UserFactory()
        case, _other = CaseFactory(title="株式会社A 損害賠償請求事件"), CaseFactory()
        DocumentFactory(case_id=case.id)
        ids = walled.id, colleague.id, case.id
    lines = demo_walls(
        legal_db.app_sessions, legal_db.admin_sessions, tenant_a.id, ids[2], ids[0], ids[1]
    )
    text_out = "\n".join(lines)
    assert "walled lawyer: 1 cases visible; the walled case via ORM: hidden, via raw SQL: 0" in (
        text_out
    )
    assert "colleague    : 2 cases visible; the walled case via ORM: visible, via raw SQL: 1" in (
        text_out
    )
    assert "now sees 2 cases" in text_out
