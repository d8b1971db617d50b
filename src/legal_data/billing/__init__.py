"""Invoice totals, issuing and payments, on top of the pure calculator
(:mod:`legal_data.domain.invoice_calc`).

- :func:`recalculate` computes a draft invoice's subtotal, per-rate tax (rounded once
  per rate), 源泉徴収 and total from its lines, and writes the per-rate tax summary rows;
- :func:`issue_invoice` locks the invoice, recalculates it and issues it; the database
  then checks the totals against the lines, assigns the firm's next invoice number and
  snapshots the issuer's name and registration number (T + 13 digits);
- :func:`record_payment` records a payment; the database moves the invoice to ``paid``
  once the payments cover the total (and back if a payment is removed);
- :func:`void_invoice` voids an invoice without payments and releases what it billed;
- :func:`add_line`, :func:`bill_time_entries` and :func:`bill_expenses` build lines.

Columns the database sets (number, issuer snapshot, ``state`` moved by payments) do not
bump the invoice's optimistic-lock ``version``; these functions refresh the invoice
after writing so the object shows them.

Everything runs in the caller's transaction (the session's); nothing commits here, so
an issue either happens completely or not at all. The database enforces every rule on
its own as well: these functions are the convenient way, not the only guard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, object_session

from legal_data.domain import invoice_calc
from legal_data.domain.invoice_calc import TAX_RATES, InvoiceTotals, calculate_invoice
from legal_data.errors import ConfigurationError, InvalidInvoice
from legal_data.models import (
    Client,
    Expense,
    Invoice,
    InvoiceLine,
    InvoiceTaxSummary,
    Party,
    Payment,
    Tenant,
    TimeEntry,
)
from legal_data.models.billing import TAX_RATE_PERCENT

__all__ = [
    "add_line",
    "bill_expenses",
    "bill_time_entries",
    "issue_invoice",
    "recalculate",
    "record_payment",
    "void_invoice",
]


def _session(invoice: Invoice) -> Session:
    session = object_session(invoice)
    if session is None:
        raise ConfigurationError("the invoice is not attached to a session")
    return session


def _lines(session: Session, invoice: Invoice) -> list[InvoiceLine]:
    session.flush()
    return list(
        session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.tenant_id == invoice.tenant_id, InvoiceLine.invoice_id == invoice.id)
            .order_by(InvoiceLine.line_number)
        )
    )


def _payer_is_corporation(session: Session, invoice: Invoice) -> bool:
    kind = session.scalar(
        select(Party.kind)
        .join(Client, (Client.tenant_id == Party.tenant_id) & (Client.party_id == Party.id))
        .where(Client.tenant_id == invoice.tenant_id, Client.id == invoice.client_id)
    )
    return kind == "company"


def recalculate(invoice: Invoice) -> InvoiceTotals:
    """Compute the draft ``invoice``'s totals from its lines and write them, with one
    tax summary row per taxable rate, in the invoice's session (flushed, not committed).

    源泉徴収 applies when the firm is not a 弁護士法人 and the client is a company, or
    an individual who employs staff (``invoice.payer_is_employer``).
    """
    session = _session(invoice)
    if invoice.state != "draft":
        raise InvalidInvoice(f"only a draft invoice can be recalculated (it is {invoice.state})")
    firm = session.get(Tenant, invoice.tenant_id)
    if firm is None:
        raise ConfigurationError("the invoice's firm is not visible in this session")
    lines = _lines(session, invoice)
    totals = calculate_invoice(
        [
            invoice_calc.InvoiceLine(ln.amount_yen, ln.tax_category, ln.subject_to_withholding)
            for ln in lines
        ],
        payer_is_corporation=_payer_is_corporation(session, invoice),
        payee_is_individual=firm.firm_form != "professional_corporation",
        payer_is_employer=invoice.payer_is_employer,
    )
    invoice.subtotal_yen = totals.subtotal
    invoice.tax_yen = totals.tax
    invoice.withholding_yen = totals.withholding
    invoice.total_yen = totals.total

    # Update summaries in place (replacing them would insert a row for a rate before the
    # old row of that rate is deleted, and trip the per-invoice unique index).
    existing = {
        s.tax_category: s
        for s in session.scalars(
            select(InvoiceTaxSummary).where(
                InvoiceTaxSummary.tenant_id == invoice.tenant_id,
                InvoiceTaxSummary.invoice_id == invoice.id,
            )
        )
    }
    for category in TAX_RATES:
        summary = existing.pop(category, None)
        if category not in totals.taxable_by_rate:
            if summary is not None:
                session.delete(summary)
            continue
        if summary is None:
            summary = InvoiceTaxSummary(
                tenant_id=invoice.tenant_id,
                invoice_id=invoice.id,
                tax_category=category,
                rate_percent=TAX_RATE_PERCENT[category],
            )
            session.add(summary)
        summary.taxable_yen = totals.taxable_by_rate[category]
        summary.tax_yen = totals.tax_by_rate[category]
    for stale in existing.values():
        session.delete(stale)
    session.flush()
    session.expire(invoice, ["tax_summaries"])
    return totals


def issue_invoice(
    session: Session,
    invoice: Invoice,
    *,
    issue_date: dt.date | None = None,
    due_date: dt.date | None = None,
) -> InvoiceTotals:
    """Recalculate and issue ``invoice`` in the session's transaction.

    The invoice row is locked first, so no line can be added while it is being issued.
    Afterwards ``invoice`` carries its number, issue date and issuer snapshot.
    """
    session.flush()
    session.refresh(invoice, with_for_update=True)
    totals = recalculate(invoice)
    invoice.issue_date = issue_date or invoice.issue_date
    invoice.due_date = due_date or invoice.due_date
    invoice.state = "issued"
    session.flush()
    session.refresh(invoice)
    return totals


def record_payment(
    session: Session,
    invoice: Invoice,
    amount_yen: int,
    *,
    paid_on: dt.date | None = None,
    method: str = "bank_transfer",
    reference: str | None = None,
) -> Payment:
    """Record a payment against an issued invoice; the invoice's state follows it."""
    payment = Payment(
        tenant_id=invoice.tenant_id,
        invoice_id=invoice.id,
        amount_yen=amount_yen,
        paid_on=paid_on or dt.date.today(),
        method=method,
        reference=reference,
    )
    session.add(payment)
    session.flush()
    session.refresh(invoice)
    return payment


