"""Parties (people and companies), relations between them, clients.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_kana", sa.Text(), nullable=True),
        sa.Column("corporate_number", sa.Text(), nullable=True),
        sa.Column(
            "former_names",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
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
        sa.CheckConstraint("btrim(name) <> ''", name=op.f("ck_parties_name_not_blank")),
        sa.CheckConstraint(
            # 法人番号 check digit: 9 - (sum of digits weighted 1,2,1,2... from the right) mod 9
            sa.text(
                "corporate_number IS NULL OR ((CASE WHEN corporate_number IS NULL THEN NULL WHEN "
                "length(corporate_number) = 13 AND corporate_number ~ '^[0-9]+$' THEN "
                "substr(corporate_number, 1, 1)::int = 9 - mod(2 * substr(corporate_number, 2, "
                "1)::int + 1 * substr(corporate_number, 3, 1)::int + 2 * substr(corporate_number, "
                "4, 1)::int + 1 * substr(corporate_number, 5, 1)::int + 2 * "
                "substr(corporate_number, 6, 1)::int + 1 * substr(corporate_number, 7, 1)::int + "
                "2 * substr(corporate_number, 8, 1)::int + 1 * substr(corporate_number, 9, "
                "1)::int + 2 * substr(corporate_number, 10, 1)::int + 1 * "
                "substr(corporate_number, 11, 1)::int + 2 * substr(corporate_number, 12, 1)::int "
                "+ 1 * substr(corporate_number, 13, 1)::int, 9) ELSE false END))"
            ),
            name=op.f("ck_parties_corporate_number_valid"),
        ),
        sa.CheckConstraint(
            "corporate_number IS NULL OR kind = 'company'",
            name=op.f("ck_parties_corporate_number_company_only"),
        ),
        sa.CheckConstraint("kind IN ('person', 'company')", name=op.f("ck_parties_kind")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_parties_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_parties")),
    )
    op.create_index("ix_parties_tenant_id_name", "parties", ["tenant_id", "name"], unique=False)
    op.create_index(
        "uq_parties_tenant_id_corporate_number",
        "parties",
        ["tenant_id", "corporate_number"],
        unique=True,
        postgresql_where=sa.text("corporate_number IS NOT NULL"),
    )
    op.create_table(
        "clients",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("party_id", sa.UUID(), nullable=False),
        sa.Column("client_code", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
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
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('prospective', 'active', 'inactive')", name=op.f("ck_clients_status")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "party_id"],
            ["parties.tenant_id", "parties.id"],
            name=op.f("fk_clients_tenant_id_party_id_parties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_clients_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_clients")),
    )
    op.create_index(
        "uq_clients_tenant_id_client_code",
        "clients",
        ["tenant_id", "client_code"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "uq_clients_tenant_id_party_id",
        "clients",
        ["tenant_id", "party_id"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "party_relations",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("from_party_id", sa.UUID(), nullable=False),
        sa.Column("to_party_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
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
            "kind IN ('representative', 'officer', 'employee', 'parent_company', 'subsidiary', 'spouse', 'relative', 'agent', 'other')",
            name=op.f("ck_party_relations_kind"),
        ),
        sa.CheckConstraint(
            "from_party_id <> to_party_id", name=op.f("ck_party_relations_not_self")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "from_party_id"],
            ["parties.tenant_id", "parties.id"],
            name=op.f("fk_party_relations_tenant_id_from_party_id_parties"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "to_party_id"],
            ["parties.tenant_id", "parties.id"],
            name=op.f("fk_party_relations_tenant_id_to_party_id_parties"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_party_relations_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_party_relations")),
    )
    op.create_index(
        "ix_party_relations_tenant_id_to_party_id",
        "party_relations",
        ["tenant_id", "to_party_id"],
        unique=False,
    )
    op.create_index(
        "uq_party_relations_tenant_id_from_party_id_to_party_id_kind",
        "party_relations",
        ["tenant_id", "from_party_id", "to_party_id", "kind"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index(
        "uq_party_relations_tenant_id_from_party_id_to_party_id_kind", table_name="party_relations"
    )
    op.drop_index("ix_party_relations_tenant_id_to_party_id", table_name="party_relations")
    op.drop_table("party_relations")
    op.drop_index(
        "uq_clients_tenant_id_party_id",
        table_name="clients",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index(
        "uq_clients_tenant_id_client_code",
        table_name="clients",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_table("clients")
    op.drop_index(
        "uq_parties_tenant_id_corporate_number",
        table_name="parties",
        postgresql_where=sa.text("corporate_number IS NOT NULL"),
    )
    op.drop_index("ix_parties_tenant_id_name", table_name="parties")
    op.drop_table("parties")
