"""Money: time entries, expenses, invoices, lines, tax summaries, payments.

Invoices get per-firm numbers from ``tenant_counters`` when they are issued.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from legal_data.tenancy.policies import tenant_isolation_sql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "invoices",
    "invoice_lines",
    "invoice_tax_summaries",
    "payments",
    "time_entries",
    "expenses",
)

TRIGGERS = """
-- The life of an invoice.
-- * It is created as a draft (checked at commit, see invoices_created_as_draft) and
--   cannot be deleted once issued.
-- * A 弁護士法人 never withholds (源泉徴収 is on fees paid to individual lawyers).
-- * draft -> issued checks the totals against the lines and the per-rate summaries,
--   snapshots the issuer (name, registration number), dates it, and takes the firm's
--   next invoice number from tenant_counters under the counter's row lock (gapless:
--   a rolled-back issue gives its number back).
-- * Once issued, nothing but the state (and its dates), the void reason and internal
--   notes changes. States move draft -> issued | void, issued -> paid | void,
--   paid -> issued; paid follows the payments (see payments_follow_invoice).
CREATE FUNCTION invoices_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    firm record;
    line_count integer;
    lines_subtotal bigint;
    summaries_tax bigint;
    paid bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'draft' THEN
            RAISE EXCEPTION 'only a draft invoice can be deleted; void an issued one'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_invoices_issued_immutable', TABLE = 'invoices';
        END IF;
        RETURN OLD;
    END IF;

    SELECT t.name, t.qualified_invoice_number, t.firm_form INTO firm
        FROM tenants t WHERE t.id = NEW.tenant_id;
    IF NEW.withholding_yen > 0 AND firm.firm_form = 'professional_corporation' THEN
        RAISE EXCEPTION 'a 弁護士法人 does not withhold income tax on its fees'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_invoices_no_withholding_for_corporation', TABLE = 'invoices';
    END IF;

    IF TG_OP = 'INSERT' THEN
        RETURN NEW;  -- a non-draft insert is refused at commit (invoices_created_as_draft)
    END IF;

    IF OLD.state <> 'draft'
       AND to_jsonb(NEW) - '{state,paid_at,voided_at,void_reason,notes,version,updated_at,updated_by}'::text[]
           IS DISTINCT FROM
           to_jsonb(OLD) - '{state,paid_at,voided_at,void_reason,notes,version,updated_at,updated_by}'::text[]
    THEN
        RAISE EXCEPTION 'an issued invoice cannot be changed; void it and issue a new one'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_invoices_issued_immutable', TABLE = 'invoices';
    END IF;

    IF NEW.state IS NOT DISTINCT FROM OLD.state THEN
        RETURN NEW;
    END IF;
    IF (OLD.state, NEW.state) NOT IN (('draft', 'issued'), ('draft', 'void'),
                                      ('issued', 'paid'), ('issued', 'void'),
                                      ('paid', 'issued')) THEN
        RAISE EXCEPTION 'an invoice cannot go from % to %', OLD.state, NEW.state
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_invoices_state_transition', TABLE = 'invoices';
    END IF;

    SELECT coalesce(sum(p.amount_yen), 0) INTO paid
        FROM payments p WHERE p.tenant_id = NEW.tenant_id AND p.invoice_id = NEW.id;
    IF NEW.state = 'void' AND paid > 0 THEN
        RAISE EXCEPTION 'an invoice with payments cannot be voided; refund them first'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_invoices_void_without_payments', TABLE = 'invoices';
    END IF;
    IF (NEW.state = 'paid' AND paid < NEW.total_yen)
       OR (OLD.state = 'paid' AND NEW.state = 'issued' AND paid >= NEW.total_yen) THEN
        RAISE EXCEPTION 'the paid state of an invoice follows its payments'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_invoices_paid_follows_payments', TABLE = 'invoices';
    END IF;

    IF NEW.state = 'issued' AND OLD.state = 'draft' THEN
        SELECT count(*), coalesce(sum(l.amount_yen), 0) INTO line_count, lines_subtotal
            FROM invoice_lines l WHERE l.tenant_id = NEW.tenant_id AND l.invoice_id = NEW.id;
        IF line_count = 0 THEN
            RAISE EXCEPTION 'an invoice needs at least one line to be issued'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_invoices_has_lines', TABLE = 'invoices';
        END IF;
        IF NEW.subtotal_yen <> lines_subtotal THEN
            RAISE EXCEPTION 'the subtotal must equal the sum of the lines'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_invoices_subtotal_matches_lines', TABLE = 'invoices';
        END IF;
        IF EXISTS (
            SELECT 1
            FROM (SELECT l.tax_category, sum(l.amount_yen) AS base
                  FROM invoice_lines l
                  WHERE l.tenant_id = NEW.tenant_id AND l.invoice_id = NEW.id
                    AND l.tax_category IN ('taxable_10', 'taxable_8')
                  GROUP BY l.tax_category) AS by_line
            FULL JOIN (SELECT s.tax_category, s.taxable_yen
                       FROM invoice_tax_summaries s
                       WHERE s.tenant_id = NEW.tenant_id AND s.invoice_id = NEW.id) AS summary
                USING (tax_category)
            WHERE by_line.base IS DISTINCT FROM summary.taxable_yen
        ) THEN
            RAISE EXCEPTION 'the per-rate tax summaries must match the lines'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_invoices_tax_summaries_match_lines', TABLE = 'invoices';
        END IF;
        SELECT coalesce(sum(s.tax_yen), 0) INTO summaries_tax
            FROM invoice_tax_summaries s WHERE s.tenant_id = NEW.tenant_id AND s.invoice_id = NEW.id;
        IF NEW.tax_yen <> summaries_tax THEN
            RAISE EXCEPTION 'the tax must equal the sum of the per-rate taxes'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_invoices_tax_matches_summaries', TABLE = 'invoices';
        END IF;

        NEW.issuer_name := coalesce(NEW.issuer_name, firm.name);
        NEW.issuer_registration_number :=
            coalesce(NEW.issuer_registration_number, firm.qualified_invoice_number);
        NEW.issue_date := coalesce(NEW.issue_date, current_date);
        NEW.issued_at := now();
        INSERT INTO tenant_counters AS c (tenant_id, id, name, value)
        VALUES (NEW.tenant_id, app_uuid_v7(), 'invoice_number', 1)
        ON CONFLICT (tenant_id, name) DO UPDATE SET value = c.value + 1
        RETURNING c.value INTO NEW.invoice_number;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER invoices_guard BEFORE INSERT OR UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_guard();