def void_invoice(session: Session, invoice: Invoice, reason: str) -> None:
    """Void an invoice that has no payments, and release its time entries and expenses
    so they can be billed again."""
    invoice.state = "void"
    invoice.voided_at = func.now()
    invoice.void_reason = reason
    session.flush()
    line_ids = select(InvoiceLine.id).where(
        InvoiceLine.tenant_id == invoice.tenant_id, InvoiceLine.invoice_id == invoice.id
    )
    for model in (TimeEntry, Expense):
        session.execute(
            update(model)
            .where(model.tenant_id == invoice.tenant_id, model.invoice_line_id.in_(line_ids))
            .values(invoice_line_id=None),
            execution_options={"synchronize_session": "fetch"},
        )
    session.refresh(invoice)


def add_line(
    session: Session,
    invoice: Invoice,
    *,
    kind: str,
    description: str,
    amount_yen: int,
    tax_category: str = "taxable_10",
    subject_to_withholding: bool = True,
) -> InvoiceLine:
    """Append a line to a draft invoice (numbered after the last one)."""
    last = session.scalar(
        select(func.max(InvoiceLine.line_number)).where(
            InvoiceLine.tenant_id == invoice.tenant_id, InvoiceLine.invoice_id == invoice.id
        )
    )
    line = InvoiceLine(
        tenant_id=invoice.tenant_id,
        invoice_id=invoice.id,
        line_number=(last or 0) + 1,
        kind=kind,
        description=description,
        amount_yen=amount_yen,
        tax_category=tax_category,
        subject_to_withholding=subject_to_withholding,
    )
    session.add(line)
    session.flush()
    return line


def bill_time_entries(
    session: Session,
    invoice: Invoice,
    entries: Sequence[TimeEntry],
    *,
    description: str | None = None,
    tax_category: str = "taxable_10",
) -> InvoiceLine:
    """Bill ``entries`` as one タイムチャージ line: minutes x hourly rate, floored once."""
    if not entries:
        raise InvalidInvoice("no time entries to bill")
    amount = sum(e.minutes * e.rate_yen for e in entries) // 60
    minutes = sum(e.minutes for e in entries)
    line = add_line(
        session,
        invoice,
        kind="タイムチャージ",
        description=description or f"タイムチャージ ({minutes // 60}時間{minutes % 60}分)",
        amount_yen=amount,
        tax_category=tax_category,
    )
    for entry in entries:
        entry.invoice_line_id = line.id
    session.flush()
    return line


def bill_expenses(
    session: Session, invoice: Invoice, expenses: Iterable[Expense]
) -> list[InvoiceLine]:
    """Bill each expense as a 実費 line with its own tax category. A 立替金 is paid on to a
    third party and is not subject to 源泉徴収."""
    lines = []
    for expense in expenses:
        line = add_line(
            session,
            invoice,
            kind="実費",
            description=expense.description or expense.category,
            amount_yen=expense.amount_yen,
            tax_category=expense.tax_category,
            subject_to_withholding=not expense.is_disbursement,
        )
        expense.invoice_line_id = line.id
        lines.append(line)
    session.flush()
    return lines
