"""Factories for time entries, expenses, invoices (draft and issued), invoice lines, tax
summaries, payments, trust accounts and trust ledger entries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory

from legal_data.models import (
    Expense,
    Invoice,
    InvoiceLine,
    InvoiceTaxSummary,
    Payment,
    TimeEntry,
    TrustAccount,
    TrustLedgerEntry,
)
from legal_data.testing.factories.base import TenantOwnedFactory, corporate_number
from legal_data.testing.factories.core import CaseFactory, ClientFactory, UserFactory
from legal_data.testing.factories.documents import DocumentFactory


class TimeEntryFactory(TenantOwnedFactory):
    class Meta:
        model = TimeEntry

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    user_id = factory.LazyAttribute(lambda o: UserFactory(tenant_id=o.tenant_id).id)
    work_date = factory.Sequence(lambda n: dt.date(2026, 4, 1) + dt.timedelta(days=n % 300))
    minutes = 90
    rate_yen = 30_000
    billable = True
    description = "準備書面の起案"
    # Billed on a line of a draft invoice (pass invoice_line_id=None for unbilled time).
    invoice_line_id = factory.LazyAttribute(lambda o: InvoiceLineFactory(tenant_id=o.tenant_id).id)


class ExpenseFactory(TenantOwnedFactory):
    """A 立替金: 収入印紙 paid on the client's behalf (不課税), with its receipt, billed on a
    draft invoice's line (pass invoice_line_id=None for an unbilled expense)."""

    class Meta:
        model = Expense

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    user_id = factory.LazyAttribute(lambda o: UserFactory(tenant_id=o.tenant_id).id)
    receipt_document_id = factory.LazyAttribute(
        lambda o: DocumentFactory(tenant_id=o.tenant_id, title="領収書").id
    )
    invoice_line_id = factory.LazyAttribute(
        lambda o: (
            InvoiceLineFactory(tenant_id=o.tenant_id, kind="実費", tax_category="out_of_scope").id
        )
    )
    incurred_on = dt.date(2026, 4, 2)
    category = "印紙代"
    amount_yen = 13_000
    tax_category = "out_of_scope"
    is_disbursement = True
    description = "訴状貼用印紙"


class InvoiceFactory(TenantOwnedFactory):
    """A draft invoice for a case, addressed to a client (a company, so 源泉徴収 applies;
    not necessarily the case's client: e.g. a parent company pays)."""

    class Meta:
        model = Invoice

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    client_id = factory.LazyAttribute(lambda o: ClientFactory(tenant_id=o.tenant_id).id)
    recipient_name = "株式会社サンプル商事 御中"
    state = "draft"


class IssuedInvoiceFactory(InvoiceFactory):
    """An issued qualified invoice: one 着手金 line (default 100,000 yen, 10%), totals by
    :func:`legal_data.billing.issue_invoice` (so 源泉徴収 applies to a company client)."""

    fee_yen = 100_000
    # The firm's 登録番号 as printed on the invoice (firms made by tests often have none).
    issuer_registration_number = factory.Sequence(lambda n: f"T{corporate_number(8_000_000 + n)}")

    @classmethod
    def _create(cls, model_class: type[Invoice], *args: Any, **kwargs: Any) -> Invoice:
        from legal_data.billing import add_line, issue_invoice

        fee = kwargs.pop("fee_yen")
        invoice = super()._create(model_class, *args, **kwargs)
        session = cls._meta.sqlalchemy_session
        add_line(session, invoice, kind="着手金", description="着手金", amount_yen=fee)
        issue_invoice(session, invoice)
        return invoice


class InvoiceLineFactory(TenantOwnedFactory):
    class Meta:
        model = InvoiceLine

    invoice_id = factory.LazyAttribute(lambda o: InvoiceFactory(tenant_id=o.tenant_id).id)
    line_number = factory.Sequence(lambda n: n + 1)
    kind = "着手金"
    description = "着手金"
    amount_yen = 300_000
    tax_category = "taxable_10"
    subject_to_withholding = True


class InvoiceTaxSummaryFactory(TenantOwnedFactory):
    class Meta:
        model = InvoiceTaxSummary

    invoice_id = factory.LazyAttribute(lambda o: InvoiceFactory(tenant_id=o.tenant_id).id)
    tax_category = "taxable_10"
    rate_percent = 10
    taxable_yen = 300_000
    tax_yen = 30_000


class PaymentFactory(TenantOwnedFactory):
    """A partial payment of an issued invoice."""

    class Meta:
        model = Payment

    invoice_id = factory.LazyAttribute(lambda o: IssuedInvoiceFactory(tenant_id=o.tenant_id).id)
    amount_yen = 10_000
    paid_on = dt.date(2026, 5, 31)
    method = "bank_transfer"


class TrustAccountFactory(TenantOwnedFactory):
    """The firm's dedicated 預り金 account (its name must contain 預り金)."""

    class Meta:
        model = TrustAccount

    name = factory.Sequence(lambda n: f"預り金口座{n}")
    kind = "dedicated"
    bank_name = "みずほ銀行"
    branch_name = "東京営業部"
    account_type = "普通"
    account_number = factory.Sequence(lambda n: f"{1_000_000 + n % 9_000_000:07d}")
    registered_with_bar_on = dt.date(2024, 4, 1)


class TrustLedgerEntryFactory(TenantOwnedFactory):
    """A deposit; ``seq`` and ``balance_after_yen`` are computed by the database."""

    class Meta:
        model = TrustLedgerEntry

    account_id = factory.LazyAttribute(lambda o: TrustAccountFactory(tenant_id=o.tenant_id).id)
    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    # The client the money belongs to. A client of its own by default (one of a case's
    # joint clients); pass client_id=case.client_id for the usual single client.
    client_id = factory.LazyAttribute(lambda o: ClientFactory(tenant_id=o.tenant_id).id)
    kind = "deposit"
    amount_yen = 300_000
    occurred_on = dt.date(2026, 4, 1)
    received_from = "client"
    description = "着手金・実費の預り"