-- Issuing is an UPDATE that checks the lines, so an invoice inserted as issued (or paid,
-- or void) would skip the checks: it is refused. At commit rather than at once, so a
-- copy of a whole invoice can be staged within a transaction.
CREATE FUNCTION invoices_created_as_draft() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state <> 'draft' THEN
        RAISE EXCEPTION 'an invoice is created as a draft, then issued'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_invoices_created_as_draft', TABLE = 'invoices';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER invoices_created_as_draft AFTER INSERT ON invoices
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION invoices_created_as_draft();

-- Lines and tax summaries change only while their invoice is a draft. The invoice row is
-- share-locked, so an issue running concurrently waits for this transaction and then
-- checks its totals against what it wrote.
CREATE FUNCTION invoice_parts_only_while_draft() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    invoice_state text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT i.state INTO invoice_state FROM invoices i
            WHERE i.tenant_id = OLD.tenant_id AND i.id = OLD.invoice_id FOR SHARE;
        -- (no row: the invoice itself is being deleted, which only a draft can be)
        IF invoice_state IS DISTINCT FROM 'draft' AND invoice_state IS NOT NULL THEN
            RAISE EXCEPTION 'the invoice is %; its lines can no longer change', invoice_state
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_' || TG_TABLE_NAME || '_invoice_is_draft',
                      TABLE = TG_TABLE_NAME;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT i.state INTO invoice_state FROM invoices i
            WHERE i.tenant_id = NEW.tenant_id AND i.id = NEW.invoice_id FOR SHARE;
        IF invoice_state IS DISTINCT FROM 'draft' AND invoice_state IS NOT NULL THEN
            RAISE EXCEPTION 'the invoice is %; its lines can no longer change', invoice_state
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_' || TG_TABLE_NAME || '_invoice_is_draft',
                      TABLE = TG_TABLE_NAME;
        END IF;
        RETURN NEW;
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER invoice_lines_only_while_draft BEFORE INSERT OR UPDATE OR DELETE
    ON invoice_lines FOR EACH ROW EXECUTE FUNCTION invoice_parts_only_while_draft();
