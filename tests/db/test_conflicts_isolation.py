"""Tenant isolation of the conflict-check key tables and functions.

``party_name_keys`` and ``party_name_grams`` are written only by the triggers on
``parties``; the app role reads its own firm's rows (ORM, Core, ``text()``) and can
write none (``PermissionDenied``), so it can neither forge nor remove a key to hide a
party from a conflict check. The ``SECURITY DEFINER`` functions are owned by
``legal_search``, pin ``search_path``, are not executable by PUBLIC, and the screened
lookup answers only for the firm in context.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from isolation_support import tenant_tx
from sqlalchemy import delete, func, insert, select, text, update

from legal_data.conflicts.sql import DEFINER_FUNCTIONS, SEARCH_ROLE
from legal_data.errors import PermissionDenied
from legal_data.models import CaseParty, Party, PartyNameGram, PartyNameKey
from legal_data.rbac import walls
from legal_data.tenancy.context import SYSTEM_ROLE
from legal_data.testing.factories import CaseFactory, UserFactory
from legal_data.testing.plugin import make_tenant

MODELS = (PartyNameKey, PartyNameGram)


@pytest.fixture
def two_firms(legal_db) -> Iterator[dict[str, Any]]:
    out: dict[str, Any] = {}
    for label in ("a", "b"):
        firm = make_tenant(legal_db, f"keys-{label}", f"キー分離事務所{label.upper()}").id
        with tenant_tx(legal_db.app_sessions, firm, commit=True, role=SYSTEM_ROLE) as s:
            party = Party(tenant_id=firm, kind="company", name="株式会社山田商事")
            s.add(party)
            s.flush()
            # B walls a user off a case in which the party is the opposing party.
            case = CaseFactory()
            s.add(
                CaseParty(tenant_id=firm, case_id=case.id, party_id=party.id, role="opposing_party")
            )
            user = UserFactory()
            walls.add_wall(s, None, case.id, user_id=user.id, reason="分離テスト")
            out[label] = {"firm": firm, "party": party.id, "user": user.id}
    yield out


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__tablename__)
def test_each_firm_reads_only_its_own_keys(legal_db, two_firms, model):
    a, b = two_firms["a"], two_firms["b"]
    with tenant_tx(legal_db.app_sessions, a["firm"]) as s:
        rows = s.scalars(select(model)).all()
        assert rows and {r.tenant_id for r in rows} == {a["firm"]}
        of_b = select(func.count()).select_from(model).where(model.tenant_id == b["firm"])
        assert s.scalar(of_b) == 0
        raw = s.execute(text(f"SELECT DISTINCT tenant_id FROM {model.__tablename__}"))
        assert raw.scalars().all() == [a["firm"]]
    with legal_db.admin_engine.connect() as admin:
        b_row = admin.execute(
            text(f"SELECT id FROM {model.__tablename__} WHERE tenant_id = :t LIMIT 1"),
            {"t": b["firm"]},
        ).scalar_one()
    with tenant_tx(legal_db.app_sessions, a["firm"]) as s:
        assert s.get(model, (b["firm"], b_row)) is None


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__tablename__)
@pytest.mark.parametrize("verb", ["insert", "update", "delete", "truncate"])
def test_the_app_role_cannot_write_keys(legal_db, two_firms, model, verb):
    a = two_firms["a"]
    table = model.__table__
    statements = {
        "insert": lambda: insert(table).values(
            tenant_id=a["firm"],
            id=uuid.uuid4(),
            **(
                {"party_id": a["party"], "key_kind": "name", "key": "偽造", "source": "偽造"}
                if model is PartyNameKey
                else {"key_id": uuid.uuid4(), "gram": "偽造"}
            ),
        ),
        "update": lambda: update(table).values(tenant_id=table.c.tenant_id),
        "delete": lambda: delete(table),
        "truncate": lambda: text(f"TRUNCATE {table.name}"),
    }
    with tenant_tx(legal_db.app_sessions, a["firm"]) as s, pytest.raises(PermissionDenied):
        s.execute(statements[verb]())
    with legal_db.admin_engine.connect() as admin:
        count = admin.execute(
            text(f"SELECT count(*) FROM {table.name} WHERE tenant_id = :t"), {"t": a["firm"]}
        ).scalar()
    assert count > 0


def test_the_screened_lookup_answers_for_the_firm_in_context_only(legal_db, two_firms):
    a, b = two_firms["a"], two_firms["b"]
    lookup = text(
        "SELECT party_id, source, role FROM conflict_screened_appearances(CAST(:ids AS uuid[]))"
    )
    ids = {"ids": [a["party"], b["party"]]}
    # B's walled user asks about both parties: B's own party only.
    with tenant_tx(legal_db.app_sessions, b["firm"], user_id=b["user"]) as s:
        assert [tuple(r) for r in s.execute(lookup, ids)] == [
            (b["party"], "case", "opposing_party")
        ]
    # A's walled user: A's party only. A user without a wall: nothing.
    with tenant_tx(legal_db.app_sessions, a["firm"], user_id=a["user"]) as s:
        assert [r.party_id for r in s.execute(lookup, ids)] == [a["party"]]
    with tenant_tx(legal_db.app_sessions, a["firm"]) as s:
        assert s.execute(lookup, ids).all() == []


def test_definer_functions_are_owned_by_the_search_role_and_pinned(legal_db):
    with legal_db.admin_engine.connect() as admin:
        rows = admin.execute(
            text(
                "SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner), p.prosecdef,"
                " p.proconfig, has_function_privilege('public', p.oid, 'EXECUTE'),"
                " has_function_privilege('legal_app', p.oid, 'EXECUTE')"
                " FROM pg_proc p WHERE p.proname LIKE 'conflict\\_%' AND p.prosecdef"
                " ORDER BY 1"
            )
        ).all()
        bypass = admin.execute(
            text("SELECT rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = :r"),
            {"r": SEARCH_ROLE},
        ).one()
    assert sorted(r[0] for r in rows) == sorted(DEFINER_FUNCTIONS)
    for signature, owner, definer, config, public, app in rows:
        assert owner == SEARCH_ROLE and definer, signature
        assert any(c.startswith("search_path=") for c in config), signature
        assert not public, signature
        assert app == (signature == "conflict_screened_appearances(uuid[])"), signature
    assert tuple(bypass) == (True, False)
