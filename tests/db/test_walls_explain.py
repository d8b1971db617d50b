"""EXPLAIN as the app role, for a user behind an ethical wall and with the RBAC filter:
the case list still reads ``cases`` through ``ix_cases_tenant_id_status_opened_on`` with
``tenant_id`` and ``status`` in the Index Cond; the wall is one initPlan per statement and
the ``assigned`` scope an index probe of ``case_assignments``."""

from __future__ import annotations

from isolation_support import tenant_tx
from sqlalchemy import select, text
from test_explain import (
    CASE_LIST,
    _assert_index_cond_on_tenant,
    _case_scans,
    _nodes,
    _plan,
    loaded,  # noqa: F401 - the fixture
)

from legal_data.rbac import admin, walls
from legal_data.rbac.authorize import authorized
from legal_data.rbac.resolve import resolve
from legal_data.testing.factories import CaseAssignmentFactory, UserFactory


def test_walled_and_authorized_case_list_stays_on_the_index(legal_db, loaded):  # noqa: F811
    firm = loaded[2]
    with tenant_tx(legal_db.app_sessions, firm, role="system", commit=True) as s:
        partner, associate = UserFactory(), UserFactory()
        admin.assign(s, None, partner.id, admin.role_by_name(s, "パートナー弁護士").id)
        admin.assign(s, None, associate.id, admin.role_by_name(s, "アソシエイト弁護士").id)
        case_ids = s.execute(
            text("SELECT id FROM cases ORDER BY display_number LIMIT 40")
        ).scalars()
        case_ids = list(case_ids)
        for case_id in case_ids[:20]:
            CaseAssignmentFactory(case_id=case_id, user_id=associate.id, role="assistant")
        for case_id in case_ids[20:25]:
            for user in (partner, associate):
                walls.add_wall(s, None, case_id, user_id=user.id, reason="EXPLAIN")
        users = partner.id, associate.id
    with legal_db.admin_engine.begin() as conn:
        conn.execute(text("ANALYZE ethical_walls, user_roles, case_assignments, roles"))
    for user_id in users:
        with tenant_tx(legal_db.app_sessions, firm, user_id=user_id) as s:
            principal = resolve(s, user_id)
            stmt = authorized(CASE_LIST, principal, "case:read")
            plan = _plan(s, stmt)
            if user_id == users[0]:  # firm scope: the list index, status in the Index Cond
                _assert_index_cond_on_tenant(plan, also="status")
                (scan,) = _case_scans(plan)
                assert scan["_indexes"] == {"ix_cases_tenant_id_status_opened_on"}
            else:  # assigned scope: may drive from the assignments, still index-only access
                _assert_index_cond_on_tenant(plan)
            assert any(n.get("Subplan Name", "").startswith("InitPlan") for n in _nodes(plan))
            visible = set(s.scalars(select(CASE_LIST.subquery().c.id)))
            assert not visible & set(case_ids[20:25])
