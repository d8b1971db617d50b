"""Field encryption: the firms' wrapped data keys, encrypted columns and blind indexes.

- ``tenant_keys``: per-firm data keys, stored wrapped by the master key; isolated by
  Row Level Security. The application may read its firm's keys and create its first
  ones; state changes and destruction are operator work (admin URL). A trigger keeps
  the lifecycle honest for everyone: identity columns never change, ``destroyed`` is
  final, only the documented transitions happen, and a live key is never deleted.
  Not audited (it is not business data); key operations are security events.
- Encrypted columns are ``bytea`` holding a version-1 envelope; a CHECK refuses
  anything else (a plain string written by raw SQL included). New: parties.my_number,
  address, phone, email, date_of_birth (+ blind indexes for my_number, phone, email),
  clients.bank_account, cases.notes. Converted: communications.body,
  user_sessions.client_ip and user_agent, dropped and re-added as ``bytea``: there is
  no production data yet, and plaintext cannot be encrypted by SQL (keys live outside).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from legal_data.tenancy.policies import drop_tenant_isolation_sql, tenant_isolation_sql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MIN_ENVELOPE = 46  # version 1: 18-byte header + 12-byte nonce + 16-byte tag
BLIND_INDEX = 33  # normalizer version byte + HMAC-SHA256

#: (table, column, blind-indexed) of every encrypted column this revision creates.
ENCRYPTED = (
    ("parties", "my_number", True),
    ("parties", "address", False),
    ("parties", "phone", True),
    ("parties", "email", True),
    ("parties", "date_of_birth", False),
    ("clients", "bank_account", False),
    ("cases", "notes", False),
    ("communications", "body", False),
    ("user_sessions", "client_ip", False),
    ("user_sessions", "user_agent", False),
)
#: Plaintext columns replaced by encrypted ones (table, column, old type).
REPLACED = (
    ("communications", "body", sa.Text()),
    ("user_sessions", "client_ip", postgresql.INET()),
    ("user_sessions", "user_agent", sa.Text()),
)

LIFECYCLE = """
CREATE FUNCTION tenant_keys_lifecycle() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'destroyed' THEN
            RAISE EXCEPTION 'a live data key is never deleted: destroy it first'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_tenant_keys_lifecycle', TABLE = 'tenant_keys';
        END IF;
        RETURN OLD;
    END IF;
    IF (NEW.tenant_id, NEW.id, NEW.purpose, NEW.version, NEW.created_at)
           IS DISTINCT FROM (OLD.tenant_id, OLD.id, OLD.purpose, OLD.version, OLD.created_at)
       OR (OLD.state = 'destroyed' AND NEW IS DISTINCT FROM OLD)
       OR (NEW.state <> OLD.state AND NEW.state <> 'destroyed'
           AND (OLD.state, NEW.state) NOT IN (('active', 'decrypt_only'),
                                              ('decrypt_only', 'active'),
                                              ('decrypt_only', 'retired'),
                                              ('retired', 'decrypt_only'))) THEN
        RAISE EXCEPTION 'data key lifecycle: a key''s firm, id, purpose and version never '
                        'change, destroyed is final, and the state moves active -> '
                        'decrypt_only <-> retired (or back to active), or to destroyed'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_tenant_keys_lifecycle', TABLE = 'tenant_keys';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tenant_keys_lifecycle BEFORE UPDATE OR DELETE ON tenant_keys
    FOR EACH ROW EXECUTE FUNCTION tenant_keys_lifecycle();
"""

DROP_LIFECYCLE = """
DROP TRIGGER IF EXISTS tenant_keys_lifecycle ON tenant_keys;
DROP FUNCTION IF EXISTS tenant_keys_lifecycle();
"""


def _envelope_check(column: str) -> str:
    return (
        f"{column} IS NULL OR (octet_length({column}) >= {MIN_ENVELOPE}"
        f" AND get_byte({column}, 0) = 1 AND get_byte({column}, 1) = 1)"
    )


def _blind_index_check(column: str) -> str:
    index = f"{column}_bidx"
    return (
        f"({column} IS NULL) = ({index} IS NULL)"
        f" AND ({index} IS NULL OR octet_length({index}) = {BLIND_INDEX})"
    )


def upgrade() -> None:
    op.create_table(
        "tenant_keys",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("master_key_id", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "state_changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "purpose IN ('encryption', 'blind_index')", name=op.f("ck_tenant_keys_purpose")
        ),
        sa.CheckConstraint(
            "state IN ('active', 'decrypt_only', 'retired', 'destroyed')",
            name=op.f("ck_tenant_keys_state"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_tenant_keys_version_positive")),
        sa.CheckConstraint(
            "(state = 'destroyed') = (wrapped IS NULL)",
            name=op.f("ck_tenant_keys_destroyed_iff_erased"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_keys_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_tenant_keys")),
    )
    op.create_index(
        "uq_tenant_keys_tenant_id_purpose_version",
        "tenant_keys",
        ["tenant_id", "purpose", "version"],
        unique=True,
    )
    op.create_index(
        "uq_tenant_keys_tenant_id_purpose_active",
        "tenant_keys",
        ["tenant_id", "purpose"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
    )
    op.execute(tenant_isolation_sql("tenant_keys", app_privileges="SELECT, INSERT"))
    # Reporting has no use for key material, wrapped or not.
    op.execute("REVOKE ALL ON tenant_keys FROM legal_readonly")
    op.execute(LIFECYCLE)

    for table, column, _old in REPLACED:
        op.drop_column(table, column)
    for table, column, indexed in ENCRYPTED:
        op.add_column(table, sa.Column(column, sa.LargeBinary(), nullable=True))
        if indexed:
            op.add_column(table, sa.Column(f"{column}_bidx", sa.LargeBinary(), nullable=True))
        op.create_check_constraint(
            op.f(f"ck_{table}_{column}_envelope"), table, _envelope_check(column)
        )
        if indexed:
            op.create_check_constraint(
                op.f(f"ck_{table}_{column}_blind_index"), table, _blind_index_check(column)
            )
            op.create_index(
                f"ix_{table}_tenant_id_{column}_bidx", table, ["tenant_id", f"{column}_bidx"]
            )
    op.create_check_constraint(
        op.f("ck_parties_my_number_person_only"), "parties", "my_number IS NULL OR kind = 'person'"
    )
    # Random bytes do not compress: skip PostgreSQL's attempt for the long ones.
    for table, column in (("communications", "body"), ("cases", "notes"), ("parties", "address")):
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_parties_my_number_person_only"), "parties", type_="check")
    for table, column, indexed in reversed(ENCRYPTED):
        if indexed:
            op.drop_index(f"ix_{table}_tenant_id_{column}_bidx", table_name=table)
            op.drop_column(table, f"{column}_bidx")
        op.drop_column(table, column)
    for table, column, old in REPLACED:
        op.add_column(table, sa.Column(column, old, nullable=True))
    op.execute(DROP_LIFECYCLE)
    op.execute(drop_tenant_isolation_sql("tenant_keys"))
    op.drop_index("uq_tenant_keys_tenant_id_purpose_active", table_name="tenant_keys")
    op.drop_index("uq_tenant_keys_tenant_id_purpose_version", table_name="tenant_keys")
    op.drop_table("tenant_keys")
