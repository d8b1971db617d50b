"""``tenant_keys``: Row Level Security, the application role's narrow privileges (read its
firm's keys, create its first ones, nothing else) and the lifecycle the database enforces
for everyone. The generic isolation matrix assumes full write privileges; this table is
covered here instead."""

from __future__ import annotations

import uuid

import pytest
from crypto_support import acting, as_operator, db_fixture, firms_fixture, person  # noqa: F401
from sqlalchemy import delete, func, insert, select, text, update

from legal_data.errors import (
    CheckViolation,
    PermissionDenied,
    RowLevelSecurityViolation,
    UniqueViolation,
)
from legal_data.models.keys import TenantKey
from legal_data.testing.factories import TenantKeyFactory


@pytest.fixture
def two_firms_with_keys(db, firms):
    a, b = firms.new(), firms.new()
    for firm in (a, b):
        with acting(db, firm) as s:
            person(s)  # the first encrypted write creates the firm's keys
    return a, b


def test_a_firm_sees_only_its_own_keys(db, two_firms_with_keys):
    a, b = two_firms_with_keys
    with acting(db, a) as s:
        assert {k.tenant_id for k in s.scalars(select(TenantKey))} == {a.id}
        assert (
            s.execute(
                select(func.count()).select_from(TenantKey).where(TenantKey.tenant_id == b.id)
            ).scalar()
            == 0
        )
        assert (
            s.execute(
                text("SELECT count(*) FROM tenant_keys WHERE tenant_id <> :a"), {"a": a.id}
            ).scalar()
            == 0
        )


def test_the_app_role_may_create_keys_for_its_own_firm_only(db, two_firms_with_keys):
    a, b = two_firms_with_keys
    with acting(db, a):
        TenantKeyFactory()
    with pytest.raises(RowLevelSecurityViolation), acting(db, a):
        TenantKeyFactory(tenant_id=b.id)


@pytest.mark.parametrize("statement", ["update", "delete", "truncate"])
def test_the_app_role_cannot_change_or_remove_keys(db, two_firms_with_keys, statement):
    a, _ = two_firms_with_keys
    with pytest.raises(PermissionDenied), acting(db, a) as s:
        if statement == "update":
            s.execute(update(TenantKey).values(state="retired"))
        elif statement == "delete":
            s.execute(delete(TenantKey))
        else:
            s.execute(text("TRUNCATE tenant_keys"))


def test_reporting_cannot_read_key_material(db):
    with db.admin_engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT has_table_privilege('legal_readonly', 'tenant_keys', 'SELECT')")
            ).scalar()
            is False
        )


def test_the_lifecycle_holds_for_operators_too(db, two_firms_with_keys):
    a, _ = two_firms_with_keys
    with as_operator(db, a) as conn:
        key = conn.execute(
            select(TenantKey.id).where(
                TenantKey.tenant_id == a.id, TenantKey.purpose == "encryption"
            )
        ).scalar_one()

    def operator(statement) -> None:
        with as_operator(db, a) as conn:
            conn.execute(statement)

    mine = (TenantKey.tenant_id == a.id) & (TenantKey.id == key)
    for change in (
        {"version": 7},
        {"purpose": "blind_index"},
        {"id": uuid.uuid4()},
        {"state": "retired"},
    ):  # active -> retired skips decrypt_only
        with pytest.raises(CheckViolation) as refused:
            operator(update(TenantKey).where(mine).values(change))
        assert refused.value.rule == "ck_tenant_keys_lifecycle"
    with pytest.raises(CheckViolation):
        operator(delete(TenantKey).where(mine))  # a live key is destroyed, never deleted
    with pytest.raises(UniqueViolation):  # one active key per firm and purpose
        operator(
            insert(TenantKey).values(
                tenant_id=a.id,
                id=uuid.uuid4(),
                purpose="encryption",
                version=99,
                state="active",
                wrapped=b"x" * 61,
                master_key_id="local:test",
            )
        )
    with pytest.raises(CheckViolation) as refused:  # destroyed means no material
        operator(update(TenantKey).where(mine).values(state="destroyed"))
    assert refused.value.rule == "ck_tenant_keys_destroyed_iff_erased"
    operator(update(TenantKey).where(mine).values(state="destroyed", wrapped=None))
    with pytest.raises(CheckViolation):  # final
        operator(update(TenantKey).where(mine).values(state="decrypt_only", wrapped=b"x" * 61))
    operator(delete(TenantKey).where(mine))  # a destroyed key's row may go
