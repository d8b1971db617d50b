"""Conflict checks (利益相反チェック): name keys of every party, kept by the database.

``party_name_keys`` (name key, reading key, former-name keys, 法人番号 of each party) and
``party_name_grams`` (bigrams of name keys, for the fuzzy search), the SQL key functions
(twins of ``legal_data.search.names``), statement-level triggers on ``parties`` that keep
the keys in step with every write (``SECURITY DEFINER``, owner ``legal_search``: the
application role only reads the keys), the screened-matter lookup for users behind an
ethical wall, and the keys of the parties that exist already. The key tables are derived
data and, like the search index, not audited themselves (``parties`` is).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from legal_data.conflicts.sql import (
    BACKFILL_SQL,
    DEFINER_FUNCTIONS,
    DROP_FUNCTIONS_SQL,
    DROP_MAINTENANCE_SQL,
    DROP_SCREENED_SQL,
    FUNCTIONS_SQL,
    MAINTENANCE_SQL,
    REVOKE_SEARCH_ROLE_GRANTS_SQL,
    SCREENED_SQL,
    SEARCH_ROLE,
    SEARCH_ROLE_GRANTS_SQL,
)
from legal_data.tenancy.policies import drop_tenant_isolation_sql, tenant_isolation_sql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("party_name_keys", "party_name_grams")


def upgrade() -> None:
    op.create_table(
        "party_name_keys",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("party_id", sa.UUID(), nullable=False),
        sa.Column("key_kind", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("gram_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "key_kind IN ('name', 'kana', 'former', 'corporate_number')",
            name=op.f("ck_party_name_keys_key_kind"),
        ),
        sa.CheckConstraint("key <> ''", name=op.f("ck_party_name_keys_key_not_empty")),
        sa.CheckConstraint(
            "gram_count >= 0", name=op.f("ck_party_name_keys_gram_count_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "party_id"],
            ["parties.tenant_id", "parties.id"],
            name=op.f("fk_party_name_keys_tenant_id_party_id_parties"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_party_name_keys_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_party_name_keys")),
    )
    op.create_index("ix_party_name_keys_tenant_id_key", "party_name_keys", ["tenant_id", "key"])
    op.create_index(
        "ix_party_name_keys_tenant_id_party_id", "party_name_keys", ["tenant_id", "party_id"]
    )
    op.create_table(
        "party_name_grams",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("key_id", sa.UUID(), nullable=False),
        sa.Column("gram", sa.Text(), nullable=False),
        sa.Column("gram_count", sa.Integer(), nullable=False),
        sa.CheckConstraint("gram_count > 0", name=op.f("ck_party_name_grams_gram_count_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "key_id"],
            ["party_name_keys.tenant_id", "party_name_keys.id"],
            name=op.f("fk_party_name_grams_tenant_id_key_id_party_name_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_party_name_grams_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_party_name_grams")),
    )
    op.create_index(
        "ix_party_name_grams_tenant_id_gram_key_id_gram_count",
        "party_name_grams",
        ["tenant_id", "gram", "key_id", "gram_count"],
    )
    op.create_index(
        "ix_party_name_grams_tenant_id_key_id", "party_name_grams", ["tenant_id", "key_id"]
    )
    # The application reads keys and never writes them (the triggers below do).
    for table in TABLES:
        op.execute(tenant_isolation_sql(table, app_privileges="SELECT"))
    op.execute(FUNCTIONS_SQL)

    # As the admin: functions owned by legal_search, and the keys of existing parties.
    # The key tables carry no audit triggers: they are derived from parties, whose every
    # change is audited (posture.AUDIT_EXEMPT), and would multiply the audit rows of a
    # party write by six.
    op.execute("RESET ROLE")
    op.execute(SEARCH_ROLE_GRANTS_SQL)
    op.execute(MAINTENANCE_SQL)
    op.execute(SCREENED_SQL)
    for signature in DEFINER_FUNCTIONS:
        op.execute(f"ALTER FUNCTION {signature} OWNER TO {SEARCH_ROLE}")
    op.execute("GRANT EXECUTE ON FUNCTION conflict_screened_appearances(uuid[]) TO legal_app")
    op.execute(BACKFILL_SQL)
    op.execute("SET ROLE legal_owner")


def downgrade() -> None:
    op.execute("RESET ROLE")
    op.execute(DROP_MAINTENANCE_SQL)
    op.execute(DROP_SCREENED_SQL)
    op.execute(REVOKE_SEARCH_ROLE_GRANTS_SQL)
    op.execute("SET ROLE legal_owner")
    for table in reversed(TABLES):
        op.execute(drop_tenant_isolation_sql(table))
        op.drop_table(table)
    op.execute(DROP_FUNCTIONS_SQL)
