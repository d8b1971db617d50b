"""Cases (案件), status history, assignments, case parties and court case numbers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TRIGGERS = """
-- Per-firm case numbers: a counter row per firm, incremented under its row lock.
-- A number given explicitly (an import) is kept and moves the counter past it.
CREATE FUNCTION cases_assign_display_number() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.display_number IS NULL THEN
        INSERT INTO tenant_counters AS c (tenant_id, id, name, value)
        VALUES (NEW.tenant_id, app_uuid_v7(), 'case_display_number', 1)
        ON CONFLICT (tenant_id, name) DO UPDATE SET value = c.value + 1
        RETURNING c.value INTO NEW.display_number;
    ELSE
        INSERT INTO tenant_counters AS c (tenant_id, id, name, value)
        VALUES (NEW.tenant_id, app_uuid_v7(), 'case_display_number', NEW.display_number)
        ON CONFLICT (tenant_id, name) DO UPDATE SET value = greatest(c.value, excluded.value);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER cases_assign_display_number BEFORE INSERT ON cases
    FOR EACH ROW EXECUTE FUNCTION cases_assign_display_number();

-- Status history: every status a case enters, with who (actor setting) and why (reason).
CREATE FUNCTION cases_record_status_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO case_statuses
            (tenant_id, id, case_id, from_status, to_status, changed_at, changed_by, reason)
        VALUES (
            NEW.tenant_id, app_uuid_v7(), NEW.id,
            CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status,
            now(), app_current_user_id(), NULLIF(current_setting('app.reason', true), '')
        );
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER cases_record_status_change AFTER INSERT OR UPDATE OF status ON cases
    FOR EACH ROW EXECUTE FUNCTION cases_record_status_change();

-- A party is never both client and opposing party of one case. The case row is locked
-- first so two concurrent writers cannot both pass the check.
CREATE FUNCTION case_parties_check_sides() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.role IN ('client', 'opposing_party') THEN
        PERFORM 1 FROM cases WHERE tenant_id = NEW.tenant_id AND id = NEW.case_id
            FOR NO KEY UPDATE;
        IF EXISTS (
            SELECT 1 FROM case_parties
            WHERE tenant_id = NEW.tenant_id AND case_id = NEW.case_id
              AND party_id = NEW.party_id AND id <> NEW.id
              AND role IN ('client', 'opposing_party') AND role <> NEW.role
        ) THEN
            RAISE EXCEPTION 'a party cannot be both client and opposing party of one case'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_case_parties_client_not_opposing',
                      TABLE = 'case_parties';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER case_parties_check_sides BEFORE INSERT OR UPDATE OF role, party_id, case_id
    ON case_parties FOR EACH ROW EXECUTE FUNCTION case_parties_check_sides();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS case_parties_check_sides ON case_parties;