CREATE TRIGGER invoice_tax_summaries_only_while_draft BEFORE INSERT OR UPDATE OR DELETE
    ON invoice_tax_summaries FOR EACH ROW EXECUTE FUNCTION invoice_parts_only_while_draft();

-- A time entry or expense is billed at most once: it goes on a line of a draft invoice;
-- while that invoice stands it cannot move to another line, and once the invoice is
-- issued it can neither be taken off nor changed. Voiding the invoice releases it.
CREATE FUNCTION billable_items_billed_once() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    billed_state text;
    new_state text;
BEGIN
    IF OLD.invoice_line_id IS NOT NULL THEN
        SELECT i.state INTO billed_state
            FROM invoice_lines l JOIN invoices i ON i.tenant_id = l.tenant_id AND i.id = l.invoice_id
            WHERE l.tenant_id = OLD.tenant_id AND l.id = OLD.invoice_line_id;
    END IF;
    IF billed_state IN ('issued', 'paid') AND (
        TG_OP = 'DELETE'
        OR to_jsonb(NEW) - '{updated_at,updated_by}'::text[]
           IS DISTINCT FROM to_jsonb(OLD) - '{updated_at,updated_by}'::text[]
    ) THEN
        RAISE EXCEPTION 'this item is billed on an issued invoice and can no longer change'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_' || TG_TABLE_NAME || '_billed_frozen', TABLE = TG_TABLE_NAME;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF NEW.invoice_line_id IS NOT NULL
       AND NEW.invoice_line_id IS DISTINCT FROM OLD.invoice_line_id THEN
        SELECT i.state INTO new_state
            FROM invoice_lines l JOIN invoices i ON i.tenant_id = l.tenant_id AND i.id = l.invoice_id
            WHERE l.tenant_id = NEW.tenant_id AND l.id = NEW.invoice_line_id;
        IF NOT FOUND THEN
            RETURN NEW;  -- no such line in this firm: the foreign key refuses it
        END IF;
        IF billed_state IS NOT NULL AND billed_state <> 'void' THEN
            RAISE EXCEPTION 'this item is already billed on another invoice line'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_' || TG_TABLE_NAME || '_billed_once', TABLE = TG_TABLE_NAME;
        END IF;
        IF new_state <> 'draft' THEN
            RAISE EXCEPTION 'an item can only be billed on a draft invoice'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_' || TG_TABLE_NAME || '_billed_once', TABLE = TG_TABLE_NAME;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER time_entries_billed_once BEFORE UPDATE OR DELETE ON time_entries
    FOR EACH ROW EXECUTE FUNCTION billable_items_billed_once();
CREATE TRIGGER expenses_billed_once BEFORE UPDATE OR DELETE ON expenses
    FOR EACH ROW EXECUTE FUNCTION billable_items_billed_once();

-- An item inserted already billed must go on a draft invoice's line.
CREATE FUNCTION billable_items_insert_billed() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    new_state text;
BEGIN
    IF NEW.invoice_line_id IS NOT NULL THEN
        SELECT i.state INTO new_state
            FROM invoice_lines l JOIN invoices i ON i.tenant_id = l.tenant_id AND i.id = l.invoice_id
            WHERE l.tenant_id = NEW.tenant_id AND l.id = NEW.invoice_line_id;
        IF new_state IS DISTINCT FROM 'draft' AND new_state IS NOT NULL THEN
            RAISE EXCEPTION 'an item can only be billed on a draft invoice'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_' || TG_TABLE_NAME || '_billed_once', TABLE = TG_TABLE_NAME;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER time_entries_insert_billed BEFORE INSERT ON time_entries
    FOR EACH ROW EXECUTE FUNCTION billable_items_insert_billed();
CREATE TRIGGER expenses_insert_billed BEFORE INSERT ON expenses
    FOR EACH ROW EXECUTE FUNCTION billable_items_insert_billed();

