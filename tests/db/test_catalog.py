"""Catalog tests at head: the schema conventions every table must follow.

They read PostgreSQL's catalog of the migrated database, so they cover tables added
by any later revision without per-table code.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from legal_data.tenancy.posture import GLOBAL_TABLES, check_posture


def rows(conn, sql: str, **params):
    return [tuple(r) for r in conn.execute(text(sql), params).all()]


@pytest.fixture(scope="module")
def conn(legal_data_harness):
    with legal_data_harness.admin_engine.connect() as c:
        yield c


@pytest.fixture(scope="module")
def tenant_tables(conn) -> list[str]:
    return [
        r[0]
        for r in rows(
            conn,
            """
            SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
              AND NOT c.relispartition AND a.attname = 'tenant_id' AND NOT a.attisdropped
            ORDER BY 1
            """,
        )
    ]


def _columns(conn, conrelid_table: str, attnums) -> list[str]:
    return [
        r[0]
        for r in rows(
            conn,
            """
            SELECT a.attname FROM unnest(CAST(:nums AS int2[])) WITH ORDINALITY AS k(num, ord)
            JOIN pg_attribute a ON a.attrelid = CAST(:t AS regclass) AND a.attnum = k.num
            ORDER BY k.ord
            """,
            nums=list(attnums),
            t=conrelid_table,
        )
    ]


def test_the_core_tables_exist(tenant_tables):
    expected = {
        "users",
        "user_sessions",
        "access_tokens",
        "parties",
        "party_relations",
        "clients",
        "cases",
        "case_statuses",
        "case_assignments",
        "case_parties",
        "court_cases",
        "tenant_counters",
    }
    assert expected <= set(tenant_tables)


#: The audit trail's own keys: a partitioned table's key must include the partition
#: column, and seals are numbered per firm.
AUDIT_KEYS = {
    "audit_logs": ["tenant_id", "id", "occurred_at"],
    "audit_seals": ["tenant_id", "batch_no"],
}
#: Append-only records outlive what they describe: no foreign key to tenants, so that
#: removing a firm can never cascade into (or be blocked by) its audit trail.
OUTLIVE_TENANTS = {"audit_logs", "audit_seals", "security_events"}


def test_tenant_tables_have_composite_primary_key(conn, tenant_tables):
    for table in tenant_tables:
        (conkey,) = rows(
            conn,
            "SELECT conkey FROM pg_constraint WHERE conrelid = CAST(:t AS regclass)"
            " AND contype = 'p'",
            t=table,
        )[0]
        assert _columns(conn, table, conkey) == AUDIT_KEYS.get(table, ["tenant_id", "id"]), table


def test_tenant_id_is_not_null_uuid_and_references_tenants(conn, tenant_tables):
    for table in tenant_tables:
        (notnull, typ) = rows(
            conn,
            "SELECT attnotnull, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = CAST(:t AS regclass) AND attname = 'tenant_id'",
            t=table,
        )[0]
        assert notnull and typ == "uuid", table
        if table in OUTLIVE_TENANTS:
            continue
        refs = rows(
            conn,
            "SELECT 1 FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype = 'f'"
            " AND confrelid = 'tenants'::regclass",
            t=table,
        )
        assert refs, f"{table}.tenant_id does not reference tenants"


def test_foreign_keys_between_tenant_tables_are_composite(conn, tenant_tables):
    fks = rows(
        conn,
        """
        SELECT conname, conrelid::regclass::text, confrelid::regclass::text, conkey, confkey
        FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace
        """,
    )
    checked = 0
    for name, child, parent, conkey, confkey in fks:
        if child not in tenant_tables or parent not in tenant_tables:
            continue
        checked += 1
        child_cols = _columns(conn, child, conkey)
        parent_cols = _columns(conn, parent, confkey)
        pairs = dict(zip(child_cols, parent_cols, strict=True))
        assert pairs.get("tenant_id") == "tenant_id", f"{name}: {child_cols} -> {parent_cols}"
    assert checked >= 10  # the schema really has tenant-to-tenant references


def test_every_unique_on_a_tenant_table_includes_tenant_id(conn, tenant_tables):
    uniques = rows(
        conn,
        """
        SELECT i.indexrelid::regclass::text, t.relname, i.indkey::int2[]
        FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
        WHERE i.indisunique AND t.relnamespace = 'public'::regnamespace
        """,
    )
    for index, table, indkey in uniques:
        if table in tenant_tables:
            assert "tenant_id" in _columns(conn, table, indkey), index


def test_no_enum_types(conn):
    assert rows(conn, "SELECT typname FROM pg_type WHERE typtype = 'e'") == []


def test_timestamps_have_time_zone_and_money_is_never_float(conn):
    bad = rows(
        conn,
        """
        SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_schema = 'public'
          AND data_type IN ('timestamp without time zone', 'real', 'double precision', 'money')
        """,
    )
    assert bad == []


def test_no_invalid_indexes(conn):
    assert rows(conn, "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid") == []


def test_every_foreign_key_is_backed_by_an_index(conn):
    missing = rows(
        conn,
        """
        SELECT c.conname FROM pg_constraint c
        WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
          AND NOT EXISTS (
              SELECT 1 FROM pg_index i
              WHERE i.indrelid = c.conrelid
                AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
                AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey
          )
          -- single-column references to global reference data and tenants are looked up
          -- by primary key on the parent side and never deleted by the application
          AND c.confrelid::regclass::text NOT IN ('tenants', 'courts', 'case_type_codes')
        """,
    )
    assert missing == []


def test_status_like_columns_use_check_constraints(conn):
    """Every ``status``/``kind``/``role`` text column is constrained by a CHECK."""
    unconstrained = rows(
        conn,
        """
        SELECT c.table_name, c.column_name FROM information_schema.columns c
        WHERE c.table_schema = 'public' AND c.data_type = 'text'
          AND c.column_name IN ('status', 'kind', 'role', 'practice_area')
          AND NOT EXISTS (
              SELECT 1 FROM pg_constraint k
              WHERE k.conrelid = CAST(c.table_name AS regclass) AND k.contype = 'c'
                AND pg_get_constraintdef(k.oid) LIKE '%' || c.column_name || '%'
          )
        """,
    )
    assert unconstrained == []


def test_security_posture_is_clean_at_head(conn):
    assert check_posture(conn) == []


def test_posture_names_a_table_whose_rls_is_not_forced(legal_data_harness):
    with legal_data_harness.admin_engine.connect() as c, c.begin() as tx:
        c.execute(text("ALTER TABLE cases NO FORCE ROW LEVEL SECURITY"))
        c.execute(text("DROP POLICY tenant_isolation ON parties"))
        c.execute(text("CREATE TABLE stray_table (x int)"))
        findings = {(f.rule, f.object) for f in check_posture(c)}
        tx.rollback()
    assert ("rls-forced", "cases") in findings
    assert ("tenant-policy", "parties") in findings
    assert ("global-allowlist", "stray_table") in findings


def test_posture_flags_grants_definer_functions_and_views(legal_data_harness):
    with legal_data_harness.admin_engine.connect() as c, c.begin() as tx:
        c.execute(text("GRANT TRUNCATE ON cases TO legal_app"))
        c.execute(text("CREATE VIEW open_cases AS SELECT id FROM cases"))
        c.execute(
            text("CREATE FUNCTION leak() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'")
        )
        findings = {(f.rule, f.object) for f in check_posture(c)}
        tx.rollback()
    assert ("grants", "cases") in findings
    assert ("view-invoker", "open_cases") in findings
    assert ("definer-search-path", "leak") in findings
    assert ("definer-allowlist", "leak") in findings
    assert ("definer-execute", "leak") in findings


def test_global_tables_are_exactly_the_allow_list(conn, tenant_tables):
    all_tables = {
        r[0]
        for r in rows(
            conn,
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relkind IN ('r', 'p') AND NOT relispartition",
        )
    }
    assert all_tables - set(tenant_tables) - {"tenants"} <= GLOBAL_TABLES


def test_app_role_cannot_create_or_truncate(legal_data_harness, tenant_a):
    from legal_data.errors import PermissionDenied
    from legal_data.tenancy import tenant_scope

    for statement in ("CREATE TABLE sneaky (x int)", "TRUNCATE cases", "TRUNCATE tenants CASCADE"):
        with (
            tenant_scope(tenant_a.id),
            pytest.raises(PermissionDenied),
            legal_data_harness.app_sessions() as s,
            s.begin(),
        ):
            s.execute(text(statement))
