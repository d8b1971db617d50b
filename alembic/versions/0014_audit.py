"""Audit trail: the partitioned log, seals, archives, security events, capture triggers
on every business table, append-only guards and the DDL guard.

The SQL lives in ``legal_data.audit.sql`` next to the Python that generates the
per-table parts; this revision installs it. Creating event triggers needs a superuser
(or the cloud equivalent) once, like the ``legal_auth`` role in 0008.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from legal_data.audit.sql import (
    CAPTURE_FUNCTION,
    DDL_GUARD,
    DROP_DDL_GUARD,
    DROP_PARTITION_FUNCTION,
    GUARD_FUNCTION,
    PARTITION_FUNCTION,
    RECORD_ACCESS_FUNCTION,
    SECURITY_EVENT_FUNCTION,
    append_only_guards_sql,
    audit_triggers_sql,
    drop_audit_triggers_sql,
)
from legal_data.tenancy.policies import drop_tenant_isolation_sql, tenant_isolation_sql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Business tables audited from here on (tenant_counters is bookkeeping, not business).
AUDITED = (
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
    "document_categories",
    "documents",
    "document_versions",
    "templates",
    "tasks",
    "communications",
    "communication_participants",
    "communication_emails",
    "time_entries",
    "expenses",
    "invoices",
    "invoice_lines",
    "invoice_tax_summaries",
    "payments",
    "trust_accounts",
    "trust_ledger",
    "consultations",
    "consultation_parties",
    "conflict_checks",
)
CREATE_AUDIT_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'legal_audit') THEN
        CREATE ROLE legal_audit NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS;
    END IF;
END
$$;
"""
DROP_AUDIT_ROLE = """
REVOKE ALL ON SCHEMA public FROM legal_audit;
DO $$
BEGIN
    DROP ROLE IF EXISTS legal_audit;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'role legal_audit kept: objects in other databases depend on it';
END
$$;
"""
APPEND_ONLY = ("audit_logs", "audit_seals", "audit_archives", "security_events")


