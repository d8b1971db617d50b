"""Tenant isolation of the audit trail's own tables.

The app role reads its own firm's audit rows, seals and security events, and nothing
of another firm's, through every query path; it cannot write them at all (the rows
come from triggers and SECURITY DEFINER functions only)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, insert, select, text, update

from legal_data.audit import record_security_event, seal_tenant
from legal_data.errors import PermissionDenied
from legal_data.models import AuditLog, AuditSeal, SecurityEvent
from legal_data.tenancy import tenant_session
from legal_data.testing.factories import PartyFactory, bind_session
from legal_data.testing.plugin import TEST_ACTOR

MODELS = [AuditLog, AuditSeal, SecurityEvent]


@pytest.fixture
def two_firms_with_trails(legal_db, tenant_a, tenant_b):
    for firm in (tenant_a, tenant_b):
        with (
            tenant_session(legal_db.app_sessions, firm.id, user_id=TEST_ACTOR) as s,
            bind_session(s),
        ):
            PartyFactory()
        with legal_db.admin_engine.begin() as c:
            assert seal_tenant(c, firm.id)
        assert record_security_event(legal_db.app_engine, "test_event", "info", tenant_id=firm.id)
    return tenant_a, tenant_b


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__tablename__)
def test_reads_see_only_the_own_firm(legal_db, two_firms_with_trails, model):
    a, b = two_firms_with_trails
    table = model.__table__
    with tenant_session(legal_db.app_sessions, a.id, user_id=TEST_ACTOR) as s:
        orm = {row.tenant_id for row in s.scalars(select(model))}
        core = set(s.execute(select(table.c.tenant_id)).scalars())
        raw = set(s.execute(text(f"SELECT tenant_id FROM {table.name}")).scalars())
        aimed = s.execute(select(table.c.tenant_id).where(table.c.tenant_id == b.id)).all()
    assert orm == core == raw == {a.id}
    assert aimed == []


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__tablename__)
@pytest.mark.parametrize("verb", ["insert", "update", "delete", "truncate"])
def test_the_app_role_cannot_write_the_trail(legal_db, two_firms_with_trails, model, verb):
    a, b = two_firms_with_trails
    table = model.__table__
    statements = {
        "insert": insert(table).values(tenant_id=a.id, id=uuid.uuid4())
        if "id" in table.c
        else insert(table).values(tenant_id=a.id, batch_no=99),
        "update": update(table).values(tenant_id=b.id),
        "delete": delete(table),
        "truncate": text(f"TRUNCATE {table.name}"),
    }
    with (
        pytest.raises(PermissionDenied),
        tenant_session(legal_db.app_sessions, a.id, user_id=TEST_ACTOR) as s,
    ):
        s.execute(statements[verb])
    with legal_db.admin_engine.connect() as c:
        assert c.execute(
            select(table.c.tenant_id).where(table.c.tenant_id == b.id).limit(1)
        ).first()