-- Payments: only on an issued (or paid) invoice, never more than its total, and the
-- invoice's paid state follows them. The invoice row is locked first, so concurrent
-- payments are summed one after the other.
CREATE FUNCTION payments_follow_invoice() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    target record;
    inv record;
    paid bigint;
BEGIN
    FOR target IN
        SELECT DISTINCT tenant_id, invoice_id FROM (
            SELECT NEW.tenant_id, NEW.invoice_id WHERE TG_OP IN ('INSERT', 'UPDATE')
            UNION ALL
            SELECT OLD.tenant_id, OLD.invoice_id WHERE TG_OP IN ('UPDATE', 'DELETE')
        ) AS t (tenant_id, invoice_id)
    LOOP
        SELECT i.state, i.total_yen INTO inv FROM invoices i
            WHERE i.tenant_id = target.tenant_id AND i.id = target.invoice_id
            FOR NO KEY UPDATE;
        CONTINUE WHEN NOT FOUND;
        IF inv.state NOT IN ('issued', 'paid') AND TG_OP <> 'DELETE' THEN
            RAISE EXCEPTION 'payments are recorded only against an issued invoice'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_payments_invoice_issued', TABLE = 'payments';
        END IF;
        SELECT coalesce(sum(p.amount_yen), 0) INTO paid FROM payments p
            WHERE p.tenant_id = target.tenant_id AND p.invoice_id = target.invoice_id;
        IF paid > inv.total_yen THEN
            RAISE EXCEPTION 'payments would exceed the invoice total'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_payments_not_above_total', TABLE = 'payments';
        END IF;
        IF inv.state = 'issued' AND paid >= inv.total_yen AND paid > 0 THEN
            UPDATE invoices SET state = 'paid', paid_at = now()
                WHERE tenant_id = target.tenant_id AND id = target.invoice_id;
        ELSIF inv.state = 'paid' AND paid < inv.total_yen THEN
            UPDATE invoices SET state = 'issued', paid_at = NULL
                WHERE tenant_id = target.tenant_id AND id = target.invoice_id;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER payments_follow_invoice AFTER INSERT OR UPDATE OR DELETE ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_follow_invoice();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS payments_follow_invoice ON payments;
