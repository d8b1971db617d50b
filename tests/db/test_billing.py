"""Money: invoices (arithmetic, tax per rate, 源泉徴収, numbers, issuing, freezing),
payments, time entries and expenses. Each rule is tried through the ORM (or the billing
API) and through plain SQL as the app role, and must come back as a typed error."""

from __future__ import annotations

import datetime as dt

import pytest
from domain_support import db_fixture, firm_fixture, firms_fixture, run, sql  # noqa: F401
from sqlalchemy import select

from legal_data import billing
from legal_data.demo.work_and_money import demo_work_and_money
from legal_data.errors import CheckViolation
from legal_data.models import Invoice, InvoiceLine, Payment, TimeEntry
from legal_data.testing.factories import (
    CaseFactory,
    ClientFactory,
    ExpenseFactory,
    InvoiceFactory,
    InvoiceTaxSummaryFactory,
    PersonPartyFactory,
    TimeEntryFactory,
    UserFactory,
    corporate_number,
)

REGISTRATION = f"T{corporate_number(5_550_001)}"


@pytest.fixture(name="registered")
def registered_firm(firms):
    """A firm of individual lawyers registered as a qualified-invoice issuer."""
    return firms.new(qualified_invoice_number=REGISTRATION)


def draft(db, firm, *lines, **fields):
    """A draft invoice with ``lines`` = (kind, amount, tax category, subject to withholding)."""

    def work(s):
        invoice = InvoiceFactory(**fields)
        for kind, amount, category, withheld in lines:
            billing.add_line(
                s,
                invoice,
                kind=kind,
                description=kind,
                amount_yen=amount,
                tax_category=category,
                subject_to_withholding=withheld,
            )
        return invoice

    return run(db, firm, work)


def issue(db, firm, invoice_id, **kw):
    def work(s):
        invoice = s.get(Invoice, (firm.id, invoice_id))
        totals = billing.issue_invoice(s, invoice, **kw)
        return (
            invoice,
            totals,
            [
                (t.tax_category, t.rate_percent, t.taxable_yen, t.tax_yen)
                for t in invoice.tax_summaries
            ],
        )

    return run(db, firm, work)


FEE = ("着手金", 1_500_000, "taxable_10", True)
STAMPS = ("実費", 13_000, "out_of_scope", False)


def test_issuing_computes_tax_and_withholding_and_numbers_per_firm(db, registered, firms):
    invoice = draft(db, registered, FEE, STAMPS)
    issued, totals, summaries = issue(db, registered, invoice.id, issue_date=dt.date(2026, 6, 1))
    # 1,500,000 fee: tax 150,000; 源泉徴収 (1,500,000 - 1,000,000) x 20.42% + 102,100 = 204,200.
    assert (issued.subtotal_yen, issued.tax_yen, issued.withholding_yen, issued.total_yen) == (
        1_513_000,
        150_000,
        204_200,
        1_458_800,
    )
    assert totals.total == issued.total_yen
    assert summaries == [("taxable_10", 10, 1_500_000, 150_000)]
    assert issued.state == "issued" and issued.invoice_number == 1
    assert issued.issuer_registration_number == REGISTRATION
    assert issued.issuer_name == registered.name
    assert issued.issue_date == dt.date(2026, 6, 1) and issued.issued_at is not None

    second = draft(db, registered, FEE)
    assert issue(db, registered, second.id)[0].invoice_number == 2
    other = firms.new(qualified_invoice_number=REGISTRATION)
    elsewhere = draft(db, other, FEE)
    assert issue(db, other, elsewhere.id)[0].invoice_number == 1


def test_tax_is_rounded_once_per_rate_and_private_clients_do_not_withhold(db, registered):
    person = run(db, registered, lambda s: ClientFactory(party=PersonPartyFactory()))
    lines = [
        ("手数料", 1_012, "taxable_8", True),
        ("手数料", 1_012, "taxable_8", True),
        ("相談料", 1_000, "taxable_10", True),
    ]
    invoice = draft(db, registered, *lines, client_id=person.id)
    issued, _, summaries = issue(db, registered, invoice.id)
    # 8% of 2,024 = 161.92 -> 161 once (per line it would be 80 + 80 = 160).
    assert summaries == [("taxable_10", 10, 1_000, 100), ("taxable_8", 8, 2_024, 161)]
    assert (issued.tax_yen, issued.withholding_yen, issued.total_yen) == (261, 0, 3_285)


