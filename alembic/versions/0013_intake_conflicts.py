"""Intake: consultations, their parties, conflict checks, and the conflict gate on cases.

A case leaves intake only after a clear or consented-to conflict check.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from legal_data.tenancy.policies import tenant_isolation_sql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("consultations", "consultation_parties", "conflict_checks")

TRIGGERS = """
-- The conflict gate (弁護士法25条, 職務基本規程27・28条). A case is created in intake and
-- leaves it only when its latest conflict check is clear (and was not declined), or
-- found a potential or actual conflict that was waived with the client's consent.
CREATE FUNCTION cases_require_conflict_clearance() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    latest record;
BEGIN
    IF NEW.status = 'intake' OR (TG_OP = 'UPDATE' AND OLD.status <> 'intake') THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT k.result, k.decision INTO latest FROM conflict_checks k
            WHERE k.tenant_id = NEW.tenant_id AND k.case_id = NEW.id
            ORDER BY k.checked_at DESC, k.id DESC LIMIT 1;
        IF FOUND AND ((latest.result = 'clear'
                       AND latest.decision IS DISTINCT FROM 'decline')
                      OR latest.decision = 'waived_with_consent') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'a case leaves intake only after a conflict check that is clear or whose '
                    'conflict was waived with consent'
        USING ERRCODE = 'check_violation',
              CONSTRAINT = 'ck_cases_conflict_check_cleared', TABLE = 'cases';
END
$$;
CREATE TRIGGER cases_require_conflict_clearance BEFORE INSERT OR UPDATE OF status ON cases
    FOR EACH ROW EXECUTE FUNCTION cases_require_conflict_clearance();

-- A conflict check is a record: what was searched, what was found and the result never
-- change, a decision once taken stays taken, and a check is deleted only together with
-- its case or consultation (otherwise deleting a newer check could revive an older one).
-- An AFTER trigger, so a broken reference is reported by its foreign key first.
CREATE FUNCTION conflict_checks_record_immutable() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM cases WHERE tenant_id = OLD.tenant_id AND id = OLD.case_id)
           OR EXISTS (SELECT 1 FROM consultations
                      WHERE tenant_id = OLD.tenant_id AND id = OLD.consultation_id) THEN
            RAISE EXCEPTION 'a conflict check cannot be deleted'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_conflict_checks_record_immutable',
                      TABLE = 'conflict_checks';
        END IF;
        RETURN OLD;
    END IF;
    IF to_jsonb(NEW) - '{decision,decided_by,decided_at,consent_obtained_on,decision_note,updated_at,updated_by}'::text[]
           IS DISTINCT FROM
       to_jsonb(OLD) - '{decision,decided_by,decided_at,consent_obtained_on,decision_note,updated_at,updated_by}'::text[]
       OR (OLD.decision IS NOT NULL
           AND (NEW.decision, NEW.decided_by, NEW.decided_at, NEW.consent_obtained_on)
               IS DISTINCT FROM
               (OLD.decision, OLD.decided_by, OLD.decided_at, OLD.consent_obtained_on)) THEN
        RAISE EXCEPTION 'a conflict check is a record: its search, hits and result cannot be '
                        'changed, and a decision once taken stays taken'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_conflict_checks_record_immutable', TABLE = 'conflict_checks';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER conflict_checks_record_immutable AFTER UPDATE OR DELETE ON conflict_checks
    FOR EACH ROW EXECUTE FUNCTION conflict_checks_record_immutable();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS conflict_checks_record_immutable ON conflict_checks;
