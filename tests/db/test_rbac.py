"""Roles, permissions, scopes, conditions, denials and expiry: ``authorize`` for single
records and ``authorized(...)`` for list queries, on the same data, must agree."""

from __future__ import annotations

import datetime as dt

import pytest
from isolation_support import tenant_tx
from sqlalchemy import select, text

from legal_data.errors import CheckViolation, PermissionDenied
from legal_data.models import Case, Role, RolePermission
from legal_data.rbac import admin
from legal_data.rbac.authorize import authorize, authorized, require
from legal_data.rbac.conditions import InvalidCondition, validate
from legal_data.rbac.permissions import DEFAULT_ROLES
from legal_data.rbac.resolve import RESOLVE_SQL, resolve
from legal_data.testing.factories import CaseAssignmentFactory, CaseFactory, UserFactory


def _both(s, principal, action: str) -> set:
    """Ids allowed by the list filter, after checking authorize() agrees on every case."""
    listed = {c.id for c in s.scalars(authorized(select(Case), principal, action))}
    single = {c.id for c in s.scalars(select(Case)) if authorize(principal, action, c)}
    assert listed == single
    return listed


def test_new_firms_get_the_default_roles(legal_db, tenant_a):
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        roles = {r.name: r for r in s.scalars(select(Role))}
        assert set(roles) == set(DEFAULT_ROLES)
        assert roles["アソシエイト弁護士"].parent_role_id == roles["パラリーガル"].id
        perms = s.scalars(
            select(RolePermission.permission).where(RolePermission.role_id == roles["管理者"].id)
        ).all()
        assert "firm:admin" in perms


def test_inheritance_scopes_and_the_default_hierarchy(legal_db, tenant_a):
    with tenant_tx(legal_db.app_sessions, tenant_a.id, role="system") as s:
        partner, associate, clerk = UserFactory(), UserFactory(), UserFactory()
        for user, role in (
            (partner, "パートナー弁護士"),
            (associate, "アソシエイト弁護士"),
            (clerk, "事務員"),
        ):
            admin.assign(s, None, user.id, admin.role_by_name(s, role).id)
        mine, other = CaseFactory(), CaseFactory()
        CaseAssignmentFactory(case_id=mine.id, user_id=associate.id, role="responsible")
        CaseAssignmentFactory(case_id=mine.id, user_id=clerk.id, role="assistant")
        s.flush()
        p_partner, p_assoc, p_clerk = (resolve(s, u.id) for u in (partner, associate, clerk))
        everything = {mine.id, other.id}
        assert _both(s, p_partner, "case:read") == everything  # firm scope, inherited chain
        assert _both(s, p_assoc, "case:read") == {mine.id}  # assigned, inherited from 事務員
        assert _both(s, p_clerk, "case:read") == {mine.id}
        assert _both(s, p_assoc, "case:update") == {mine.id}
        assert _both(s, p_clerk, "case:update") == set()
        # associate inherits document:read from パラリーガル, partner from everyone below
        assert {"document:read", "task:read"} <= p_assoc.permissions()
        assert "invoice:issue" in p_partner.permissions()
        assert not authorize(p_assoc, "firm:admin")


def test_own_scope_and_conditions(legal_db, tenant_a):
    with tenant_tx(legal_db.app_sessions, tenant_a.id, role="system", commit=True) as s:
        user = UserFactory()
        role = admin.create_role(s, None, "閲覧限定")
        admin.assign(s, None, user.id, role.id)
        admin.grant(
            s,
            None,
            role.id,
            "case:read",
            condition={"field": "status", "op": "in", "value": ["open", "pending"]},
        )
        admin.grant(s, None, role.id, "case:update", scope="own")
        open_case, closed = CaseFactory(status="open"), CaseFactory(status="intake")
        s.flush()
        user_id, open_id, closed_id = user.id, open_case.id, closed.id
    with tenant_tx(legal_db.app_sessions, tenant_a.id, user_id=user_id) as s:
        own = CaseFactory(status="intake")
        s.flush()
        p = resolve(s, user_id)
        assert _both(s, p, "case:read") == {open_id}
        assert _both(s, p, "case:update") == {own.id}
        assert closed_id not in _both(s, p, "case:read")


def test_denials_beat_grants_and_expired_entries_do_nothing(legal_db, tenant_a):
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with tenant_tx(legal_db.app_sessions, tenant_a.id, role="system") as s:
        user = UserFactory()
        admin.assign(s, None, user.id, admin.role_by_name(s, "パートナー弁護士").id)
        a, b = CaseFactory(status="open"), CaseFactory(status="pending")
        admin.deny(
            s,
            None,
            user.id,
            "case:read",
            condition={"field": "status", "op": "eq", "value": "pending"},
            expires_at=future,
            reason="利益相反の疑い",
        )
        admin.deny(s, None, user.id, "case:read", expires_at=past, reason="期限切れ")
        admin.grant_user(s, None, user.id, "audit:read", expires_at=past)
        s.flush()
        p = resolve(s, user.id)
        assert _both(s, p, "case:read") == {a.id}
        assert not authorize(p, "audit:read")
        admin.deny(s, None, user.id, "case:read")
        assert _both(s, resolve(s, user.id), "case:read") == set()
        assert b.id