def test_invoice_arithmetic_is_enforced_by_the_database(db, registered):
    invoice = draft(db, registered)
    sql(
        db,
        registered,
        "UPDATE invoices SET subtotal_yen = 1000, tax_yen = 100, total_yen = 1100 WHERE id = :id",
        id=invoice.id,
    )
    for statement, rule in [
        ("UPDATE invoices SET total_yen = total_yen + 1", "ck_invoices_total_formula"),
        (
            "UPDATE invoices SET withholding_yen = 1001, total_yen = 99",
            "ck_invoices_withholding_within_subtotal",
        ),
        (
            "UPDATE invoices SET withholding_yen = -1, total_yen = 1101",
            "ck_invoices_withholding_within_subtotal",
        ),
        (
            "UPDATE invoices SET issuer_registration_number = 'T123'",
            "ck_invoices_issuer_registration_number_format",
        ),
    ]:
        with pytest.raises(CheckViolation) as info:
            sql(db, registered, statement + " WHERE id = :id", id=invoice.id)
        assert info.value.rule == rule, statement

    def orm_bad_total(s):
        s.get(Invoice, (registered.id, invoice.id)).total_yen = 1

    with pytest.raises(CheckViolation, match="subtotal \\+ tax - withholding"):
        run(db, registered, orm_bad_total)
    with pytest.raises(CheckViolation) as info:
        draft(db, registered, ("着手金", 1_000, "taxable_5", True))
    assert info.value.rule == "ck_invoice_lines_tax_category"
    with pytest.raises(CheckViolation) as info:
        draft(db, registered, ("成功報酬", 1_000, "taxable_10", True))
    assert info.value.rule == "ck_invoice_lines_kind"
    with pytest.raises(CheckViolation) as info:
        run(db, registered, lambda s: InvoiceTaxSummaryFactory(tax_yen=29_000))
    assert info.value.rule == "ck_invoice_tax_summaries_tax_matches_rate"
    with pytest.raises(CheckViolation) as info:
        run(db, registered, lambda s: InvoiceTaxSummaryFactory(tax_category="taxable_8"))
    assert info.value.rule == "ck_invoice_tax_summaries_rate_matches_category"


def test_issuing_checks_the_totals_against_the_lines(db, registered, firms):
    empty = draft(db, registered)
    with pytest.raises(CheckViolation) as info:
        sql(db, registered, "UPDATE invoices SET state = 'issued' WHERE id = :id", id=empty.id)
    assert info.value.rule == "ck_invoices_has_lines"

    invoice = draft(db, registered, ("着手金", 300_000, "taxable_10", True))
    with pytest.raises(CheckViolation) as info:  # totals never computed
        sql(db, registered, "UPDATE invoices SET state = 'issued' WHERE id = :id", id=invoice.id)
    assert info.value.rule == "ck_invoices_subtotal_matches_lines"
    sql(
        db,
        registered,
        "UPDATE invoices SET subtotal_yen = 300000, total_yen = 300000 WHERE id = :id",
        id=invoice.id,
    )
    with pytest.raises(CheckViolation) as info:  # no per-rate summary
        sql(db, registered, "UPDATE invoices SET state = 'issued' WHERE id = :id", id=invoice.id)
    assert info.value.rule == "ck_invoices_tax_summaries_match_lines"
    run(db, registered, lambda s: InvoiceTaxSummaryFactory(invoice_id=invoice.id))
    with pytest.raises(CheckViolation) as info:  # summary says 30,000 tax, invoice says 0
        sql(db, registered, "UPDATE invoices SET state = 'issued' WHERE id = :id", id=invoice.id)
    assert info.value.rule == "ck_invoices_tax_matches_summaries"

    unregistered = firms.new()
    lone = draft(db, unregistered, FEE)
    with pytest.raises(CheckViolation) as info:
        issue(db, unregistered, lone.id)
    assert info.value.rule == "ck_invoices_issued_fields"
    assert run(db, unregistered, lambda s: s.get(Invoice, (unregistered.id, lone.id)).state) == (
        "draft"
    )


