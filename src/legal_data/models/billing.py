"""Money of a case: time entries, expenses, invoices with lines and per-rate tax
summaries (適格請求書), and payments.

Rules the database enforces (constraint names are in :data:`legal_data.db.errors.RULES`):

- ``total = subtotal + tax - withholding`` and ``0 <= withholding <= subtotal``;
- tax categories from :data:`~legal_data.domain.invoice_calc.TAX_CATEGORIES`;
- the issuer's registration number is ``T`` + 13 digits, and an issued invoice has one;
- an invoice is created as a draft; issuing it (``draft -> issued``) checks that its
  subtotal, per-rate summaries and tax agree with its lines, assigns the firm's next
  invoice number (``tenant_counters``) and snapshots the firm's name and number;
- lines and tax summaries of an issued (paid, void) invoice can no longer change, and
  neither can its amounts, number, issuer or client;
- a 弁護士法人 never withholds (源泉徴収 applies to individual lawyers only);
- the invoice's paid state follows its payments; payments never exceed the total;
- a time entry or expense is billed at most once (one invoice line, never moved while
  that line's invoice stands).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, FetchedValue, Index, Integer, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from legal_data.domain.invoice_calc import TAX_CATEGORIES
from legal_data.models.base import Base, BusinessRow, Versioned, Yen, tenant_fk, tenant_join
from legal_data.models.system import in_list

EXPENSE_CATEGORIES = ("印紙代", "郵券", "交通費", "謄写費用", "日当", "宿泊費", "通信費", "その他")
FEE_KINDS = ("着手金", "報酬金", "タイムチャージ", "手数料", "顧問料", "日当", "相談料", "実費")
INVOICE_STATES = ("draft", "issued", "paid", "void")
PAYMENT_METHODS = ("bank_transfer", "cash", "card", "trust_transfer", "offset", "other")
#: Taxable categories and their rate in percent, as stored in ``invoice_tax_summaries``.
TAX_RATE_PERCENT = {"taxable_10": 10, "taxable_8": 8}

REGISTRATION_NUMBER_SQL = "issuer_registration_number ~ '^T[0-9]{13}$'"


class TimeEntry(BusinessRow, Base):
    """Time a user spent on a case. Billed at most once, through one invoice line."""

    __tablename__ = "time_entries"
    __table_args__ = (
        tenant_fk("case_id", "cases"),
        tenant_fk("user_id", "users"),
        tenant_fk("invoice_line_id", "invoice_lines"),
        CheckConstraint("minutes > 0 AND minutes <= 1440", name="minutes_range"),
        CheckConstraint("rate_yen >= 0", name="rate_not_negative"),
        CheckConstraint("btrim(description) <> ''", name="description_not_blank"),
        CheckConstraint("billable OR invoice_line_id IS NULL", name="billed_only_if_billable"),
        Index("ix_time_entries_tenant_id_case_id_work_date", "tenant_id", "case_id", "work_date"),
        Index("ix_time_entries_tenant_id_user_id_work_date", "tenant_id", "user_id", "work_date"),
        # Unbilled work of a case, for the next invoice.
        Index(
            "ix_time_entries_tenant_id_case_id_unbilled",
            "tenant_id",
            "case_id",
            postgresql_where=text("billable AND invoice_line_id IS NULL"),
        ),
        Index("ix_time_entries_tenant_id_invoice_line_id", "tenant_id", "invoice_line_id"),
        # The monthly report: one month of the firm, index-only (revision 0019).
        Index(
            "ix_time_entries_tenant_id_work_date",
            "tenant_id",
            "work_date",
            postgresql_include=["case_id", "minutes", "rate_yen", "billable"],
        ),
    )

    case_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    work_date: Mapped[dt.date]
    minutes: Mapped[int] = mapped_column(Integer)
    # Hourly rate in yen (タイムチャージ単価).
    rate_yen: Mapped[int] = mapped_column(Yen)
    billable: Mapped[bool] = mapped_column(server_default=text("true"))
    description: Mapped[str] = mapped_column(Text)
    invoice_line_id: Mapped[uuid.UUID | None]

    @property
    def amount_yen(self) -> int:
        """minutes x hourly rate, floored to the yen."""
        return self.minutes * self.rate_yen // 60


class Expense(BusinessRow, Base):
    """An expense on a case (実費). A 立替金 (``is_disbursement``) is paid on the client's
    behalf and is therefore never the firm's taxable sale (不課税)."""

    __tablename__ = "expenses"
    __table_args__ = (
        tenant_fk("case_id", "cases"),
        tenant_fk("user_id", "users"),
        tenant_fk("receipt_document_id", "documents"),
        tenant_fk("invoice_line_id", "invoice_lines"),
        CheckConstraint(in_list("category", EXPENSE_CATEGORIES), name="category"),
        CheckConstraint(in_list("tax_category", TAX_CATEGORIES), name="tax_category"),
        CheckConstraint("amount_yen >= 0", name="amount_not_negative"),
        CheckConstraint(
            "NOT is_disbursement OR tax_category = 'out_of_scope'",
            name="disbursement_out_of_scope",
        ),
        Index("ix_expenses_tenant_id_case_id_incurred_on", "tenant_id", "case_id", "incurred_on"),
        Index("ix_expenses_tenant_id_user_id", "tenant_id", "user_id"),
        Index("ix_expenses_tenant_id_receipt_document_id", "tenant_id", "receipt_document_id"),
        Index(
            "ix_expenses_tenant_id_case_id_unbilled",
            "tenant_id",
            "case_id",
            postgresql_where=text("invoice_line_id IS NULL"),
        ),
        Index("ix_expenses_tenant_id_invoice_line_id", "tenant_id", "invoice_line_id"),
        Index(
            "ix_expenses_tenant_id_incurred_on",
            "tenant_id",
            "incurred_on",
            postgresql_include=["case_id", "amount_yen", "is_disbursement"],
        ),
    )

    case_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID | None]
    incurred_on: Mapped[dt.date]
    category: Mapped[str] = mapped_column(Text)
    amount_yen: Mapped[int] = mapped_column(Yen)
    tax_category: Mapped[str] = mapped_column(Text)
    is_disbursement: Mapped[bool] = mapped_column(server_default=text("false"))
    description: Mapped[str | None] = mapped_column(Text)
    receipt_document_id: Mapped[uuid.UUID | None]
    invoice_line_id: Mapped[uuid.UUID | None]


