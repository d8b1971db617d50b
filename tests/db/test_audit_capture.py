"""Audit capture: every write path leaves exactly the expected audit rows, with the actor
fields of the transaction, and nothing survives a rollback."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from sqlalchemy import delete, insert, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from legal_data.errors import AuditActorMissing
from legal_data.models import Case, Party
from legal_data.tenancy import tenant_session
from legal_data.tenancy.context import SYSTEM_ROLE
from legal_data.testing.factories import (
    CaseAssignmentFactory,
    CaseFactory,
    PartyFactory,
    bind_session,
)

ACTOR = uuid.UUID("01890000-0000-7000-8000-000000000001")
CONTEXT = {
    "user_id": ACTOR,
    "role": "lawyer",
    "client_ip": "203.0.113.9",
    "user_agent": "Mozilla/5.0 (audit test)",
    "request_id": "req-42",
    "reason": "受任のため",
}


def audit_rows(harness, tenant, *, table: str | None = None, after: int = 0):
    sql = (
        "SELECT action, table_name, row_id, old_values, changed_values, actor_id, actor_role,"
        " host(client_ip), user_agent, request_id, reason FROM audit_logs"
        " WHERE tenant_id = :t AND (CAST(:tbl AS text) IS NULL OR table_name = :tbl)"
        " ORDER BY txid, id OFFSET :after"
    )
    with harness.admin_engine.connect() as c:
        return [
            tuple(r) for r in c.execute(text(sql), {"t": tenant.id, "tbl": table, "after": after})
        ]


def count_rows(harness, tenant, table=None) -> int:
    return len(audit_rows(harness, tenant, table=table))


def in_tenant(harness, tenant, work, **ctx):
    with tenant_session(harness.app_sessions, tenant.id, **(ctx or CONTEXT)) as s, bind_session(s):
        return work(s)


def test_orm_insert_update_delete_are_captured_with_actor_fields(legal_db, tenant_a):
    case = in_tenant(legal_db, tenant_a, lambda s: CaseFactory(title="原題"))
    inserted = audit_rows(legal_db, tenant_a, table="cases")
    assert len(inserted) == 1
    action, table, row_id, old, new, actor, role, ip, ua, req, reason = inserted[0]
    assert (action, table, row_id, old) == ("INSERT", "cases", case.id, None)
    assert new["title"] == "原題" and new["tenant_id"] == str(tenant_a.id)
    assert (actor, role, ip, ua, req, reason) == (
        ACTOR,
        "lawyer",
        "203.0.113.9",
        "Mozilla/5.0 (audit test)",
        "req-42",
        "受任のため",
    )

    def edit(s):
        s.get(Case, (tenant_a.id, case.id)).title = "新題"

    in_tenant(legal_db, tenant_a, edit)
    (upd,) = audit_rows(legal_db, tenant_a, table="cases", after=1)
    assert upd[0] == "UPDATE"
    # Only the changed columns, before and after (bookkeeping columns change too).
    assert upd[3]["title"] == "原題" and upd[4]["title"] == "新題"
    # updated_by is unchanged: the same actor created and edited the case.
    assert set(upd[4]) == {"title", "updated_at", "version"}

    def remove(s):
        s.delete(s.get(Case, (tenant_a.id, case.id)))

    in_tenant(legal_db, tenant_a, remove)
    (dele,) = audit_rows(legal_db, tenant_a, table="cases", after=2)
    assert dele[0] == "DELETE" and dele[3]["title"] == "新題" and dele[4] is None


def test_core_bulk_update_and_delete_are_captured_per_row(legal_db, tenant_a):
    parties = in_tenant(legal_db, tenant_a, lambda s: [PartyFactory() for _ in range(5)])
    before = count_rows(legal_db, tenant_a, "parties")
    in_tenant(
        legal_db,
        tenant_a,
        lambda s: s.execute(update(Party).values(name_kana="カブシキガイシャ")),
    )
    rows = audit_rows(legal_db, tenant_a, table="parties", after=before)
    assert [r[0] for r in rows] == ["UPDATE"] * 5
    assert {r[2] for r in rows} == {p.id for p in parties}
    assert all(set(r[4]) == {"name_kana", "updated_at"} for r in rows)
    in_tenant(
        legal_db, tenant_a, lambda s: s.execute(delete(Party).where(Party.id == parties[0].id))
    )
    assert audit_rows(legal_db, tenant_a, table="parties", after=before + 5)[0][:3] == (
        "DELETE",
        "parties",
        parties[0].id,
    )


def test_noop_update_is_not_recorded(legal_db, tenant_a):
    party = in_tenant(legal_db, tenant_a, lambda s: PartyFactory(name="同名株式会社"))
    before = count_rows(legal_db, tenant_a, "parties")
    in_tenant(
        legal_db,
        tenant_a,
        lambda s: s.execute(text("UPDATE parties SET name = name WHERE id = :i"), {"i": party.id}),
    )
    assert count_rows(legal_db, tenant_a, "parties") == before


def test_text_sql_and_upsert_are_captured(legal_db, tenant_a):
    pid = uuid.uuid4()
    in_tenant(
        legal_db,
        tenant_a,
        lambda s: s.execute(
            text(
                "INSERT INTO parties (tenant_id, id, kind, name) VALUES (:t, :i, 'person', '甲野')"
            ),
            {"t": tenant_a.id, "i": pid},
        ),
    )
    stmt = pg_insert(Party).values(tenant_id=tenant_a.id, id=pid, kind="person", name="乙野")
    stmt = stmt.on_conflict_do_update(index_elements=["tenant_id", "id"], set_={"name": "乙野"})
    in_tenant(legal_db, tenant_a, lambda s: s.execute(stmt))
    rows = audit_rows(legal_db, tenant_a, table="parties")
    assert [(r[0], r[2]) for r in rows] == [("INSERT", pid), ("UPDATE", pid)]
    assert rows[1][3]["name"] == "甲野" and rows[1][4]["name"] == "乙野"


def test_cascade_deletes_are_captured(legal_db, tenant_a):
    assignment = in_tenant(legal_db, tenant_a, lambda s: CaseAssignmentFactory())
    before = count_rows(legal_db, tenant_a, "case_assignments")
    in_tenant(
        legal_db,
        tenant_a,
        lambda s: s.execute(delete(Case).where(Case.id == assignment.case_id)),
    )
    rows = audit_rows(legal_db, tenant_a, table="case_assignments", after=before)
    assert [(r[0], r[2]) for r in rows] == [("DELETE", assignment.id)]


def test_core_insert_is_captured(legal_db, tenant_a):
    in_tenant(
        legal_db,
        tenant_a,
        lambda s: s.execute(
            insert(Party),
            [{"tenant_id": tenant_a.id, "kind": "person", "name": f"丙{i}"} for i in range(3)],
        ),
    )
    assert [r[0] for r in audit_rows(legal_db, tenant_a, table="parties")] == ["INSERT"] * 3


def test_rollback_and_savepoint_rollback_leave_no_audit_rows(legal_db, tenant_a):
    with pytest.raises(RuntimeError), in_tenant_raw(legal_db, tenant_a) as s:
        PartyFactory()
        s.flush()
        raise RuntimeError("abort")
    assert count_rows(legal_db, tenant_a, "parties") == 0

    def nested(s):
        kept = PartyFactory(name="残る")
        sp = s.begin_nested()
        PartyFactory(name="消える")
        s.flush()
        sp.rollback()
        return kept

    kept = in_tenant(legal_db, tenant_a, nested)
    rows = audit_rows(legal_db, tenant_a, table="parties")
    assert [(r[0], r[2]) for r in rows] == [("INSERT", kept.id)]


def in_tenant_raw(harness, tenant):
    from contextlib import contextmanager

    @contextmanager
    def cm():
        with tenant_session(harness.app_sessions, tenant.id, **CONTEXT) as s, bind_session(s):
            yield s

    return cm()


def test_write_without_actor_fails_and_system_actor_is_allowed(legal_db, tenant_a):
    with pytest.raises(AuditActorMissing):
        in_tenant(legal_db, tenant_a, lambda s: PartyFactory(), role="lawyer")
    assert count_rows(legal_db, tenant_a, "parties") == 0
    party = in_tenant(legal_db, tenant_a, lambda s: PartyFactory(), role=SYSTEM_ROLE, reason="移行")
    (row,) = audit_rows(legal_db, tenant_a, table="parties")
    assert row[2] == party.id and row[5] is None and row[6] == "system" and row[10] == "移行"


def test_no_setting_turns_auditing_off(legal_db, tenant_a):
    def sneaky(s):
        for setting in (
            "SET LOCAL session_replication_role = replica",
            "SET LOCAL postgresql_audit.enable_versioning = off",
            "SET LOCAL pgtrigger.ignore = 'parties:audit_insert'",
        ):
            # The app role may not even be allowed to try; either way nothing may change.
            with contextlib.suppress(Exception), s.begin_nested():
                s.execute(text(setting))
        return PartyFactory()

    party = in_tenant(legal_db, tenant_a, sneaky)
    assert [r[2] for r in audit_rows(legal_db, tenant_a, table="parties")] == [party.id]


def test_app_role_reads_only_its_own_audit_rows(legal_db, tenant_a, tenant_b):
    in_tenant(legal_db, tenant_a, lambda s: PartyFactory())
    in_tenant(legal_db, tenant_b, lambda s: PartyFactory())
    seen = in_tenant(
        legal_db,
        tenant_a,
        lambda s: s.execute(text("SELECT DISTINCT tenant_id FROM audit_logs")).scalars().all(),
    )
    assert seen == [tenant_a.id]


def test_every_business_table_has_enabled_audit_triggers(legal_data_harness):
    from legal_data.models import Base
    from legal_data.tenancy.posture import AUDIT_EXEMPT, GLOBAL_TABLES

    # The posture check's own allowlists (each entry says why there); the test holds the
    # catalog to them rather than to a second list that could drift.
    exempt = AUDIT_EXEMPT | GLOBAL_TABLES
    assert "parties" not in exempt and "cases" not in exempt
    with legal_data_harness.admin_engine.connect() as c:
        enabled = {
            (t, n)
            for t, n in c.execute(
                text(
                    "SELECT tgrelid::regclass::text, tgname FROM pg_trigger"
                    " WHERE tgname LIKE 'audit_%' AND tgenabled = 'A'"
                )
            )
        }
    missing = [
        t.name
        for t in Base.metadata.sorted_tables
        if t.name not in exempt
        and not {(t.name, f"audit_{op}") for op in ("insert", "update", "delete")} <= enabled
    ]
    assert missing == []
