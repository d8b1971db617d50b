"""Append-only guards, sealing, verification, inclusion proofs, partitions and archive."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import text

from legal_data.audit import inclusion_proof, record_security_event, seal_tenant, verify_tenant
from legal_data.audit.merkle import leaf_hash, verify_inclusion
from legal_data.audit.retention import archive_month, ensure_partitions, partitions
from legal_data.db.provision import libpq_conninfo
from legal_data.errors import AppendOnlyViolation, AuditError, PermissionDenied
from legal_data.tenancy import tenant_session
from legal_data.testing.factories import PartyFactory, bind_session

ACTOR = uuid.UUID("01890000-0000-7000-8000-000000000002")


def write_parties(harness, tenant, n: int = 3) -> list:
    with tenant_session(harness.app_sessions, tenant.id, user_id=ACTOR) as s, bind_session(s):
        return [PartyFactory() for _ in range(n)]


def current_partition(harness) -> str:
    return f"audit_logs_p{dt.datetime.now(dt.UTC):%Y%m}"


@contextmanager
def superuser(harness):
    """A raw psycopg connection as the admin (superuser), committing at the end."""
    with psycopg.connect(libpq_conninfo(harness.admin_url)) as conn:
        yield conn


@contextmanager
def tampering(harness):
    """What a superuser has to do first: switch off the DDL guard and the row guards."""
    with superuser(harness) as conn:
        conn.execute("ALTER EVENT TRIGGER audit_guard_ddl DISABLE")
        conn.execute("ALTER EVENT TRIGGER audit_guard_drop DISABLE")
        conn.execute("ALTER TABLE audit_logs DISABLE TRIGGER append_only_rows")
        try:
            yield conn
        finally:
            conn.execute("ALTER TABLE audit_logs ENABLE ALWAYS TRIGGER append_only_rows")
            conn.execute("ALTER EVENT TRIGGER audit_guard_ddl ENABLE")
            conn.execute("ALTER EVENT TRIGGER audit_guard_drop ENABLE")


def create_past_partition(conn, name: str, start: str, end: str) -> None:
    """What audit_ensure_partitions() would have made for a past month (it only makes the
    current and coming months): owned by legal_owner, guarded, under RLS."""
    conn.execute("SET ROLE legal_owner")
    conn.execute(
        f"CREATE TABLE {name} PARTITION OF audit_logs FOR VALUES FROM ('{start}') TO ('{end}')"
    )
    conn.execute(
        f"CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON {name}"
        " FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
    )
    conn.execute(f"ALTER TABLE {name} ENABLE ALWAYS TRIGGER append_only_truncate")
    conn.execute(f"ALTER TABLE {name} ENABLE ALWAYS TRIGGER append_only_rows")
    conn.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
    conn.execute(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY")
    conn.execute(
        f"CREATE POLICY tenant_isolation ON {name} AS RESTRICTIVE FOR ALL"
        " USING (tenant_id = (SELECT app_current_tenant_id()))"
        " WITH CHECK (tenant_id = (SELECT app_current_tenant_id()))"
    )
    conn.execute(f"REVOKE ALL ON {name} FROM PUBLIC")
    conn.execute("RESET ROLE")


def seal(harness, tenant, **kw):
    with harness.admin_engine.begin() as c:
        return seal_tenant(c, tenant.id, **kw)


def verify(harness, tenant):
    with harness.admin_engine.begin() as c:
        return verify_tenant(c, tenant.id)


# -- append-only -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_logs SET reason = 'x'",
        "DELETE FROM audit_logs",
        "TRUNCATE audit_logs",
        "INSERT INTO audit_logs (tenant_id, table_name, action) VALUES ('{t}', 'x', 'READ')",
        "UPDATE {p} SET reason = 'x'",
        "DELETE FROM {p}",
        "TRUNCATE {p}",
        "SELECT * FROM {p}",
        "UPDATE audit_seals SET row_count = 0",
        "DELETE FROM security_events",
    ],
)
def test_app_role_cannot_change_the_trail(legal_db, tenant_a, statement):
    write_parties(legal_db, tenant_a, 1)
    sql = statement.format(t=tenant_a.id, p=current_partition(legal_db))
    with (
        pytest.raises(PermissionDenied),
        tenant_session(legal_db.app_sessions, tenant_a.id, user_id=ACTOR) as s,
    ):
        s.execute(text(sql))


GUARDED = [
    "UPDATE audit_logs SET reason = 'x'",
    "DELETE FROM audit_logs",
    "TRUNCATE audit_logs",
    "UPDATE {p} SET reason = 'x'",
    "DELETE FROM {p}",
    "TRUNCATE {p}",
    "TRUNCATE audit_logs_default",
    "UPDATE audit_seals SET row_count = 0",
    "DELETE FROM audit_seals",
    "TRUNCATE audit_seals",
    "DELETE FROM security_events",
    "TRUNCATE security_events",
]


@pytest.mark.parametrize("statement", GUARDED)
@pytest.mark.parametrize("who", ["owner", "superuser", "superuser-replica"])
def test_nobody_can_change_the_trail(legal_db, tenant_a, statement, who):
    """The guards fire for the owner and a superuser, also under session_replication_role
    = replica. (The owner sees no row through a partition at all: partitions carry only
    the restrictive tenant policy; the superuser, who bypasses RLS, meets the guard.)"""
    write_parties(legal_db, tenant_a, 1)
    seal(legal_db, tenant_a)
    record_security_event(legal_db.app_engine, "test_event", "info", tenant_id=tenant_a.id)
    sql = statement.format(p=current_partition(legal_db))
    with superuser(legal_db) as conn:
        if who == "owner":
            if statement.startswith(("UPDATE {p}", "DELETE FROM {p}")):
                pytest.skip("the owner sees no row through a partition (covered by superuser)")
            conn.execute("SET ROLE legal_owner")
            conn.execute(f"SET app.current_tenant_id = '{tenant_a.id}'")
        if who == "superuser-replica":
            conn.execute("SET session_replication_role = replica")
        with pytest.raises(psycopg.Error) as info:
            conn.execute(sql)
        assert info.value.sqlstate == "LDA02"


@pytest.mark.parametrize(
    "ddl",
    [
        "ALTER TABLE audit_logs DISABLE TRIGGER append_only_rows",
        "ALTER TABLE {p} DISABLE TRIGGER append_only_truncate",
        "DROP TRIGGER append_only_rows ON audit_logs",
        "ALTER TABLE audit_logs DETACH PARTITION {p}",
        "DROP TABLE {p}",
        "DROP FUNCTION audit_refuse_change() CASCADE",
        "CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN NULL; END $$",
        "DROP POLICY tenant_isolation ON audit_logs",
        "ALTER TABLE audit_seals DISABLE TRIGGER append_only_rows",
    ],
)
def test_ddl_that_would_weaken_the_guards_is_refused_even_for_a_superuser(legal_db, ddl):
    with superuser(legal_db) as conn, pytest.raises(psycopg.Error) as info:
        conn.execute(ddl.format(p=current_partition(legal_db)))
    assert info.value.sqlstate == "LDA02"


def test_append_only_error_is_typed_through_the_library(legal_db, tenant_a):
    write_parties(legal_db, tenant_a, 1)
    with pytest.raises(AppendOnlyViolation), legal_db.admin_engine.begin() as c:
        c.execute(text("DELETE FROM audit_logs"))


def test_partitions_ahead_and_the_default_partition_is_empty(legal_db, tenant_a):
    write_parties(legal_db, tenant_a, 2)
    with legal_db.admin_engine.begin() as c:
        assert ensure_partitions(c, 3) == 0  # the migration already made them
        parts = dict(partitions(c))
    now = dt.datetime.now(dt.UTC).date().replace(day=1)
    months = [now]
    for _ in range(3):
        months.append((months[-1] + dt.timedelta(days=32)).replace(day=1))
    for m in months:
        assert f"audit_logs_p{m:%Y%m}" in parts
    assert parts["audit_logs_default"] == 0
    assert parts[current_partition(legal_db)] >= 2


# -- sealing and verification -----------------------------------------------------------


def audit_count(harness, tenant) -> int:
    with harness.admin_engine.connect() as c:
        return c.execute(
            text("SELECT count(*) FROM audit_logs WHERE tenant_id = :t"), {"t": tenant.id}
        ).scalar_one()


def test_seal_then_verify_is_clean_and_counts_everything(legal_db, tenant_a, tenant_b):
    created = audit_count(legal_db, tenant_a)  # the firm's creation and seeded categories
    write_parties(legal_db, tenant_a, 4)
    write_parties(legal_db, tenant_b, 2)
    results = seal(legal_db, tenant_a)
    assert sum(r.row_count for r in results) == created + 4
    assert seal(legal_db, tenant_a) == []  # nothing new: no empty seal
    write_parties(legal_db, tenant_a, 3)
    assert [r.batch_no for r in seal(legal_db, tenant_a)] == [2]
    report = verify(legal_db, tenant_a)
    assert report.ok and report.seals == 2 and report.rows_verified == created + 7
    assert report.unsealed_rows == 0
    other = verify(legal_db, tenant_b)
    assert other.ok and other.seals == 0 and other.unsealed_rows == audit_count(legal_db, tenant_b)


def test_batches_split_on_transaction_boundaries(legal_db, tenant_a):
    seal(legal_db, tenant_a)  # the firm's creation
    for _ in range(3):
        write_parties(legal_db, tenant_a, 2)
    results = seal(legal_db, tenant_a, max_rows=3)
    # 2 + 2 rows cross the limit only at a transaction boundary: batches of 4 and 2.
    assert [r.row_count for r in results] == [4, 2]
    assert verify(legal_db, tenant_a).ok


def test_open_transaction_is_not_sealed_until_it_finishes(legal_db, tenant_a):
    seal(legal_db, tenant_a)  # the firm's creation
    write_parties(legal_db, tenant_a, 1)
    with tenant_session(legal_db.app_sessions, tenant_a.id, user_id=ACTOR) as s, bind_session(s):
        PartyFactory()
        s.flush()
        sealed_while_open = seal(legal_db, tenant_a)
    assert sum(r.row_count for r in sealed_while_open) == 1
    later = seal(legal_db, tenant_a)
    assert sum(r.row_count for r in later) == 1
    report = verify(legal_db, tenant_a)
    assert report.ok and report.unsealed_rows == 0 and report.seals == 3


@pytest.mark.parametrize(
    "damage, expected",
    [
        ("UPDATE audit_logs SET reason = 'forged' WHERE id = '{first}'", "edited"),
        ("DELETE FROM audit_logs WHERE id = '{first}'", "rows deleted"),
        (
            "INSERT INTO audit_logs (tenant_id, table_name, action, txid)"
            " SELECT tenant_id, 'parties', 'INSERT', txid FROM audit_logs WHERE id = '{first}'",
            "rows deleted or inserted",
        ),
        ("UPDATE audit_logs SET txid = txid WHERE false", None),
        ("TRUNCATE {p}", "rows deleted"),
        ("UPDATE audit_seals SET row_count = row_count WHERE false", None),
    ],
)
def test_verify_names_the_damage(legal_db, tenant_a, damage, expected):
    write_parties(legal_db, tenant_a, 2)
    seal(legal_db, tenant_a)
    write_parties(legal_db, tenant_a, 2)
    seal(legal_db, tenant_a)
    with legal_db.admin_engine.connect() as c:
        first = c.execute(
            text("SELECT id FROM audit_logs WHERE tenant_id = :t ORDER BY txid, id LIMIT 1"),
            {"t": tenant_a.id},
        ).scalar_one()
    with tampering(legal_db) as conn:
        if damage.startswith("TRUNCATE"):
            conn.execute(
                f"ALTER TABLE {current_partition(legal_db)} DISABLE TRIGGER append_only_truncate"
            )
        conn.execute(damage.format(first=first, p=current_partition(legal_db)))
        if damage.startswith("TRUNCATE"):
            part = current_partition(legal_db)
            conn.execute(f"ALTER TABLE {part} ENABLE ALWAYS TRIGGER append_only_truncate")
    report = verify(legal_db, tenant_a)
    if expected is None:
        assert report.ok
    else:
        assert not report.ok
        assert report.first_bad_batch == 1
        assert expected in str(report.findings[0])


def test_verify_detects_an_altered_or_removed_seal(legal_db, tenant_a):
    for _ in range(3):
        write_parties(legal_db, tenant_a, 1)
        seal(legal_db, tenant_a)
    with tampering(legal_db) as conn:
        conn.execute("ALTER TABLE audit_seals DISABLE TRIGGER append_only_rows")
        conn.execute(
            "UPDATE audit_seals SET merkle_root = sha256('x')"
            " WHERE tenant_id = %s AND batch_no = 2",
            [tenant_a.id],
        )
        conn.execute("ALTER TABLE audit_seals ENABLE ALWAYS TRIGGER append_only_rows")
    report = verify(legal_db, tenant_a)
    assert report.first_bad_batch == 2
    assert "altered" in str(report.findings[0])


def test_verification_does_not_depend_on_the_time_zone(legal_db, tenant_a):
    write_parties(legal_db, tenant_a, 2)
    seal(legal_db, tenant_a)
    for tz in ("Asia/Tokyo", "America/New_York", "UTC"):
        with legal_db.admin_engine.begin() as c:
            c.execute(text(f"SET LOCAL TimeZone = '{tz}'"))
            c.execute(text("SET LOCAL DateStyle = 'SQL, DMY'"))
            assert verify_tenant(c, tenant_a.id).ok


def test_inclusion_proof_verifies_and_detects_tampering(legal_db, tenant_a):
    seal(legal_db, tenant_a)  # the firm's creation, in batch 1
    write_parties(legal_db, tenant_a, 5)
    seal(legal_db, tenant_a)
    with legal_db.admin_engine.connect() as c:
        ids = (
            c.execute(
                text(
                    "SELECT id FROM audit_logs WHERE tenant_id = :t AND table_name = 'parties'"
                    " ORDER BY txid, id"
                ),
                {"t": tenant_a.id},
            )
            .scalars()
            .all()
        )
    with legal_db.admin_engine.begin() as c:
        proof = inclusion_proof(c, tenant_a.id, ids[3])
    assert proof.verify() and proof.batch_no == 2
    assert proof.tree_size == 5 and proof.leaf_index == 3
    as_json = json.loads(json.dumps(proof.as_dict()))
    assert verify_inclusion(
        leaf_hash(as_json["row"].encode()),
        as_json["leaf_index"],
        as_json["tree_size"],
        [bytes.fromhex(p) for p in as_json["path"]],
        bytes.fromhex(as_json["merkle_root"]),
    )
    forged = as_json["row"].replace(str(ACTOR), str(uuid.uuid4()))
    assert not verify_inclusion(
        leaf_hash(forged.encode()),
        as_json["leaf_index"],
        as_json["tree_size"],
        [bytes.fromhex(p) for p in as_json["path"]],
        bytes.fromhex(as_json["merkle_root"]),
    )


def test_unsealed_row_has_no_proof_yet(legal_db, tenant_a):
    write_parties(legal_db, tenant_a, 1)
    with legal_db.admin_engine.connect() as c:
        audit_id = c.execute(
            text("SELECT id FROM audit_logs WHERE tenant_id = :t AND table_name = 'parties'"),
            {"t": tenant_a.id},
        ).scalar_one()
    with pytest.raises(AuditError, match="not sealed"), legal_db.admin_engine.begin() as c:
        inclusion_proof(c, tenant_a.id, audit_id)


# -- archive ---------------------------------------------------------------------------


def test_archive_exports_verifies_and_drops_a_sealed_month(legal_db, tenant_a, tmp_path):
    old = "audit_logs_p202501"
    seal(legal_db, tenant_a)  # the firm's own creation, this month, in batch 1
    with tampering(legal_db) as conn:
        create_past_partition(conn, old, "2025-01-01 00:00+00", "2025-02-01 00:00+00")
        conn.execute(
            f"INSERT INTO {old} (tenant_id, occurred_at, table_name, action, actor_role)"
            " SELECT %s, timestamptz '2025-01-15 10:00+00', 'parties', 'INSERT', 'system'"
            " FROM generate_series(1, 3)",
            [tenant_a.id],
        )
    with pytest.raises(AuditError, match="unsealed"), legal_db.admin_engine.begin() as c:
        archive_month(c, "2025-01", tmp_path)
    seal(legal_db, tenant_a)
    write_parties(legal_db, tenant_a, 1)
    seal(legal_db, tenant_a)
    with legal_db.admin_engine.begin() as c:
        result = archive_month(c, "2025-01", tmp_path)
    assert result.rows == 3
    lines = [json.loads(line) for line in result.path.read_text().splitlines()]
    assert sum("row" in line for line in lines) == 3 and any("seal" in line for line in lines)
    assert all(leaf_hash(x["row"].encode()).hex() == x["leaf"] for x in lines if "row" in x)
    with legal_db.admin_engine.connect() as c:
        assert c.execute(text("SELECT to_regclass(:p)"), {"p": old}).scalar() is None
        assert c.execute(text("SELECT row_count FROM audit_archives")).scalar() == 3
    report = verify(legal_db, tenant_a)
    assert report.ok and report.archived_batches == 1
    with pytest.raises(AuditError, match="not finished"), legal_db.admin_engine.begin() as c:
        archive_month(c, f"{dt.datetime.now(dt.UTC):%Y-%m}", tmp_path)


def test_archive_refuses_a_month_holding_rows_under_legal_hold(legal_db, tenant_a, tmp_path):
    from legal_data.testing.factories import DocumentFactory

    with tenant_session(legal_db.app_sessions, tenant_a.id, user_id=ACTOR) as s, bind_session(s):
        held = DocumentFactory(legal_hold=True)
    seal(legal_db, tenant_a)
    old = "audit_logs_p202502"
    with tampering(legal_db) as conn:
        create_past_partition(conn, old, "2025-02-01 00:00+00", "2025-03-01 00:00+00")
        conn.execute(
            f"INSERT INTO {old} (tenant_id, occurred_at, table_name, row_id, action, actor_role)"
            " VALUES (%s, timestamptz '2025-02-10 09:00+00', 'documents', %s, 'UPDATE', 'system')",
            [tenant_a.id, held.id],
        )
    seal(legal_db, tenant_a)
    with pytest.raises(AuditError, match="legal hold"), legal_db.admin_engine.begin() as c:
        archive_month(c, "2025-02", tmp_path)
    with legal_db.admin_engine.connect() as c:
        assert c.execute(text("SELECT to_regclass(:p)"), {"p": old}).scalar() is not None


def test_the_owner_can_seal_and_verify_one_firm_at_a_time(legal_db, tenant_a, tenant_b):
    """Operators need not be superusers: the sealer sets each firm's context itself, so the
    owner (filtered by FORCE ROW LEVEL SECURITY) sees exactly that firm's rows."""
    write_parties(legal_db, tenant_a, 2)
    write_parties(legal_db, tenant_b, 1)
    with legal_db.admin_engine.begin() as c:
        c.execute(text("SET LOCAL ROLE legal_owner"))
        sealed = seal_tenant(c, tenant_a.id)
    with legal_db.admin_engine.connect() as c:
        expected = c.execute(
            text("SELECT count(*) FROM audit_logs WHERE tenant_id = :t"), {"t": tenant_a.id}
        ).scalar_one()
    assert sum(r.row_count for r in sealed) == expected > 0
    with legal_db.admin_engine.begin() as c:
        c.execute(text("SET LOCAL ROLE legal_owner"))
        report = verify_tenant(c, tenant_a.id)
    assert report.ok and report.rows_verified == expected and report.unsealed_rows == 0
