"""Demo: the work and money of one case.

:func:`demo_work_and_money` runs inside a tenant session of the firm (the app role, Row
Level Security in force) and adds to one existing case: documents with versions, time
entries and an expense, an issued qualified invoice (適格請求書) with 源泉徴収, and a
deposit of client money (預り金). It returns the lines to print.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from legal_data import billing, trust
from legal_data.domain.corporate_number import corporate_number_check_digit
from legal_data.models import (
    Case,
    Client,
    Document,
    DocumentCategory,
    Expense,
    Invoice,
    Party,
    Tenant,
    TimeEntry,
    TrustAccount,
    add_document_version,
    seed_document_categories,
)

DEMO_ACCOUNT_NAME = "預り金口座（みずほ銀行 東京営業部）"


def _yen(amount: int) -> str:
    return f"{amount:,}円"


def _demo_registration_number(firm_id: uuid.UUID) -> str:
    base = f"{firm_id.int % 10**12:012d}"
    return f"T{corporate_number_check_digit(base)}{base}"


def _add_document(
    session: Session,
    case: Case,
    category_id: uuid.UUID | None,
    title: str,
    user_id: uuid.UUID,
    contents: list[bytes],
) -> Document:
    document = Document(
        tenant_id=case.tenant_id,
        case_id=case.id,
        category_id=category_id,
        title=title,
        retain_until=dt.date.today() + dt.timedelta(days=3653),  # about 10 years
    )
    session.add(document)
    session.flush()
    for n, content in enumerate(contents, start=1):
        add_document_version(
            session,
            document,
            storage_key=f"{case.tenant_id}/{document.id}/v{n}.pdf",
            sha256=hashlib.sha256(content).hexdigest(),
            size_bytes=len(content),
            mime_type="application/pdf",
            uploaded_by=user_id,
            original_filename=f"{title}_v{n}.pdf",
            extracted_text=content.decode(),
        )
    return document


def demo_work_and_money(
    session: Session, firm_id: uuid.UUID, case_id: uuid.UUID, user_id: uuid.UUID
) -> list[str]:
    """Documents, time entries, an issued qualified invoice with withholding and a trust
    deposit for case ``case_id`` of firm ``firm_id``; ``user_id`` is the lawyer."""
    out: list[str] = []
    firm = session.get(Tenant, firm_id)
    case = session.get(Case, (firm_id, case_id))
    if firm is None or case is None:
        raise LookupError("the firm or the case is not visible in this session")
    client_party = session.scalar(
        select(Party)
        .join(Client, (Client.tenant_id == Party.tenant_id) & (Client.party_id == Party.id))
        .where(Client.tenant_id == firm_id, Client.id == case.client_id)
    )
    assert client_party is not None

    # -- documents ---------------------------------------------------------------
    seed_document_categories(session, firm_id)  # idempotent; new firms have them already
    categories = {
        c.name: c.id
        for c in session.scalars(
            select(DocumentCategory).where(DocumentCategory.tenant_id == firm_id)
        )
    }
    complaint = _add_document(
        session, case, categories.get("訴状"), "訴状", user_id, [b"complaint v1"]
    )
    brief = _add_document(
        session,
        case,
        categories.get("準備書面"),
        "原告第1準備書面",
        user_id,
        [b"brief draft", b"brief as filed"],
    )
    session.refresh(brief)
    assert brief.current_version is not None
    out.append(
        f"文書: {complaint.title} (第1版), {brief.title} "
        f"(第{brief.current_version.version_number}版が現行, sha256 "
        f"{brief.current_version.sha256[:12]}…)"
    )

    # -- time and expenses ---------------------------------------------------------
    today = dt.date.today()
    entries = [
        TimeEntry(
            tenant_id=firm_id,
            case_id=case_id,
            user_id=user_id,
            work_date=today - dt.timedelta(days=days),
            minutes=minutes,
            rate_yen=30_000,
            description=what,
        )
        for days, minutes, what in (
            (10, 90, "依頼者との打合せ"),
            (7, 180, "訴状の起案"),
            (3, 60, "証拠の検討"),
        )
    ]
    stamp = Expense(
        tenant_id=firm_id,
        case_id=case_id,
        user_id=user_id,
        incurred_on=today - dt.timedelta(days=6),
        category="印紙代",
        amount_yen=13_000,
        tax_category="out_of_scope",
        is_disbursement=True,
        description="訴状貼用印紙（立替金）",
    )
    session.add_all([*entries, stamp])
    session.flush()
    total_minutes = sum(e.minutes for e in entries)
    out.append(
        f"タイムチャージ: {len(entries)}件 {total_minutes // 60}時間{total_minutes % 60}分 "
        f"(単価 {_yen(30_000)}/時), 実費: 印紙代 {_yen(stamp.amount_yen)} (立替金・不課税)"
    )

    # -- an issued qualified invoice with 源泉徴収 --------------------------------------
    if firm.qualified_invoice_number is None:
        firm.qualified_invoice_number = _demo_registration_number(firm_id)
        session.flush()
        out.append(f"(デモ用の登録番号 {firm.qualified_invoice_number} を事務所に設定)")
    invoice = Invoice(
        tenant_id=firm_id,
        client_id=case.client_id,
        case_id=case_id,
        recipient_name=client_party.name + (" 御中" if client_party.kind == "company" else " 様"),
        # A private client who employs staff withholds too; the demo's clients do either way.
        payer_is_employer=client_party.kind == "person",
    )
    session.add(invoice)
    session.flush()
    billing.add_line(session, invoice, kind="着手金", description="着手金", amount_yen=300_000)
    billing.bill_time_entries(session, invoice, entries)
    billing.bill_expenses(session, invoice, [stamp])
    totals = billing.issue_invoice(session, invoice, due_date=today + dt.timedelta(days=30))
    out.append(
        f"請求書 No.{invoice.invoice_number} ({invoice.issue_date:%Y-%m-%d}, "
        f"{invoice.issuer_name} 登録番号 {invoice.issuer_registration_number}) "
        f"宛先 {invoice.recipient_name}"
    )
    for summary in invoice.tax_summaries:
        out.append(
            f"  {summary.rate_percent}%対象 {_yen(summary.taxable_yen)} "
            f"消費税 {_yen(summary.tax_yen)}"
        )
    out.append(
        f"  小計 {_yen(totals.subtotal)} + 消費税 {_yen(totals.tax)} "
        f"- 源泉徴収 {_yen(totals.withholding)} = 請求額 {_yen(totals.total)}"
    )
    if totals.withholding == 0:
        out.append("  (弁護士法人の報酬には源泉徴収はありません)")

    # -- a deposit of client money -----------------------------------------------------
    account = session.scalar(
        select(TrustAccount).where(
            TrustAccount.tenant_id == firm_id, TrustAccount.name == DEMO_ACCOUNT_NAME
        )
    )
    if account is None:
        account = TrustAccount(
            tenant_id=firm_id,
            name=DEMO_ACCOUNT_NAME,
            kind="dedicated",
            bank_name="みずほ銀行",
            branch_name="東京営業部",
            account_type="普通",
            account_number=f"{firm_id.int % 10**7:07d}",
            registered_with_bar_on=today - dt.timedelta(days=365),
        )
        session.add(account)
        session.flush()
    entry = trust.deposit(
        session,
        account=account,
        case=case,
        amount_yen=500_000,
        description="和解金の受領（相手方より）",
        received_from="third_party",
    )
    trust.mark_receipt_issued(session, entry)
    trust.mark_client_notified(session, entry)
    out.append(
        f"預り金: {account.name} に {_yen(entry.amount_yen)} 入金 "
        f"(第{entry.seq}記帳, 残高 {_yen(entry.balance_after_yen)}, 預り証発行・依頼者通知済)"
    )
    return out
