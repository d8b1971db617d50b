"""Property: for generated roles (with inheritance), grants, denials, expiries, scopes and
conditions, ``authorize`` on each record and ``authorized(select(Case), ...)`` list exactly
the same cases. Records are created once; every example writes its roles and entries in a
savepoint, resolves the user's permissions through the database and rolls back."""

from __future__ import annotations

import datetime as dt
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from isolation_support import tenant_tx
from sqlalchemy import select

from legal_data.models import (
    CASE_STATUSES,
    PRACTICE_AREAS,
    Case,
    Role,
    RolePermission,
    UserPermission,
    UserRole,
)
from legal_data.rbac.authorize import authorize, authorized
from legal_data.rbac.conditions import validate
from legal_data.rbac.resolve import resolve
from legal_data.testing.factories import CaseAssignmentFactory, CaseFactory, UserFactory

ACTIONS = ("case:read", "case:update")
SCOPES = st.sampled_from(("firm", "assigned", "own"))

leaf = st.one_of(
    st.builds(
        lambda op, v: {"field": "status", "op": op, "value": v},
        st.sampled_from(("eq", "ne")),
        st.sampled_from(CASE_STATUSES),
    ),
    st.builds(
        lambda op, vs: {"field": "practice_area", "op": op, "value": vs},
        st.sampled_from(("in", "not_in")),
        st.lists(st.sampled_from(PRACTICE_AREAS[:4]), min_size=1, max_size=3),
    ),
    st.builds(
        lambda op, v: {"field": "display_number", "op": op, "value": v},
        st.sampled_from(("lt", "le", "gt", "ge", "eq")),
        st.integers(0, 12),
    ),
    st.builds(
        lambda op: {"field": "description", "op": op}, st.sampled_from(("is_null", "not_null"))
    ),
    st.builds(
        lambda v: {"field": "description", "op": "eq", "value": v},
        st.sampled_from(("至急", "通常")),
    ),
)
conditions = st.one_of(
    st.none(),
    st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda x: {"not": x}, inner),
        ),
        max_leaves=5,
    ),
)
entry = st.tuples(st.sampled_from(ACTIONS), SCOPES, conditions)
world = st.fixed_dictionaries(
    {
        # role i may inherit from a role j < i: a forest, never a cycle
        "parents": st.lists(st.integers(-1, 3), min_size=1, max_size=4),
        "role_grants": st.lists(st.tuples(st.integers(0, 3), entry), max_size=6),
        "member_of": st.sets(st.integers(0, 3), max_size=3),
        "user_entries": st.lists(
            st.tuples(st.sampled_from(("grant", "deny")), entry, st.booleans()), max_size=4
        ),
    }
)


def _records(s, user_id: uuid.UUID) -> None:
    for i in range(12):
        case = CaseFactory(
            status=("intake", "open", "pending")[i % 3],
            practice_area=PRACTICE_AREAS[i % 4],
            description=(None, "至急", "通常")[i % 3 if i % 4 else 0],
        )
        if i % 3 == 0:
            CaseAssignmentFactory(case_id=case.id, user_id=user_id, role="assistant")
        if i % 5 == 0:
            case.created_by = user_id
    s.flush()


def test_authorize_and_authorized_agree(legal_db, tenant_a):
    with tenant_tx(legal_db.app_sessions, tenant_a.id, role="system") as s:
        user_id = UserFactory().id
        _records(s, user_id)
        cases = s.scalars(select(Case)).all()
        s.expire_on_commit = False
        now = dt.datetime.now(dt.UTC)
        checked = {"examples": 0}

        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(world)
        def check(w):
            nested = s.begin_nested()
            try:
                roles: list[Role] = []
                for i, parent in enumerate(w["parents"]):
                    parent_id = roles[parent].id if 0 <= parent < i else None
                    roles.append(
                        Role(
                            tenant_id=tenant_a.id,
                            id=uuid.uuid4(),
                            name=f"p-{uuid.uuid4().hex[:10]}",
                            parent_role_id=parent_id,
                        )
                    )
                s.add_all(roles)
                s.flush()
                for idx, (action, scope, cond) in w["role_grants"]:
                    if idx < len(roles):
                        validate(cond, Case) if cond else None
                        s.add(
                            RolePermission(
                                tenant_id=tenant_a.id,
                                role_id=roles[idx].id,
                                permission=action,
                                scope=scope,
                                condition=cond,
                            )
                        )
                for idx in w["member_of"]:
                    if idx < len(roles):
                        s.add(
                            UserRole(tenant_id=tenant_a.id, user_id=user_id, role_id=roles[idx].id)
                        )
                for effect, (action, scope, cond), expired in w["user_entries"]:
                    s.add(
                        UserPermission(
                            tenant_id=tenant_a.id,
                            user_id=user_id,
                            permission=action,
                            effect=effect,
                            scope=scope,
                            condition=cond,
                            expires_at=now + dt.timedelta(hours=-1 if expired else 1),
                        )
                    )
                s.flush()
                principal = resolve(s, user_id)
                for action in ACTIONS:
                    listed = set(s.scalars(authorized(select(Case.id), principal, action)))
                    single = {c.id for c in cases if authorize(principal, action, c)}
                    assert listed == single, (action, w)
                checked["examples"] += 1
            finally:
                nested.rollback()

        check()
        assert checked["examples"] >= 20
