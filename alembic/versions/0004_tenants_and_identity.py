"""Firms, per-firm counters, users, login sessions and access tokens.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_kana", sa.Text(), nullable=True),
        sa.Column("firm_form", sa.Text(), server_default=sa.text("'individual'"), nullable=False),
        sa.Column("qualified_invoice_number", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "firm_form IN ('individual', 'partnership', 'professional_corporation')",
            name=op.f("ck_tenants_firm_form"),
        ),
        sa.CheckConstraint(
            "qualified_invoice_number IS NULL OR qualified_invoice_number ~ '^T[0-9]{13}$'",
            name=op.f("ck_tenants_qualified_invoice_number_format"),
        ),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'", name=op.f("ck_tenants_slug_format")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'closed')", name=op.f("ck_tenants_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
    )
    op.create_index("uq_tenants_slug", "tenants", ["slug"], unique=True)
    op.create_table(
        "tenant_counters",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("value >= 0", name=op.f("ck_tenant_counters_value_not_negative")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_counters_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_tenant_counters")),
    )
    op.create_index(
        "uq_tenant_counters_tenant_id_name", "tenant_counters", ["tenant_id", "name"], unique=True
    )
    op.create_table(
        "users",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("name_kana", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("bar_registration_number", sa.Text(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.Column(
            "updated_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.CheckConstraint(
            "bar_registration_number IS NULL OR bar_registration_number ~ '^[0-9]{4,6}$'",
            name=op.f("ck_users_bar_registration_number_format"),
        ),
        sa.CheckConstraint(
            "email = lower(email) AND email LIKE '%%_@_%%'", name=op.f("ck_users_email_normalized")
        ),
        sa.CheckConstraint(
            "kind IN ('lawyer', 'foreign_lawyer', 'paralegal', 'staff', 'accounting', 'admin')",
            name=op.f("ck_users_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_users_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_users")),
    )
    op.create_index(
        "uq_users_tenant_id_bar_registration_number",
        "users",
        ["tenant_id", "bar_registration_number"],
        unique=True,
        postgresql_where=sa.text("bar_registration_number IS NOT NULL"),
    )
    op.create_index("uq_users_tenant_id_email", "users", ["tenant_id", "email"], unique=True)
    op.create_table(
        "access_tokens",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "cardinality(scopes) > 0", name=op.f("ck_access_tokens_scopes_not_empty")
        ),
        sa.CheckConstraint(
            "expires_at > created_at", name=op.f("ck_access_tokens_expires_after_created")
        ),
        sa.CheckConstraint(
            "octet_length(token_hash) = 32", name=op.f("ck_access_tokens_token_hash_sha256")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_access_tokens_tenant_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_access_tokens_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_access_tokens")),
    )
    op.create_index(
        "ix_access_tokens_tenant_id_user_id",
        "access_tokens",
        ["tenant_id", "user_id"],
        unique=False,
    )
    op.create_index("ix_access_tokens_token_hash", "access_tokens", ["token_hash"], unique=False)
    op.create_index(
        "uq_access_tokens_tenant_id_token_hash",
        "access_tokens",
        ["tenant_id", "token_hash"],
        unique=True,
    )
    op.create_table(
        "user_sessions",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("client_ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "expires_at > created_at", name=op.f("ck_user_sessions_expires_after_created")
        ),
        sa.CheckConstraint(
            "octet_length(token_hash) = 32", name=op.f("ck_user_sessions_token_hash_sha256")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_user_sessions_tenant_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_user_sessions_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_user_sessions")),
    )
    op.create_index(
        "ix_user_sessions_tenant_id_user_id",
        "user_sessions",
        ["tenant_id", "user_id"],
        unique=False,
    )
    op.create_index("ix_user_sessions_token_hash", "user_sessions", ["token_hash"], unique=False)
    op.create_index(
        "uq_user_sessions_tenant_id_token_hash",
        "user_sessions",
        ["tenant_id", "token_hash"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_user_sessions_tenant_id_token_hash", table_name="user_sessions")
    op.drop_index("ix_user_sessions_token_hash", table_name="user_sessions")
    op.drop_index("ix_user_sessions_tenant_id_user_id", table_name="user_sessions")
    op.drop_table("user_sessions")
    op.drop_index("uq_access_tokens_tenant_id_token_hash", table_name="access_tokens")
    op.drop_index("ix_access_tokens_token_hash", table_name="access_tokens")
    op.drop_index("ix_access_tokens_tenant_id_user_id", table_name="access_tokens")
    op.drop_table("access_tokens")
    op.drop_index("uq_users_tenant_id_email", table_name="users")
    op.drop_index(
        "uq_users_tenant_id_bar_registration_number",
        table_name="users",
        postgresql_where=sa.text("bar_registration_number IS NOT NULL"),
    )
    op.drop_table("users")
    op.drop_index("uq_tenant_counters_tenant_id_name", table_name="tenant_counters")
    op.drop_table("tenant_counters")
    op.drop_index("uq_tenants_slug", table_name="tenants")
    op.drop_table("tenants")