class _XID8(sa.types.UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "XID8"


def _xid8() -> sa.types.TypeEngine:
    return _XID8()


def upgrade() -> None:
    op.create_table(
        "audit_logs",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("app_uuid_v7()"), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("statement_timestamp()"),
            nullable=False,
        ),
        sa.Column("txid", _xid8(), server_default=sa.text("pg_current_xact_id()"), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("row_id", sa.UUID(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("old_values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("changed_values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("actor_role", sa.Text(), nullable=True),
        sa.Column("client_ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("hash_version", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "action IN ('INSERT', 'UPDATE', 'DELETE', 'READ')", name=op.f("ck_audit_logs_action")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", "occurred_at", name=op.f("pk_audit_logs")),
        postgresql_partition_by="RANGE (occurred_at)",
    )
    op.create_index(
        "ix_audit_logs_tenant_id_occurred_at", "audit_logs", ["tenant_id", "occurred_at"]
    )
    op.create_index("ix_audit_logs_tenant_id_txid_id", "audit_logs", ["tenant_id", "txid", "id"])
    op.create_index(
        "ix_audit_logs_tenant_id_table_name_row_id",
        "audit_logs",
        ["tenant_id", "table_name", "row_id"],
    )
    # Rows outside every monthly partition land here; it must stay empty (tested).
    op.execute("CREATE TABLE audit_logs_default PARTITION OF audit_logs DEFAULT")
    op.create_table(
        "audit_seals",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("batch_no", sa.BigInteger(), nullable=False),
        sa.Column("txid_from", _xid8(), nullable=False),
        sa.Column("txid_to", _xid8(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("occurred_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("occurred_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merkle_root", sa.LargeBinary(), nullable=False),
        sa.Column("prev_seal_hash", sa.LargeBinary(), nullable=True),
        sa.Column("seal_hash", sa.LargeBinary(), nullable=False),
        sa.Column("hash_version", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "sealed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("batch_no >= 1", name=op.f("ck_audit_seals_batch_no_positive")),
        sa.CheckConstraint(
            "octet_length(merkle_root) = 32", name=op.f("ck_audit_seals_merkle_root_sha256")
        ),
        sa.CheckConstraint("row_count >= 0", name=op.f("ck_audit_seals_row_count_not_negative")),
        sa.CheckConstraint(
            "octet_length(seal_hash) = 32", name=op.f("ck_audit_seals_seal_hash_sha256")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "batch_no", name=op.f("pk_audit_seals")),
    )
    op.create_table(
        "audit_archives",
        sa.Column("partition_name", sa.Text(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("archive_sha256", sa.Text(), nullable=False),
        sa.Column(
            "archived_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("partition_name", name=op.f("pk_audit_archives")),
    )
    op.create_table(
        "security_events",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("client_ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "severity IN ('info', 'notice', 'warning', 'critical')",
            name=op.f("ck_security_events_severity"),
        ),
        # An open set of event kinds (the library adds new ones), but always identifiers.
        sa.CheckConstraint(
            "kind ~ '^[a-z][a-z0-9_]{1,62}$'", name=op.f("ck_security_events_kind_format")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_security_events")),
    )
    op.create_index(
        "ix_security_events_tenant_id_occurred_at", "security_events", ["tenant_id", "occurred_at"]
    )

    op.execute(GUARD_FUNCTION)
    for table in APPEND_ONLY:
        op.execute(append_only_guards_sql(table))
    # The row guard is cloned to partitions; TRUNCATE guards are not, so each gets one.
    op.execute(
        """
        CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON audit_logs_default
            FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
        ALTER TABLE audit_logs_default ENABLE ALWAYS TRIGGER append_only_truncate;
        ALTER TABLE audit_logs_default ENABLE ALWAYS TRIGGER append_only_rows;
        """
    )

    # Firms read their own log, seals and security events; nobody writes them directly.
    for table in ("audit_logs", "audit_seals", "security_events"):
        op.execute(tenant_isolation_sql(table, app_privileges="SELECT"))
    op.execute(
        "ALTER TABLE audit_logs_default ENABLE ROW LEVEL SECURITY;"
        " ALTER TABLE audit_logs_default FORCE ROW LEVEL SECURITY;"
        " CREATE POLICY tenant_isolation ON audit_logs_default AS RESTRICTIVE FOR ALL"
        " USING (tenant_id = (SELECT app_current_tenant_id()))"
        " WITH CHECK (tenant_id = (SELECT app_current_tenant_id()));"
        " REVOKE ALL ON audit_logs_default FROM PUBLIC;"
    )
    op.execute("REVOKE ALL ON audit_archives FROM PUBLIC")

    op.execute(CAPTURE_FUNCTION)
    op.execute(PARTITION_FUNCTION)
    op.execute(DROP_PARTITION_FUNCTION)
    op.execute(RECORD_ACCESS_FUNCTION)
    op.execute(audit_triggers_sql("tenants", key="id"))
    for table in AUDITED:
        op.execute(audit_triggers_sql(table))
    op.execute("SELECT audit_ensure_partitions(3)")

    # As the admin: the writers of the trail belong to legal_audit (NOLOGIN, BYPASSRLS,
    # INSERT on audit_logs only), so capture takes each row's firm from the row itself and
    # never depends on the session's tenant setting; the definer function for security
    # events belongs to legal_auth; event triggers need a superuser.
    op.execute("RESET ROLE")
    op.execute(CREATE_AUDIT_ROLE)
    op.execute(
        "GRANT USAGE ON SCHEMA public TO legal_audit;"
        " GRANT INSERT ON audit_logs TO legal_audit;"
        " ALTER FUNCTION audit_capture() OWNER TO legal_audit;"
        " ALTER FUNCTION audit_record_access(text, uuid, jsonb) OWNER TO legal_audit;"
    )
    op.execute(SECURITY_EVENT_FUNCTION)
    # RETURNING id needs SELECT on that column.
    op.execute("GRANT INSERT, SELECT (id) ON security_events TO legal_auth")
    op.execute(
        "ALTER FUNCTION security_event_record(uuid, text, text, jsonb) OWNER TO legal_auth;"
        " REVOKE ALL ON FUNCTION security_event_record(uuid, text, text, jsonb) FROM PUBLIC;"
        " GRANT EXECUTE ON FUNCTION security_event_record(uuid, text, text, jsonb)"
        " TO legal_app;"
    )
    op.execute(DDL_GUARD)
    op.execute("SET ROLE legal_owner")


def downgrade() -> None:
    # As the admin throughout: some functions belong to legal_audit and legal_auth.
    op.execute("RESET ROLE")
    op.execute(DROP_DDL_GUARD)
    op.execute("DROP FUNCTION IF EXISTS security_event_record(uuid, text, text, jsonb)")
    op.execute("REVOKE ALL ON security_events FROM legal_auth")
    for table in reversed(AUDITED):
        op.execute(drop_audit_triggers_sql(table))
    op.execute(drop_audit_triggers_sql("tenants"))
    for name in (
        "audit_record_access(text, uuid, jsonb)",
        "audit_drop_partition(text, text)",
        "audit_ensure_partitions(integer)",
        "audit_capture()",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {name}")
    for table in ("audit_logs", "audit_seals", "security_events"):
        op.execute(drop_tenant_isolation_sql(table))
    op.drop_index("ix_security_events_tenant_id_occurred_at", table_name="security_events")
    op.drop_table("security_events")
    op.drop_table("audit_archives")
    op.drop_table("audit_seals")
    op.drop_index("ix_audit_logs_tenant_id_table_name_row_id", table_name="audit_logs")
    op.drop_index("ix_audit_logs_tenant_id_txid_id", table_name="audit_logs")
    op.drop_index("ix_audit_logs_tenant_id_occurred_at", table_name="audit_logs")
    op.drop_table("audit_logs")  # partitions go with it
    op.execute("DROP FUNCTION IF EXISTS audit_refuse_change()")
    op.execute(DROP_AUDIT_ROLE)
    op.execute("SET ROLE legal_owner")
