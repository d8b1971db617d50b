"""READ events and security events."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text

from legal_data.audit import record_access
from legal_data.errors import AuditActorMissing, RowLevelSecurityViolation, TenantContextMissing
from legal_data.models import Document, Party
from legal_data.tenancy import tenant_session
from legal_data.tenancy.login import (
    find_session,
    open_session,
    record_failed_login,
    revoke_session,
)
from legal_data.testing.factories import DocumentFactory, UserFactory, bind_session

ACTOR = uuid.UUID("01890000-0000-7000-8000-000000000003")
NIL = uuid.UUID(int=0)


def reads(harness, tenant):
    with harness.admin_engine.connect() as c:
        return c.execute(
            text(
                "SELECT table_name, row_id, changed_values, actor_id, reason FROM audit_logs"
                " WHERE tenant_id = :t AND action = 'READ' ORDER BY txid, id"
            ),
            {"t": tenant.id},
        ).all()


def events(harness, tenant_id, kind):
    with harness.admin_engine.connect() as c:
        return c.execute(
            text(
                "SELECT severity, details, actor_id FROM security_events"
                " WHERE tenant_id = :t AND kind = :k ORDER BY occurred_at"
            ),
            {"t": tenant_id, "k": kind},
        ).all()


def test_record_access_writes_a_read_event_in_the_same_transaction(legal_db, tenant_a):
    target = uuid.uuid4()
    with tenant_session(
        legal_db.app_sessions, tenant_a.id, user_id=ACTOR, reason="開示請求への対応"
    ) as s:
        record_access(s, "documents", target, details={"purpose": "review"})
    ((table, row_id, details, actor, reason),) = reads(legal_db, tenant_a)
    assert (table, row_id, actor, reason) == ("documents", target, ACTOR, "開示請求への対応")
    assert details == {"purpose": "review"}


def test_a_read_that_cannot_be_audited_fails(legal_db, tenant_a):
    with (
        pytest.raises(AuditActorMissing),
        tenant_session(legal_db.app_sessions, tenant_a.id, role="lawyer") as s,
    ):
        record_access(s, "documents", uuid.uuid4())
    with (
        pytest.raises(RuntimeError),
        tenant_session(legal_db.app_sessions, tenant_a.id, user_id=ACTOR) as s,
    ):
        record_access(s, "documents", uuid.uuid4())
        raise RuntimeError("the request failed later")
    assert reads(legal_db, tenant_a) == []


def test_loading_privileged_documents_records_read_events(legal_db, tenant_a):
    with tenant_session(legal_db.app_sessions, tenant_a.id, user_id=ACTOR) as s, bind_session(s):
        secret = DocumentFactory(is_privileged=True, title="依頼者との相談メモ")
        DocumentFactory(is_privileged=False, title="訴状")
    with tenant_session(legal_db.app_sessions, tenant_a.id, user_id=ACTOR, reason="準備") as s:
        titles = sorted(s.scalars(select(Document.title)).all())  # columns only: no entity
        docs = s.scalars(select(Document)).all()
    assert len(docs) == 2 and len(titles) == 2
    rows = reads(legal_db, tenant_a)
    assert [(r.table_name, r.row_id) for r in rows] == [("documents", secret.id)]


def test_tenant_context_violation_is_a_security_event(legal_db):
    with pytest.raises(TenantContextMissing), legal_db.app_sessions() as s:
        s.execute(select(Party))
    assert events(legal_db, NIL, "tenant_context_missing")


def test_cross_tenant_write_is_a_security_event(legal_db, tenant_a, tenant_b):
    with (
        pytest.raises(RowLevelSecurityViolation),
        tenant_session(legal_db.app_sessions, tenant_a.id, user_id=ACTOR) as s,
    ):
        s.add(Party(tenant_id=tenant_b.id, kind="person", name="越境"))
    ((severity, details, actor),) = events(legal_db, tenant_a.id, "permission_denied")
    assert severity == "warning" and actor == ACTOR
    assert details["error"] == "RowLevelSecurityViolation"


def test_session_revocation_and_failed_login_are_security_events(legal_db, tenant_a):
    with tenant_session(legal_db.app_sessions, tenant_a.id, user_id=ACTOR) as s, bind_session(s):
        user = UserFactory()
        token, row = open_session(s, tenant_id=tenant_a.id, user_id=user.id)
    from legal_data.tenancy import system_scope

    with system_scope(reason="login"), legal_db.app_sessions() as s, s.begin():
        assert find_session(s, token).session_id == row.id
    with tenant_session(legal_db.app_sessions, tenant_a.id, user_id=ACTOR) as s:
        assert revoke_session(s, row.id, reason="盗難端末")
    with system_scope(reason="login"), legal_db.app_sessions() as s, s.begin():
        assert find_session(s, token) is None
        record_failed_login(s, slug="firm-a", email="nobody@example.jp", why="unknown user")
    assert events(legal_db, tenant_a.id, "session_revoked")[0].details["reason"] == "盗難端末"
    assert events(legal_db, NIL, "login_failed")[0].details["why"] == "unknown user"
