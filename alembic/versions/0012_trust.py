"""Client money (預り金): accounts and an append-only ledger with a running balance.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from legal_data.tenancy.policies import tenant_isolation_sql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("trust_accounts", "trust_ledger")

TRIGGERS = """
-- The running balance. Every entry belongs to the stream (account, client, case); it must
-- be the stream's next entry (seq = previous + 1) and its balance must follow from the
-- previous one (balance_after = previous balance + amount); both are computed when left
-- out. The account row is locked first, so writers to one account are serialized and
-- the previous entry read here is the latest committed one. The unique
-- (account, client, case, seq) index backs this up under any isolation level.
CREATE FUNCTION trust_ledger_check_balance() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    prev_seq bigint := 0;
    prev_balance bigint := 0;
    prev_on date;
BEGIN
    PERFORM 1 FROM trust_accounts
        WHERE tenant_id = NEW.tenant_id AND id = NEW.account_id
        FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN NEW;  -- not this firm's account: the foreign key / RLS refuse the row
    END IF;

    SELECT l.seq, l.balance_after_yen, l.occurred_on INTO prev_seq, prev_balance, prev_on
        FROM trust_ledger l
        WHERE l.tenant_id = NEW.tenant_id AND l.account_id = NEW.account_id
          AND l.client_id = NEW.client_id AND l.case_id = NEW.case_id
        ORDER BY l.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        prev_seq := 0;
        prev_balance := 0;
    END IF;
    NEW.seq := coalesce(NEW.seq, prev_seq + 1);
    NEW.balance_after_yen := coalesce(NEW.balance_after_yen, prev_balance + NEW.amount_yen);
    IF NEW.seq <> prev_seq + 1 OR NEW.balance_after_yen <> prev_balance + NEW.amount_yen THEN
        RAISE EXCEPTION 'a trust entry must follow the latest entry: previous balance + amount'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_trust_ledger_balance_follows', TABLE = 'trust_ledger';
    END IF;
    IF NEW.occurred_on < prev_on THEN
        RAISE EXCEPTION 'a trust entry cannot be dated before the previous entry'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_trust_ledger_chronological', TABLE = 'trust_ledger';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER trust_ledger_check_balance BEFORE INSERT ON trust_ledger
    FOR EACH ROW EXECUTE FUNCTION trust_ledger_check_balance();

-- Append-only, for every role (owner included): corrections are reversing entries.
-- An AFTER trigger, so a broken reference is reported by its foreign key first.
-- The one permitted UPDATE stamps receipt_issued_at / client_notified_at once, from
-- NULL: issuing the 預り証 or notifying the client happens after the money arrived and
-- changes no money.
CREATE FUNCTION trust_ledger_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'trust ledger entries cannot be deleted; write a reversing entry'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_trust_ledger_append_only', TABLE = 'trust_ledger';
    END IF;
    IF to_jsonb(NEW) - '{receipt_issued_at,client_notified_at,updated_at,updated_by}'::text[]
           IS DISTINCT FROM
       to_jsonb(OLD) - '{receipt_issued_at,client_notified_at,updated_at,updated_by}'::text[]
       OR (OLD.receipt_issued_at IS NOT NULL
           AND NEW.receipt_issued_at IS DISTINCT FROM OLD.receipt_issued_at)
       OR (OLD.client_notified_at IS NOT NULL
           AND NEW.client_notified_at IS DISTINCT FROM OLD.client_notified_at) THEN
        RAISE EXCEPTION 'trust ledger entries cannot be changed; write a reversing entry'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_trust_ledger_append_only', TABLE = 'trust_ledger';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER trust_ledger_append_only AFTER UPDATE OR DELETE ON trust_ledger
    FOR EACH ROW EXECUTE FUNCTION trust_ledger_append_only();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS trust_ledger_append_only ON trust_ledger;