class Invoice(BusinessRow, Versioned, Base):
    """An invoice (請求書); once issued, a qualified invoice (適格請求書)."""

    __tablename__ = "invoices"
    __table_args__ = (
        tenant_fk("client_id", "clients"),
        tenant_fk("case_id", "cases"),
        CheckConstraint(in_list("state", INVOICE_STATES), name="state"),
        CheckConstraint(
            "total_yen = subtotal_yen + tax_yen - withholding_yen", name="total_formula"
        ),
        CheckConstraint(
            "withholding_yen BETWEEN 0 AND subtotal_yen", name="withholding_within_subtotal"
        ),
        CheckConstraint("subtotal_yen >= 0 AND tax_yen >= 0", name="amounts_not_negative"),
        CheckConstraint(
            "issuer_registration_number IS NULL OR " + REGISTRATION_NUMBER_SQL,
            name="issuer_registration_number_format",
        ),
        CheckConstraint("invoice_number IS NULL OR invoice_number >= 1", name="number_positive"),
        CheckConstraint("(issued_at IS NULL) = (invoice_number IS NULL)", name="number_iff_issued"),
        CheckConstraint(
            "state NOT IN ('issued', 'paid') OR (issued_at IS NOT NULL AND issue_date IS NOT NULL"
            " AND issuer_registration_number IS NOT NULL AND issuer_name IS NOT NULL)",
            name="issued_fields",
        ),
        CheckConstraint("state <> 'draft' OR issued_at IS NULL", name="draft_not_issued"),
        CheckConstraint("(state = 'paid') = (paid_at IS NOT NULL)", name="paid_at_iff_paid"),
        CheckConstraint("(state = 'void') = (voided_at IS NOT NULL)", name="voided_at_iff_void"),
        CheckConstraint("due_date IS NULL OR due_date >= issue_date", name="due_after_issue"),
        Index("uq_invoices_tenant_id_invoice_number", "tenant_id", "invoice_number", unique=True),
        Index("ix_invoices_tenant_id_client_id_issue_date", "tenant_id", "client_id", "issue_date"),
        Index("ix_invoices_tenant_id_case_id", "tenant_id", "case_id"),
        # Receivables: issued and not yet paid, oldest due first.
        Index(
            "ix_invoices_tenant_id_due_date_unpaid",
            "tenant_id",
            "due_date",
            postgresql_where=text("state = 'issued'"),
        ),
        Index(
            "ix_invoices_tenant_id_issue_date",
            "tenant_id",
            "issue_date",
            postgresql_include=[
                "case_id",
                "state",
                "subtotal_yen",
                "tax_yen",
                "withholding_yen",
                "total_yen",
            ],
        ),
    )

    client_id: Mapped[uuid.UUID]
    case_id: Mapped[uuid.UUID | None]
    state: Mapped[str] = mapped_column(Text, server_default=text("'draft'"))
    # Per-firm number, assigned by the database when the invoice is issued.
    invoice_number: Mapped[int | None] = mapped_column(Integer, server_onupdate=FetchedValue())
    issue_date: Mapped[dt.date | None] = mapped_column(server_onupdate=FetchedValue())
    due_date: Mapped[dt.date | None]
    # Snapshots taken at issue (the firm's name and 適格請求書発行事業者登録番号 may change).
    issuer_name: Mapped[str | None] = mapped_column(Text, server_onupdate=FetchedValue())
    issuer_registration_number: Mapped[str | None] = mapped_column(
        Text, server_onupdate=FetchedValue()
    )
    recipient_name: Mapped[str] = mapped_column(Text)
    recipient_address: Mapped[str | None] = mapped_column(Text)
    # An individual payer who employs staff is a withholding agent (源泉徴収義務者).
    payer_is_employer: Mapped[bool] = mapped_column(server_default=text("false"))
    subtotal_yen: Mapped[int] = mapped_column(Yen, server_default=text("0"))
    tax_yen: Mapped[int] = mapped_column(Yen, server_default=text("0"))
    withholding_yen: Mapped[int] = mapped_column(Yen, server_default=text("0"))
    total_yen: Mapped[int] = mapped_column(Yen, server_default=text("0"))
    issued_at: Mapped[dt.datetime | None] = mapped_column(server_onupdate=FetchedValue())
    paid_at: Mapped[dt.datetime | None]
    voided_at: Mapped[dt.datetime | None]
    void_reason: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list[InvoiceLine]] = relationship(
        primaryjoin=tenant_join("InvoiceLine", "invoice_id", "Invoice"),
        back_populates="invoice",
        order_by="InvoiceLine.line_number",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    tax_summaries: Mapped[list[InvoiceTaxSummary]] = relationship(
        primaryjoin=tenant_join("InvoiceTaxSummary", "invoice_id", "Invoice"),
        back_populates="invoice",
        order_by="InvoiceTaxSummary.tax_category",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    payments: Mapped[list[Payment]] = relationship(
        primaryjoin=tenant_join("Payment", "invoice_id", "Invoice"),
        back_populates="invoice",
        order_by="Payment.paid_on",
        passive_deletes=True,
    )


class InvoiceLine(BusinessRow, Base):
    """One line of an invoice: a fee or an expense, tax-exclusive."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        tenant_fk("invoice_id", "invoices", ondelete="CASCADE"),
        CheckConstraint(in_list("kind", FEE_KINDS), name="kind"),
        CheckConstraint(in_list("tax_category", TAX_CATEGORIES), name="tax_category"),
        CheckConstraint("amount_yen >= 0", name="amount_not_negative"),
        CheckConstraint("line_number >= 1", name="line_number_positive"),
        CheckConstraint("btrim(description) <> ''", name="description_not_blank"),
        Index(
            "uq_invoice_lines_tenant_id_invoice_id_line_number",
            "tenant_id",
            "invoice_id",
            "line_number",
            unique=True,
        ),
    )

    invoice_id: Mapped[uuid.UUID]
    line_number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    amount_yen: Mapped[int] = mapped_column(Yen)
    tax_category: Mapped[str] = mapped_column(Text)
    # Fees are subject to 源泉徴収; 立替 paid on to third parties usually are not.
    subject_to_withholding: Mapped[bool] = mapped_column(server_default=text("true"))

    invoice: Mapped[Invoice] = relationship(
        primaryjoin=tenant_join("InvoiceLine", "invoice_id", "Invoice"), back_populates="lines"
    )
    time_entries: Mapped[list[TimeEntry]] = relationship(
        primaryjoin=tenant_join("TimeEntry", "invoice_line_id", "InvoiceLine"), viewonly=True
    )
    expenses: Mapped[list[Expense]] = relationship(
        primaryjoin=tenant_join("Expense", "invoice_line_id", "InvoiceLine"), viewonly=True
    )


class InvoiceTaxSummary(BusinessRow, Base):
    """Per-rate totals of an invoice: tax-exclusive base and tax, rounded once per rate."""

    __tablename__ = "invoice_tax_summaries"
    __table_args__ = (
        tenant_fk("invoice_id", "invoices", ondelete="CASCADE"),
        CheckConstraint(
            "(tax_category = 'taxable_10' AND rate_percent = 10)"
            " OR (tax_category = 'taxable_8' AND rate_percent = 8)",
            name="rate_matches_category",
        ),
        CheckConstraint("taxable_yen >= 0 AND tax_yen >= 0", name="amounts_not_negative"),
        # One rounding of base x rate: the tax is within one yen of the exact product.
        CheckConstraint(
            "abs(tax_yen * 100 - taxable_yen * rate_percent) < 100", name="tax_matches_rate"
        ),
        Index(
            "uq_invoice_tax_summaries_tenant_id_invoice_id_tax_category",
            "tenant_id",
            "invoice_id",
            "tax_category",
            unique=True,
        ),
    )

    invoice_id: Mapped[uuid.UUID]
    tax_category: Mapped[str] = mapped_column(Text)
    rate_percent: Mapped[int] = mapped_column(Integer)
    taxable_yen: Mapped[int] = mapped_column(Yen)
    tax_yen: Mapped[int] = mapped_column(Yen)

    invoice: Mapped[Invoice] = relationship(
        primaryjoin=tenant_join("InvoiceTaxSummary", "invoice_id", "Invoice"),
        back_populates="tax_summaries",
    )


class Payment(BusinessRow, Base):
    """A payment received against an issued invoice. The invoice's paid state follows."""

    __tablename__ = "payments"
    __table_args__ = (
        tenant_fk("invoice_id", "invoices"),
        CheckConstraint(in_list("method", PAYMENT_METHODS), name="method"),
        CheckConstraint("amount_yen > 0", name="amount_positive"),
        Index("ix_payments_tenant_id_invoice_id", "tenant_id", "invoice_id"),
        Index("ix_payments_tenant_id_paid_on", "tenant_id", "paid_on"),
    )

    invoice_id: Mapped[uuid.UUID]
    amount_yen: Mapped[int] = mapped_column(Yen)
    paid_on: Mapped[dt.date]
    method: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)

    invoice: Mapped[Invoice] = relationship(
        primaryjoin=tenant_join("Payment", "invoice_id", "Invoice"), back_populates="payments"
    )