def test_resolution_is_one_query_and_cached_per_transaction(legal_db, tenant_a):
    with tenant_tx(legal_db.app_sessions, tenant_a.id, role="system") as s:
        user = UserFactory()
        admin.assign(s, None, user.id, admin.role_by_name(s, "経理").id)
        s.flush()
        statements: list[str] = []
        from sqlalchemy import event

        def count(conn, cursor, statement, *a):
            statements.append(statement)

        event.listen(s.get_bind(), "before_cursor_execute", count)
        try:
            first = resolve(s, user.id)
            assert resolve(s, user.id) is first
        finally:
            event.remove(s.get_bind(), "before_cursor_execute", count)
        assert len(statements) == 1 and "WITH RECURSIVE" in statements[0]
        assert authorize(first, "invoice:issue")
        assert str(RESOLVE_SQL).count("WITH RECURSIVE") == 1


def test_role_cycles_are_refused_by_the_database(legal_db, tenant_a):
    with tenant_tx(legal_db.app_sessions, tenant_a.id, role="system") as s:
        a = admin.create_role(s, None, "A")
        b = admin.create_role(s, None, "B", parent_role_id=a.id)
        c = admin.create_role(s, None, "C", parent_role_id=b.id)
        with pytest.raises(CheckViolation) as err, s.begin_nested():
            s.execute(
                text("UPDATE roles SET parent_role_id = :c WHERE id = :a"), {"c": c.id, "a": a.id}
            )
        assert err.value.rule is None or "cycle" in str(err.value) or "no_cycle" in str(err.value)
        with pytest.raises(CheckViolation), s.begin_nested():
            s.execute(text("UPDATE roles SET parent_role_id = id WHERE id = :a"), {"a": a.id})


def test_admin_api_is_guarded_and_audited(legal_db, tenant_a):
    with tenant_tx(legal_db.app_sessions, tenant_a.id, role="system", commit=True) as s:
        boss, clerk = UserFactory(), UserFactory()
        admin.assign(s, None, boss.id, admin.role_by_name(s, "管理者").id)
        ids = boss.id, clerk.id
    with tenant_tx(legal_db.app_sessions, tenant_a.id, user_id=ids[1]) as s:
        with pytest.raises(PermissionDenied):
            admin.create_role(s, ids[1], "勝手なロール")
        with pytest.raises(PermissionDenied):
            admin.grant_user(s, ids[1], ids[1], "firm:admin")
        with pytest.raises(PermissionDenied):
            require(resolve(s, ids[1]), "firm:admin")
    with tenant_tx(legal_db.app_sessions, tenant_a.id, user_id=ids[0], commit=True) as s:
        role = admin.create_role(s, ids[0], "期日管理")
        admin.grant(s, ids[0], role.id, "task:update", scope="assigned")
        admin.assign(s, ids[0], ids[1], role.id)
        assert admin.revoke(s, ids[0], role.id, "task:update") == 1
    with legal_db.admin_engine.connect() as c:
        rows = c.execute(
            text("SELECT table_name, action FROM audit_logs WHERE actor_id = :a"), {"a": ids[0]}
        ).all()
    assert {
        ("roles", "INSERT"),
        ("role_permissions", "INSERT"),
        ("user_roles", "INSERT"),
        ("role_permissions", "DELETE"),
    } <= set(map(tuple, rows))


@pytest.mark.parametrize(
    "rule",
    [
        {"field": "status", "op": "regex", "value": "x"},
        {"field": "status", "op": "lt", "value": "open"},
        {"field": "title; DROP TABLE cases", "op": "eq", "value": "x"},
        {"field": "nope", "op": "eq", "value": "x"},
        {"field": "display_number", "op": "eq", "value": "1"},
        {"all": []},
        {"field": "status", "op": "in", "value": []},
        {"field": "status", "op": "eq", "value": {"sql": "1=1"}},
        {
            "not": {
                "not": {
                    "not": {
                        "not": {
                            "not": {
                                "not": {
                                    "not": {"not": {"not": {"field": "status", "op": "is_null"}}}
                                }
                            }
                        }
                    }
                }
            }
        },
        "status = 'open'",
    ],
)
def test_invalid_conditions_are_refused(rule):
    with pytest.raises(InvalidCondition):
        validate(rule, Case)