def test_an_issued_invoice_and_its_lines_no_longer_change(db, registered):
    invoice = draft(db, registered, FEE)
    issued = issue(db, registered, invoice.id)[0]
    line_id = run(
        db,
        registered,
        lambda s: s.scalar(select(InvoiceLine.id).where(InvoiceLine.invoice_id == invoice.id)),
    )

    def add(s):
        billing.add_line(
            s,
            s.get(Invoice, (registered.id, invoice.id)),
            kind="日当",
            description="日当",
            amount_yen=30_000,
        )

    with pytest.raises(CheckViolation) as info:
        run(db, registered, add)
    assert info.value.rule == "ck_invoice_lines_invoice_is_draft"
    assert "can no longer change" in str(info.value)
    for statement, rule in [
        (
            "UPDATE invoice_lines SET amount_yen = 1 WHERE id = :id",
            "ck_invoice_lines_invoice_is_draft",
        ),
        ("DELETE FROM invoice_lines WHERE id = :id", "ck_invoice_lines_invoice_is_draft"),
    ]:
        with pytest.raises(CheckViolation) as info:
            sql(db, registered, statement, id=line_id)
        assert info.value.rule == rule
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            registered,
            "UPDATE invoice_tax_summaries SET taxable_yen = 0, tax_yen = 0 WHERE invoice_id = :id",
            id=invoice.id,
        )
    assert info.value.rule == "ck_invoice_tax_summaries_invoice_is_draft"

    def orm_edit(s):
        s.get(Invoice, (registered.id, invoice.id)).recipient_name = "別会社 御中"

    with pytest.raises(CheckViolation) as info:
        run(db, registered, orm_edit)
    assert info.value.rule == "ck_invoices_issued_immutable"
    with pytest.raises(CheckViolation) as info:
        sql(db, registered, "DELETE FROM invoices WHERE id = :id", id=invoice.id)
    assert info.value.rule == "ck_invoices_issued_immutable"
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            registered,
            "UPDATE invoices SET state = 'draft', issued_at = NULL, "
            "invoice_number = NULL WHERE id = :id",
            id=invoice.id,
        )
    assert info.value.rule == "ck_invoices_issued_immutable"
    with pytest.raises(CheckViolation) as info:
        sql(db, registered, "UPDATE invoices SET state = 'draft' WHERE id = :id", id=invoice.id)
    assert info.value.rule == "ck_invoices_state_transition"
    # Internal notes may still change.
    sql(db, registered, "UPDATE invoices SET notes = '督促済' WHERE id = :id", id=issued.id)


def test_an_invoice_is_created_as_a_draft(db, registered):
    client = run(db, registered, lambda s: ClientFactory())
    with pytest.raises(CheckViolation) as info:  # refused at commit
        sql(
            db,
            registered,
            "INSERT INTO invoices (tenant_id, id, client_id, state, invoice_number, issue_date,"
            " issued_at, issuer_name, issuer_registration_number, recipient_name)"
            " VALUES (:t, gen_random_uuid(), :c, 'issued', 99, '2026-06-01', now(), '事務所',"
            " :r, '宛先')",
            t=registered.id,
            c=client.id,
            r=REGISTRATION,
        )
    assert info.value.rule == "ck_invoices_created_as_draft"


def test_a_professional_corporation_never_withholds(db, firms):
    corporation = firms.new(
        firm_form="professional_corporation", qualified_invoice_number=REGISTRATION
    )
    invoice = draft(db, corporation, FEE)
    issued = issue(db, corporation, invoice.id)[0]
    assert (issued.withholding_yen, issued.total_yen) == (0, 1_650_000)
    other = draft(db, corporation)
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            corporation,
            "UPDATE invoices SET subtotal_yen = 10000, withholding_yen = 1021, total_yen = 8979"
            " WHERE id = :id",
            id=other.id,
        )
    assert info.value.rule == "ck_invoices_no_withholding_for_corporation"


def test_the_paid_state_follows_the_payments(db, registered):
    invoice = issue(db, registered, draft(db, registered, FEE).id)[0]
    total = invoice.total_yen

    def pay(amount):
        def work(s):
            row = s.get(Invoice, (registered.id, invoice.id))
            payment = billing.record_payment(s, row, amount, paid_on=dt.date(2026, 6, 30))
            return payment, row.state, row.paid_at

        return work

    first, state, _ = run(db, registered, pay(1_000_000))
    assert state == "issued"
    with pytest.raises(CheckViolation) as info:
        run(db, registered, pay(total - 1_000_000 + 1))
    assert info.value.rule == "ck_payments_not_above_total"
    _, state, paid_at = run(db, registered, pay(total - 1_000_000))
    assert state == "paid" and paid_at is not None

    sql(db, registered, "DELETE FROM payments WHERE id = :id", id=first.id)
    assert run(db, registered, lambda s: s.get(Invoice, (registered.id, invoice.id)).state) == (
        "issued"
    )
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            registered,
            "UPDATE invoices SET state = 'paid', paid_at = now() WHERE id = :id",
            id=invoice.id,
        )
    assert info.value.rule == "ck_invoices_paid_follows_payments"

    def void(s):
        billing.void_invoice(s, s.get(Invoice, (registered.id, invoice.id)), "誤請求")

    with pytest.raises(CheckViolation) as info:
        run(db, registered, void)
    assert info.value.rule == "ck_invoices_void_without_payments"

    unissued = draft(db, registered, FEE)
    with pytest.raises(CheckViolation) as info:
        run(
            db,
            registered,
            lambda s: s.add(
                Payment(
                    tenant_id=registered.id,
                    invoice_id=unissued.id,
                    amount_yen=1,
                    paid_on=dt.date(2026, 6, 1),
                    method="cash",
                )
            ),
        )
    assert info.value.rule == "ck_payments_invoice_issued"
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            registered,
            "UPDATE payments SET amount_yen = 0 WHERE invoice_id = :id",
            id=invoice.id,
        )
    assert info.value.rule == "ck_payments_amount_positive"