DROP FUNCTION IF EXISTS conflict_checks_record_immutable();
DROP TRIGGER IF EXISTS cases_require_conflict_clearance ON cases;
DROP FUNCTION IF EXISTS cases_require_conflict_clearance();
"""


def upgrade() -> None:
    op.create_table(
        "consultations",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "consulted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("lawyer_id", sa.UUID(), nullable=True),
        sa.Column("client_id", sa.UUID(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=True),
        sa.Column("fee_yen", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
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
            "(status = 'became_case') = (case_id IS NOT NULL)",
            name=op.f("ck_consultations_case_iff_became_case"),
        ),
        sa.CheckConstraint("btrim(subject) <> ''", name=op.f("ck_consultations_subject_not_blank")),
        sa.CheckConstraint(
            "status IN ('open', 'declined', 'became_case', 'closed')",
            name=op.f("ck_consultations_status"),
        ),
        sa.CheckConstraint("fee_yen >= 0", name=op.f("ck_consultations_fee_not_negative")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_consultations_tenant_id_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "client_id"],
            ["clients.tenant_id", "clients.id"],
            name=op.f("fk_consultations_tenant_id_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "lawyer_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_consultations_tenant_id_lawyer_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_consultations_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_consultations")),
    )
    op.create_index(
        "ix_consultations_tenant_id_case_id",
        "consultations",
        ["tenant_id", "case_id"],
        unique=False,
    )
    op.create_index(
        "ix_consultations_tenant_id_client_id",
        "consultations",
        ["tenant_id", "client_id"],
        unique=False,
    )
    op.create_index(
        "ix_consultations_tenant_id_consulted_at",
        "consultations",
        ["tenant_id", "consulted_at"],
        unique=False,
    )
    op.create_index(
        "ix_consultations_tenant_id_lawyer_id",
        "consultations",
        ["tenant_id", "lawyer_id"],
        unique=False,
    )
    op.create_table(
        "consultation_parties",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("consultation_id", sa.UUID(), nullable=False),
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
            "role IN ('consulter', 'opposing_party', 'related')",
            name=op.f("ck_consultation_parties_role"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "consultation_id"],
            ["consultations.tenant_id", "consultations.id"],
            name=op.f("fk_consultation_parties_tenant_id_consultation_id_consultations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "party_id"],
            ["parties.tenant_id", "parties.id"],
            name=op.f("fk_consultation_parties_tenant_id_party_id_parties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_consultation_parties_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_consultation_parties")),
    )
    op.create_index(
        "ix_consultation_parties_tenant_id_party_id",
        "consultation_parties",
        ["tenant_id", "party_id"],
        unique=False,
    )
    op.create_index(
        "uq_consultation_parties_tenant_id_consultation_id_party_id_role",
        "consultation_parties",
        ["tenant_id", "consultation_id", "party_id", "role"],
        unique=True,
    )
    op.create_table(
        "conflict_checks",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=True),
        sa.Column("consultation_id", sa.UUID(), nullable=True),
        sa.Column("query_terms", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column(
            "hits",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("checked_by", sa.UUID(), nullable=True),
        sa.Column(
            "checked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.UUID(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_obtained_on", sa.Date(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
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
            "decision IS DISTINCT FROM 'waived_with_consent' OR (result IN ('potential', 'conflict') AND consent_obtained_on IS NOT NULL)",
            name=op.f("ck_conflict_checks_waiver_needs_consent"),
        ),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('accept', 'decline', 'waived_with_consent')",
            name=op.f("ck_conflict_checks_decision"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(hits) = 'array'", name=op.f("ck_conflict_checks_hits_array")
        ),
        sa.CheckConstraint(
            "result IN ('clear', 'potential', 'conflict')", name=op.f("ck_conflict_checks_result")
        ),
        sa.CheckConstraint(
            "(decision IS NULL) = (decided_at IS NULL) AND (decision IS NULL) = (decided_by IS NULL)",
            name=op.f("ck_conflict_checks_decision_complete"),
        ),
        sa.CheckConstraint(
            "cardinality(query_terms) > 0", name=op.f("ck_conflict_checks_query_not_empty")
        ),
        sa.CheckConstraint(
            "case_id IS NOT NULL OR consultation_id IS NOT NULL",
            name=op.f("ck_conflict_checks_has_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_conflict_checks_tenant_id_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "checked_by"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_conflict_checks_tenant_id_checked_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "consultation_id"],
            ["consultations.tenant_id", "consultations.id"],
            name=op.f("fk_conflict_checks_tenant_id_consultation_id_consultations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "decided_by"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_conflict_checks_tenant_id_decided_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_conflict_checks_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_conflict_checks")),
    )
    op.create_index(
        "ix_conflict_checks_tenant_id_case_id_checked_at",
        "conflict_checks",
        ["tenant_id", "case_id", "checked_at"],
        unique=False,
    )
    op.create_index(
        "ix_conflict_checks_tenant_id_checked_by",
        "conflict_checks",
        ["tenant_id", "checked_by"],
        unique=False,
    )
    op.create_index(
        "ix_conflict_checks_tenant_id_consultation_id",
        "conflict_checks",
        ["tenant_id", "consultation_id"],
        unique=False,
    )
    op.create_index(
        "ix_conflict_checks_tenant_id_decided_by",
        "conflict_checks",
        ["tenant_id", "decided_by"],
        unique=False,
    )
    # ### end Alembic commands ###

    for table in TENANT_TABLES:
        op.execute(tenant_isolation_sql(table))
    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute(DROP_TRIGGERS)
    op.drop_index("ix_conflict_checks_tenant_id_decided_by", table_name="conflict_checks")
    op.drop_index("ix_conflict_checks_tenant_id_consultation_id", table_name="conflict_checks")
    op.drop_index("ix_conflict_checks_tenant_id_checked_by", table_name="conflict_checks")
    op.drop_index("ix_conflict_checks_tenant_id_case_id_checked_at", table_name="conflict_checks")
    op.drop_table("conflict_checks")
    op.drop_index(
        "uq_consultation_parties_tenant_id_consultation_id_party_id_role",
        table_name="consultation_parties",
    )
    op.drop_index("ix_consultation_parties_tenant_id_party_id", table_name="consultation_parties")
    op.drop_table("consultation_parties")
    op.drop_index("ix_consultations_tenant_id_lawyer_id", table_name="consultations")
    op.drop_index("ix_consultations_tenant_id_consulted_at", table_name="consultations")
    op.drop_index("ix_consultations_tenant_id_client_id", table_name="consultations")
    op.drop_index("ix_consultations_tenant_id_case_id", table_name="consultations")
    op.drop_table("consultations")