DROP FUNCTION IF EXISTS case_parties_check_sides();
DROP TRIGGER IF EXISTS cases_record_status_change ON cases;
DROP FUNCTION IF EXISTS cases_record_status_change();
DROP TRIGGER IF EXISTS cases_assign_display_number ON cases;
DROP FUNCTION IF EXISTS cases_assign_display_number();
"""


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("display_number", sa.Integer(), server_default=sa.FetchedValue(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("practice_area", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'intake'"), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=False),
        sa.Column("opened_on", sa.Date(), server_default=sa.text("CURRENT_DATE"), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
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
            "(status IN ('closed', 'archived')) = (closed_on IS NOT NULL)",
            name=op.f("ck_cases_closed_on_iff_closed"),
        ),
        sa.CheckConstraint("btrim(title) <> ''", name=op.f("ck_cases_title_not_blank")),
        sa.CheckConstraint(
            "practice_area IN ('civil', 'family', 'criminal', 'corporate', 'labor', 'intellectual_property', 'bankruptcy', 'administrative', 'real_estate', 'tax', 'other')",
            name=op.f("ck_cases_practice_area"),
        ),
        sa.CheckConstraint(
            "status IN ('intake', 'open', 'pending', 'closed', 'archived')",
            name=op.f("ck_cases_status"),
        ),
        sa.CheckConstraint(
            "closed_on IS NULL OR closed_on >= opened_on", name=op.f("ck_cases_closed_after_opened")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "client_id"],
            ["clients.tenant_id", "clients.id"],
            name=op.f("fk_cases_tenant_id_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_cases_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_cases")),
    )
    op.create_index(
        "ix_cases_tenant_id_client_id", "cases", ["tenant_id", "client_id"], unique=False
    )
    op.create_index(
        "ix_cases_tenant_id_status_opened_on",
        "cases",
        ["tenant_id", "status", "opened_on", "id"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "uq_cases_tenant_id_display_number", "cases", ["tenant_id", "display_number"], unique=True
    )
    op.create_table(
        "case_assignments",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("assigned_on", sa.Date(), server_default=sa.text("CURRENT_DATE"), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
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
            "role IN ('responsible', 'originating', 'assistant')",
            name=op.f("ck_case_assignments_role"),
        ),
        sa.CheckConstraint(
            "ended_on IS NULL OR ended_on >= assigned_on",
            name=op.f("ck_case_assignments_ended_after_assigned"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_case_assignments_tenant_id_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_case_assignments_tenant_id_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_case_assignments_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_case_assignments")),
    )
    op.create_index(
        "ix_case_assignments_tenant_id_user_id",
        "case_assignments",
        ["tenant_id", "user_id"],
        unique=False,
    )
    op.create_index(
        "uq_case_assignments_tenant_id_case_id_user_id_role",
        "case_assignments",
        ["tenant_id", "case_id", "user_id", "role"],
        unique=True,
    )
    op.create_table(
        "case_parties",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("party_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
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
            "role IN ('client', 'opposing_party', 'opposing_counsel', 'related')",
            name=op.f("ck_case_parties_role"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_case_parties_tenant_id_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "party_id"],
            ["parties.tenant_id", "parties.id"],
            name=op.f("fk_case_parties_tenant_id_party_id_parties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_case_parties_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_case_parties")),
    )
    op.create_index(
        "ix_case_parties_tenant_id_party_id",
        "case_parties",
        ["tenant_id", "party_id"],
        unique=False,
    )
    op.create_index(
        "uq_case_parties_tenant_id_case_id_party_id_role",
        "case_parties",
        ["tenant_id", "case_id", "party_id", "role"],
        unique=True,
    )
    op.create_table(
        "case_statuses",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("from_status", sa.Text(), nullable=True),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("changed_by", sa.UUID(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
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
            "from_status IS NULL OR from_status IN ('intake', 'open', 'pending', 'closed', 'archived')",
            name=op.f("ck_case_statuses_from_status"),
        ),
        sa.CheckConstraint(
            "to_status IN ('intake', 'open', 'pending', 'closed', 'archived')",
            name=op.f("ck_case_statuses_to_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_case_statuses_tenant_id_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_case_statuses_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_case_statuses")),
    )
    op.create_index(
        "ix_case_statuses_tenant_id_case_id_changed_at",
        "case_statuses",
        ["tenant_id", "case_id", "changed_at"],
        unique=False,
    )
    op.create_table(
        "court_cases",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("court_code", sa.Text(), nullable=False),
        sa.Column("era", sa.Text(), nullable=False),
        sa.Column("era_year", sa.Integer(), nullable=False),
        sa.Column("type_code", sa.Text(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=True),
        sa.Column("judge_division", sa.Text(), nullable=True),
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
        sa.CheckConstraint("era IN ('令和', '平成', '昭和')", name=op.f("ck_court_cases_era")),
        sa.CheckConstraint("era_year >= 1", name=op.f("ck_court_cases_era_year_positive")),
        sa.CheckConstraint("number >= 1", name=op.f("ck_court_cases_number_positive")),
        sa.ForeignKeyConstraint(
            ["court_code"], ["courts.code"], name=op.f("fk_court_cases_court_code_courts")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_court_cases_tenant_id_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_court_cases_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["type_code"],
            ["case_type_codes.code"],
            name=op.f("fk_court_cases_type_code_case_type_codes"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_court_cases")),
    )
    op.create_index(
        "ix_court_cases_tenant_id_case_id", "court_cases", ["tenant_id", "case_id"], unique=False
    )
    op.create_index(
        "uq_court_cases_tenant_id_case_number",
        "court_cases",
        ["tenant_id", "court_code", "era", "era_year", "type_code", "number"],
        unique=True,
    )
    # ### end Alembic commands ###

    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute(DROP_TRIGGERS)
    op.drop_index("uq_court_cases_tenant_id_case_number", table_name="court_cases")
    op.drop_index("ix_court_cases_tenant_id_case_id", table_name="court_cases")
    op.drop_table("court_cases")
    op.drop_index("ix_case_statuses_tenant_id_case_id_changed_at", table_name="case_statuses")
    op.drop_table("case_statuses")
    op.drop_index("uq_case_parties_tenant_id_case_id_party_id_role", table_name="case_parties")
    op.drop_index("ix_case_parties_tenant_id_party_id", table_name="case_parties")
    op.drop_table("case_parties")
    op.drop_index(
        "uq_case_assignments_tenant_id_case_id_user_id_role", table_name="case_assignments"
    )
    op.drop_index("ix_case_assignments_tenant_id_user_id", table_name="case_assignments")
    op.drop_table("case_assignments")
    op.drop_index("uq_cases_tenant_id_display_number", table_name="cases")
    op.drop_index(
        "ix_cases_tenant_id_status_opened_on",
        table_name="cases",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index("ix_cases_tenant_id_client_id", table_name="cases")
    op.drop_table("cases")