@pytest.mark.parametrize("minutes", [0, -30, 1441])
def test_time_entry_minutes_are_within_a_day(db, firm, minutes):
    with pytest.raises(CheckViolation) as info:
        run(db, firm, lambda s: TimeEntryFactory(minutes=minutes, invoice_line_id=None))
    assert info.value.rule == "ck_time_entries_minutes_range"
    assert "1440" in str(info.value)
    entry = run(db, firm, lambda s: TimeEntryFactory(minutes=1440, invoice_line_id=None))
    with pytest.raises(CheckViolation) as info:
        sql(db, firm, "UPDATE time_entries SET minutes = :m WHERE id = :id", m=minutes, id=entry.id)
    assert info.value.rule == "ck_time_entries_minutes_range"


def test_a_time_entry_is_billed_at_most_once(db, registered):
    def setup(s):
        case = CaseFactory()
        lawyer = UserFactory()
        entries = [
            TimeEntryFactory(case_id=case.id, user_id=lawyer.id, minutes=m, invoice_line_id=None)
            for m in (90, 45)
        ]
        first, second = InvoiceFactory(case_id=case.id), InvoiceFactory(case_id=case.id)
        line = billing.bill_time_entries(s, first, entries)
        other_line = billing.add_line(
            s, second, kind="手数料", description="手数料", amount_yen=10_000
        )
        return [e.id for e in entries], first.id, second.id, line, other_line.id

    entry_ids, first_id, second_id, line, other_line_id = run(db, registered, setup)
    assert line.kind == "タイムチャージ" and line.amount_yen == 135 * 30_000 // 60

    with pytest.raises(CheckViolation) as info:  # moved to another invoice's line
        sql(
            db,
            registered,
            "UPDATE time_entries SET invoice_line_id = :l WHERE id = :id",
            l=other_line_id,
            id=entry_ids[0],
        )
    assert info.value.rule == "ck_time_entries_billed_once"

    issue(db, registered, first_id)

    def edit(s):
        s.get(TimeEntry, (registered.id, entry_ids[0])).minutes = 30

    with pytest.raises(CheckViolation) as info:
        run(db, registered, edit)
    assert info.value.rule == "ck_time_entries_billed_frozen"
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            registered,
            "UPDATE time_entries SET invoice_line_id = NULL WHERE id = :id",
            id=entry_ids[0],
        )
    assert info.value.rule == "ck_time_entries_billed_frozen"

    # Voiding the invoice releases the work, which can then be billed again.
    run(
        db,
        registered,
        lambda s: billing.void_invoice(s, s.get(Invoice, (registered.id, first_id)), "宛先誤り"),
    )

    def rebill(s):
        entries = [s.get(TimeEntry, (registered.id, i)) for i in entry_ids]
        assert all(e.invoice_line_id is None for e in entries)
        return billing.bill_time_entries(s, s.get(Invoice, (registered.id, second_id)), entries)

    assert run(db, registered, rebill).invoice_id == second_id


def test_a_disbursement_is_out_of_scope_and_not_withheld(db, registered):
    with pytest.raises(CheckViolation) as info:
        run(
            db,
            registered,
            lambda s: ExpenseFactory(tax_category="taxable_10", invoice_line_id=None),
        )
    assert info.value.rule == "ck_expenses_disbursement_out_of_scope"
    assert "不課税" in str(info.value)

    def work(s):
        expense = ExpenseFactory(invoice_line_id=None)
        invoice = InvoiceFactory(case_id=expense.case_id)
        billing.add_line(s, invoice, kind="着手金", description="着手金", amount_yen=100_000)
        (line,) = billing.bill_expenses(s, invoice, [expense])
        totals = billing.issue_invoice(s, invoice)
        return line, totals

    line, totals = run(db, registered, work)
    assert (line.kind, line.tax_category, line.subject_to_withholding) == (
        "実費",
        "out_of_scope",
        False,
    )
    # Withholding on the fee only: 10.21% of 100,000.
    assert (totals.subtotal, totals.tax, totals.withholding) == (113_000, 10_000, 10_210)


def test_the_demo_issues_a_qualified_invoice_with_withholding(db, firm):
    def work(s):
        case = CaseFactory(status="open")
        lawyer = UserFactory()
        return demo_work_and_money(s, firm.id, case.id, lawyer.id)

    lines = run(db, firm, work)
    text_out = "\n".join(lines)
    assert "請求書 No.1" in text_out
    # Withheld on the fees only: 10.21% of 300,000 着手金 + 165,000 タイムチャージ (5.5 h).
    assert "源泉徴収 47,476円" in text_out
    assert "預り金" in text_out and "残高 500,000円" in text_out