DROP FUNCTION IF EXISTS payments_follow_invoice();
DROP TRIGGER IF EXISTS expenses_insert_billed ON expenses;
DROP TRIGGER IF EXISTS time_entries_insert_billed ON time_entries;
DROP FUNCTION IF EXISTS billable_items_insert_billed();
DROP TRIGGER IF EXISTS expenses_billed_once ON expenses;
DROP TRIGGER IF EXISTS time_entries_billed_once ON time_entries;
DROP FUNCTION IF EXISTS billable_items_billed_once();
DROP TRIGGER IF EXISTS invoice_tax_summaries_only_while_draft ON invoice_tax_summaries;
DROP TRIGGER IF EXISTS invoice_lines_only_while_draft ON invoice_lines;
DROP FUNCTION IF EXISTS invoice_parts_only_while_draft();
DROP TRIGGER IF EXISTS invoices_created_as_draft ON invoices;
DROP FUNCTION IF EXISTS invoices_created_as_draft();
DROP TRIGGER IF EXISTS invoices_guard ON invoices;
DROP FUNCTION IF EXISTS invoices_guard();
"""


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=True),
        sa.Column("state", sa.Text(), server_default=sa.text("'draft'"), nullable=False),
        sa.Column("invoice_number", sa.Integer(), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("issuer_name", sa.Text(), nullable=True),
        sa.Column("issuer_registration_number", sa.Text(), nullable=True),
        sa.Column("recipient_name", sa.Text(), nullable=False),
        sa.Column("recipient_address", sa.Text(), nullable=True),
        sa.Column(
            "payer_is_employer", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("subtotal_yen", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("tax_yen", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("withholding_yen", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("total_yen", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
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
        sa.CheckConstraint(
            "(state = 'paid') = (paid_at IS NOT NULL)", name=op.f("ck_invoices_paid_at_iff_paid")
        ),
        sa.CheckConstraint(
            "(state = 'void') = (voided_at IS NOT NULL)",
            name=op.f("ck_invoices_voided_at_iff_void"),
        ),
        sa.CheckConstraint(
            "issuer_registration_number IS NULL OR issuer_registration_number ~ '^T[0-9]{13}$'",
            name=op.f("ck_invoices_issuer_registration_number_format"),
        ),
        sa.CheckConstraint(
            "state <> 'draft' OR issued_at IS NULL", name=op.f("ck_invoices_draft_not_issued")
        ),
        sa.CheckConstraint(
            "state IN ('draft', 'issued', 'paid', 'void')", name=op.f("ck_invoices_state")
        ),
        sa.CheckConstraint(
            "state NOT IN ('issued', 'paid') OR (issued_at IS NOT NULL AND issue_date IS NOT NULL AND issuer_registration_number IS NOT NULL AND issuer_name IS NOT NULL)",
            name=op.f("ck_invoices_issued_fields"),
        ),
        sa.CheckConstraint(
            "(issued_at IS NULL) = (invoice_number IS NULL)",
            name=op.f("ck_invoices_number_iff_issued"),
        ),
        sa.CheckConstraint(
            "due_date IS NULL OR due_date >= issue_date", name=op.f("ck_invoices_due_after_issue")
        ),
        sa.CheckConstraint(
            "invoice_number IS NULL OR invoice_number >= 1",
            name=op.f("ck_invoices_number_positive"),
        ),
        sa.CheckConstraint(
            "subtotal_yen >= 0 AND tax_yen >= 0", name=op.f("ck_invoices_amounts_not_negative")
        ),
        sa.CheckConstraint(
            "total_yen = subtotal_yen + tax_yen - withholding_yen",
            name=op.f("ck_invoices_total_formula"),
        ),
        sa.CheckConstraint(
            "withholding_yen BETWEEN 0 AND subtotal_yen",
            name=op.f("ck_invoices_withholding_within_subtotal"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_invoices_tenant_id_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "client_id"],
            ["clients.tenant_id", "clients.id"],
            name=op.f("fk_invoices_tenant_id_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_invoices_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_invoices")),
    )
    op.create_index(
        "ix_invoices_tenant_id_case_id", "invoices", ["tenant_id", "case_id"], unique=False
    )
    op.create_index(
        "ix_invoices_tenant_id_client_id_issue_date",
        "invoices",
        ["tenant_id", "client_id", "issue_date"],
        unique=False,
    )
    op.create_index(
        "ix_invoices_tenant_id_due_date_unpaid",
        "invoices",
        ["tenant_id", "due_date"],
        unique=False,
        postgresql_where=sa.text("state = 'issued'"),
    )
    op.create_index(
        "uq_invoices_tenant_id_invoice_number",
        "invoices",
        ["tenant_id", "invoice_number"],
        unique=True,
    )
    op.create_table(
        "invoice_lines",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("amount_yen", sa.BigInteger(), nullable=False),
        sa.Column("tax_category", sa.Text(), nullable=False),
        sa.Column(
            "subject_to_withholding", sa.Boolean(), server_default=sa.text("true"), nullable=False
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
        sa.CheckConstraint(
            "btrim(description) <> ''", name=op.f("ck_invoice_lines_description_not_blank")
        ),
        sa.CheckConstraint(
            "kind IN ('着手金', '報酬金', 'タイムチャージ', '手数料', '顧問料', '日当', '相談料', '実費')",
            name=op.f("ck_invoice_lines_kind"),
        ),
        sa.CheckConstraint(
            "tax_category IN ('taxable_10', 'taxable_8', 'exempt', 'out_of_scope')",
            name=op.f("ck_invoice_lines_tax_category"),
        ),
        sa.CheckConstraint("amount_yen >= 0", name=op.f("ck_invoice_lines_amount_not_negative")),
        sa.CheckConstraint("line_number >= 1", name=op.f("ck_invoice_lines_line_number_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("fk_invoice_lines_tenant_id_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_invoice_lines_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_invoice_lines")),
    )
    op.create_index(
        "uq_invoice_lines_tenant_id_invoice_id_line_number",
        "invoice_lines",
        ["tenant_id", "invoice_id", "line_number"],
        unique=True,
    )
    op.create_table(
        "invoice_tax_summaries",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("tax_category", sa.Text(), nullable=False),
        sa.Column("rate_percent", sa.Integer(), nullable=False),
        sa.Column("taxable_yen", sa.BigInteger(), nullable=False),
        sa.Column("tax_yen", sa.BigInteger(), nullable=False),
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
            "(tax_category = 'taxable_10' AND rate_percent = 10) OR (tax_category = 'taxable_8' AND rate_percent = 8)",
            name=op.f("ck_invoice_tax_summaries_rate_matches_category"),
        ),
        sa.CheckConstraint(
            "abs(tax_yen * 100 - taxable_yen * rate_percent) < 100",
            name=op.f("ck_invoice_tax_summaries_tax_matches_rate"),
        ),
        sa.CheckConstraint(
            "taxable_yen >= 0 AND tax_yen >= 0",
            name=op.f("ck_invoice_tax_summaries_amounts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("fk_invoice_tax_summaries_tenant_id_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_invoice_tax_summaries_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_invoice_tax_summaries")),
    )
    op.create_index(
        "uq_invoice_tax_summaries_tenant_id_invoice_id_tax_category",
        "invoice_tax_summaries",
        ["tenant_id", "invoice_id", "tax_category"],
        unique=True,
    )
    op.create_table(
        "payments",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("amount_yen", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
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
            "method IN ('bank_transfer', 'cash', 'card', 'trust_transfer', 'offset', 'other')",
            name=op.f("ck_payments_method"),
        ),
        sa.CheckConstraint("amount_yen > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("fk_payments_tenant_id_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_payments_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_payments")),
    )
    op.create_index(
        "ix_payments_tenant_id_invoice_id", "payments", ["tenant_id", "invoice_id"], unique=False
    )
    op.create_index(
        "ix_payments_tenant_id_paid_on", "payments", ["tenant_id", "paid_on"], unique=False
    )
    op.create_table(
        "time_entries",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("work_date", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("rate_yen", sa.BigInteger(), nullable=False),
        sa.Column("billable", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("invoice_line_id", sa.UUID(), nullable=True),
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
            "btrim(description) <> ''", name=op.f("ck_time_entries_description_not_blank")
        ),
        sa.CheckConstraint(
            "billable OR invoice_line_id IS NULL",
            name=op.f("ck_time_entries_billed_only_if_billable"),
        ),
        sa.CheckConstraint(
            "minutes > 0 AND minutes <= 1440", name=op.f("ck_time_entries_minutes_range")
        ),
        sa.CheckConstraint("rate_yen >= 0", name=op.f("ck_time_entries_rate_not_negative")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_time_entries_tenant_id_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_line_id"],
            ["invoice_lines.tenant_id", "invoice_lines.id"],
            name=op.f("fk_time_entries_tenant_id_invoice_line_id_invoice_lines"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_time_entries_tenant_id_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_time_entries_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_time_entries")),
    )
    op.create_index(
        "ix_time_entries_tenant_id_case_id_unbilled",
        "time_entries",
        ["tenant_id", "case_id"],
        unique=False,
        postgresql_where=sa.text("billable AND invoice_line_id IS NULL"),
    )
    op.create_index(
        "ix_time_entries_tenant_id_case_id_work_date",
        "time_entries",
        ["tenant_id", "case_id", "work_date"],
        unique=False,
    )
    op.create_index(
        "ix_time_entries_tenant_id_invoice_line_id",
        "time_entries",
        ["tenant_id", "invoice_line_id"],
        unique=False,
    )
    op.create_index(
        "ix_time_entries_tenant_id_user_id_work_date",
        "time_entries",
        ["tenant_id", "user_id", "work_date"],
        unique=False,
    )

    op.create_table(
        "expenses",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("incurred_on", sa.Date(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("amount_yen", sa.BigInteger(), nullable=False),
        sa.Column("tax_category", sa.Text(), nullable=False),
        sa.Column("is_disbursement", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("receipt_document_id", sa.UUID(), nullable=True),
        sa.Column("invoice_line_id", sa.UUID(), nullable=True),
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
            "NOT is_disbursement OR tax_category = 'out_of_scope'",
            name=op.f("ck_expenses_disbursement_out_of_scope"),
        ),
        sa.CheckConstraint(
            "category IN ('印紙代', '郵券', '交通費', '謄写費用', '日当', '宿泊費', '通信費', 'その他')",
            name=op.f("ck_expenses_category"),
        ),
        sa.CheckConstraint(
            "tax_category IN ('taxable_10', 'taxable_8', 'exempt', 'out_of_scope')",
            name=op.f("ck_expenses_tax_category"),
        ),
        sa.CheckConstraint("amount_yen >= 0", name=op.f("ck_expenses_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_expenses_tenant_id_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_line_id"],
            ["invoice_lines.tenant_id", "invoice_lines.id"],
            name=op.f("fk_expenses_tenant_id_invoice_line_id_invoice_lines"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "receipt_document_id"],
            ["documents.tenant_id", "documents.id"],
            name=op.f("fk_expenses_tenant_id_receipt_document_id_documents"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_expenses_tenant_id_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_expenses_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_expenses")),
    )
    op.create_index(
        "ix_expenses_tenant_id_case_id_incurred_on",
        "expenses",
        ["tenant_id", "case_id", "incurred_on"],
        unique=False,
    )
    op.create_index(
        "ix_expenses_tenant_id_case_id_unbilled",
        "expenses",
        ["tenant_id", "case_id"],
        unique=False,
        postgresql_where=sa.text("invoice_line_id IS NULL"),
    )
    op.create_index(
        "ix_expenses_tenant_id_invoice_line_id",
        "expenses",
        ["tenant_id", "invoice_line_id"],
        unique=False,
    )
    op.create_index(
        "ix_expenses_tenant_id_receipt_document_id",
        "expenses",
        ["tenant_id", "receipt_document_id"],
        unique=False,
    )
    op.create_index(
        "ix_expenses_tenant_id_user_id", "expenses", ["tenant_id", "user_id"], unique=False
    )
    # ### end Alembic commands ###

    for table in TENANT_TABLES:
        op.execute(tenant_isolation_sql(table))
    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute(DROP_TRIGGERS)
    op.drop_index("ix_expenses_tenant_id_user_id", table_name="expenses")
    op.drop_index("ix_expenses_tenant_id_receipt_document_id", table_name="expenses")
    op.drop_index("ix_expenses_tenant_id_invoice_line_id", table_name="expenses")
    op.drop_index(
        "ix_expenses_tenant_id_case_id_unbilled",
        table_name="expenses",
        postgresql_where=sa.text("invoice_line_id IS NULL"),
    )
    op.drop_index("ix_expenses_tenant_id_case_id_incurred_on", table_name="expenses")
    op.drop_table("expenses")
    op.drop_index("ix_time_entries_tenant_id_user_id_work_date", table_name="time_entries")
    op.drop_index("ix_time_entries_tenant_id_invoice_line_id", table_name="time_entries")
    op.drop_index("ix_time_entries_tenant_id_case_id_work_date", table_name="time_entries")
    op.drop_index(
        "ix_time_entries_tenant_id_case_id_unbilled",
        table_name="time_entries",
        postgresql_where=sa.text("billable AND invoice_line_id IS NULL"),
    )
    op.drop_table("time_entries")
    op.drop_index("ix_payments_tenant_id_paid_on", table_name="payments")
    op.drop_index("ix_payments_tenant_id_invoice_id", table_name="payments")
    op.drop_table("payments")
    op.drop_index(
        "uq_invoice_tax_summaries_tenant_id_invoice_id_tax_category",
        table_name="invoice_tax_summaries",
    )
    op.drop_table("invoice_tax_summaries")
    op.drop_index("uq_invoice_lines_tenant_id_invoice_id_line_number", table_name="invoice_lines")
    op.drop_table("invoice_lines")
    op.drop_index("uq_invoices_tenant_id_invoice_number", table_name="invoices")
    op.drop_index(
        "ix_invoices_tenant_id_due_date_unpaid",
        table_name="invoices",
        postgresql_where=sa.text("state = 'issued'"),
    )
    op.drop_index("ix_invoices_tenant_id_client_id_issue_date", table_name="invoices")
    op.drop_index("ix_invoices_tenant_id_case_id", table_name="invoices")
    op.drop_table("invoices")