DROP FUNCTION IF EXISTS trust_ledger_append_only();
DROP TRIGGER IF EXISTS trust_ledger_check_balance ON trust_ledger;
DROP FUNCTION IF EXISTS trust_ledger_check_balance();
"""


def upgrade() -> None:
    op.create_table(
        "trust_accounts",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("bank_name", sa.Text(), nullable=True),
        sa.Column("branch_name", sa.Text(), nullable=True),
        sa.Column("account_type", sa.Text(), nullable=True),
        sa.Column("account_number", sa.Text(), nullable=True),
        sa.Column("registered_with_bar_on", sa.Date(), nullable=True),
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
            "account_number IS NULL OR account_number ~ '^[0-9]{7}$'",
            name=op.f("ck_trust_accounts_account_number_format"),
        ),
        sa.CheckConstraint(
            "account_type IS NULL OR account_type IN ('普通', '当座')",
            name=op.f("ck_trust_accounts_account_type"),
        ),
        sa.CheckConstraint("btrim(name) <> ''", name=op.f("ck_trust_accounts_name_not_blank")),
        sa.CheckConstraint(
            "kind <> 'dedicated' OR strpos(name, '預り金') > 0",
            name=op.f("ck_trust_accounts_dedicated_name"),
        ),
        sa.CheckConstraint(
            "kind = 'cash' OR (bank_name IS NOT NULL AND account_number IS NOT NULL)",
            name=op.f("ck_trust_accounts_bank_details"),
        ),
        sa.CheckConstraint(
            "kind IN ('dedicated', 'general', 'cash')", name=op.f("ck_trust_accounts_kind")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_trust_accounts_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_trust_accounts")),
    )
    op.create_index(
        "uq_trust_accounts_tenant_id_name", "trust_accounts", ["tenant_id", "name"], unique=True
    )
    op.create_table(
        "trust_ledger",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), server_default=sa.FetchedValue(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("amount_yen", sa.BigInteger(), nullable=False),
        sa.Column(
            "balance_after_yen", sa.BigInteger(), server_default=sa.FetchedValue(), nullable=False
        ),
        sa.Column("occurred_on", sa.Date(), server_default=sa.text("CURRENT_DATE"), nullable=False),
        sa.Column("received_from", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("receipt_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_notified_at", sa.DateTime(timezone=True), nullable=True),
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
            "(kind NOT IN ('deposit', 'transfer_in', 'interest') OR amount_yen > 0) AND (kind NOT IN ('withdrawal', 'transfer_out', 'fee_applied', 'refund') OR amount_yen < 0)",
            name=op.f("ck_trust_ledger_amount_sign_matches_kind"),
        ),
        sa.CheckConstraint(
            "kind IN ('deposit', 'transfer_in', 'interest', 'withdrawal', 'transfer_out', 'fee_applied', 'refund', 'adjustment')",
            name=op.f("ck_trust_ledger_kind"),
        ),
        sa.CheckConstraint(
            "received_from IS NULL OR received_from IN ('client', 'third_party')",
            name=op.f("ck_trust_ledger_received_from"),
        ),
        sa.CheckConstraint("amount_yen <> 0", name=op.f("ck_trust_ledger_amount_not_zero")),
        sa.CheckConstraint(
            "balance_after_yen >= 0", name=op.f("ck_trust_ledger_balance_not_negative")
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_trust_ledger_seq_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["trust_accounts.tenant_id", "trust_accounts.id"],
            name=op.f("fk_trust_ledger_tenant_id_account_id_trust_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_trust_ledger_tenant_id_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "client_id"],
            ["clients.tenant_id", "clients.id"],
            name=op.f("fk_trust_ledger_tenant_id_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_trust_ledger_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_trust_ledger")),
    )
    op.create_index(
        "ix_trust_ledger_tenant_id_case_id",
        "trust_ledger",
        ["tenant_id", "case_id", "occurred_on"],
        unique=False,
    )
    op.create_index(
        "ix_trust_ledger_tenant_id_client_id",
        "trust_ledger",
        ["tenant_id", "client_id", "occurred_on"],
        unique=False,
    )
    op.create_index(
        "uq_trust_ledger_tenant_id_account_id_client_id_case_id_seq",
        "trust_ledger",
        ["tenant_id", "account_id", "client_id", "case_id", "seq"],
        unique=True,
    )
    # ### end Alembic commands ###

    for table in TENANT_TABLES:
        op.execute(tenant_isolation_sql(table))
    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute(DROP_TRIGGERS)
    op.drop_index(
        "uq_trust_ledger_tenant_id_account_id_client_id_case_id_seq", table_name="trust_ledger"
    )
    op.drop_index("ix_trust_ledger_tenant_id_client_id", table_name="trust_ledger")
    op.drop_index("ix_trust_ledger_tenant_id_case_id", table_name="trust_ledger")
    op.drop_table("trust_ledger")
    op.drop_index("uq_trust_accounts_tenant_id_name", table_name="trust_accounts")
    op.drop_table("trust_accounts")
