"""The monthly financial report (月次集計): time, expenses, invoices and 源泉徴収 by case.

One statement: the month's time entries, expenses and issued invoices of the firm are
read once through three ``(tenant_id, <date>) INCLUDE (...)`` indexes (index-only scans,
no heap visit once the table is vacuumed) into one materialized set. The firm's totals
are plain sums over it; the per-case lines are a keyset page ordered by case id — the
page's case ids are picked first (a distinct, no sums), then only those cases are summed
and joined to ``cases`` for their number and title.

No summary table or materialized view: at 1,000,000 cases the largest firm's month is
about 30,000 rows, which the indexes aggregate within the budget (see ``perf/README.md``),
and a live aggregate cannot go stale or leak across firms — it is the firm's own rows
under Row Level Security and its ethical walls.

Amounts are integer yen: the time amount of an entry is ``minutes * rate_yen / 60``
floored (as :attr:`legal_data.models.TimeEntry.amount_yen`), summed per case. Invoices
count in the month of their ``issue_date`` when issued or paid (drafts and voided
invoices do not); invoices without a case are in the totals, not in the lines.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Session
from sqlalchemy.types import Date, Integer

from legal_data.queries._common import (
    InvalidQuery,
    Page,
    check_cursor,
    check_limit,
    firm_in_context,
    page_of,
    run,
)

MONTHLY_REPORT_SQL = """
WITH activity AS MATERIALIZED (
    SELECT te.case_id,
           te.minutes::bigint AS minutes,
           CASE WHEN te.billable THEN te.minutes ELSE 0 END::bigint AS billable_minutes,
           te.minutes * te.rate_yen / 60 AS time_yen,
           0::bigint AS expenses_yen, 0::bigint AS disbursements_yen,
           0::bigint AS invoices, 0::bigint AS subtotal_yen, 0::bigint AS tax_yen,
           0::bigint AS withholding_yen, 0::bigint AS total_yen
    FROM time_entries te
    WHERE te.tenant_id = :tenant_id AND te.work_date >= :first_day AND te.work_date < :next_month
    UNION ALL
    SELECT ex.case_id, 0, 0, 0,
           ex.amount_yen, CASE WHEN ex.is_disbursement THEN ex.amount_yen ELSE 0 END,
           0, 0, 0, 0, 0
    FROM expenses ex
    WHERE ex.tenant_id = :tenant_id AND ex.incurred_on >= :first_day
      AND ex.incurred_on < :next_month
    UNION ALL
    SELECT inv.case_id, 0, 0, 0, 0, 0,
           1, inv.subtotal_yen, inv.tax_yen, inv.withholding_yen, inv.total_yen
    FROM invoices inv
    WHERE inv.tenant_id = :tenant_id AND inv.issue_date >= :first_day
      AND inv.issue_date < :next_month AND inv.state IN ('issued', 'paid')
),
-- The cases first (one distinct over ids, no sums: it also counts them), then the sums of
-- the page's cases only: grouping every case of a big firm's month with ten sums each
-- costs more than the scans.
ids AS (SELECT DISTINCT case_id FROM activity),
page AS (
    SELECT case_id FROM ids
    WHERE case_id IS NOT NULL AND (CAST(:after AS uuid) IS NULL OR case_id > :after)
    ORDER BY case_id
    LIMIT :fetch
),
lines AS (
    SELECT a.case_id,
           sum(a.minutes) AS minutes, sum(a.billable_minutes) AS billable_minutes,
           sum(a.time_yen) AS time_yen, sum(a.expenses_yen) AS expenses_yen,
           sum(a.disbursements_yen) AS disbursements_yen, sum(a.invoices) AS invoices,
           sum(a.subtotal_yen) AS subtotal_yen, sum(a.tax_yen) AS tax_yen,
           sum(a.withholding_yen) AS withholding_yen, sum(a.total_yen) AS total_yen
    FROM activity a JOIN page p ON p.case_id = a.case_id
    GROUP BY a.case_id
),
totals AS (
    SELECT (SELECT count(case_id) FROM ids) AS cases,
           coalesce(sum(minutes), 0) AS minutes,
           coalesce(sum(billable_minutes), 0) AS billable_minutes,
           coalesce(sum(time_yen), 0) AS time_yen,
           coalesce(sum(expenses_yen), 0) AS expenses_yen,
           coalesce(sum(disbursements_yen), 0) AS disbursements_yen,
           coalesce(sum(invoices), 0) AS invoices,
           coalesce(sum(subtotal_yen), 0) AS subtotal_yen,
           coalesce(sum(tax_yen), 0) AS tax_yen,
           coalesce(sum(withholding_yen), 0) AS withholding_yen,
           coalesce(sum(total_yen), 0) AS total_yen
    FROM activity
)
SELECT t.cases, t.minutes, t.billable_minutes, t.time_yen, t.expenses_yen,
       t.disbursements_yen, t.invoices, t.subtotal_yen, t.tax_yen, t.withholding_yen,
       t.total_yen,
       p.case_id, c.display_number, c.title, p.minutes, p.billable_minutes, p.time_yen,
       p.expenses_yen, p.disbursements_yen, p.invoices, p.subtotal_yen, p.tax_yen,
       p.withholding_yen, p.total_yen
FROM totals t
LEFT JOIN lines p ON true
LEFT JOIN cases c ON c.tenant_id = :tenant_id AND c.id = p.case_id
ORDER BY p.case_id
"""

_STATEMENT = text(MONTHLY_REPORT_SQL).bindparams(
    bindparam("tenant_id", type_=UUID(as_uuid=True)),
    bindparam("first_day", type_=Date()),
    bindparam("next_month", type_=Date()),
    bindparam("after", type_=UUID(as_uuid=True)),
    bindparam("fetch", type_=Integer()),
)


@dataclass(frozen=True, slots=True)
class Amounts:
    minutes: int
    billable_minutes: int
    time_yen: int
    expenses_yen: int
    #: 立替金 among the expenses (not the firm's taxable sale).
    disbursements_yen: int
    invoices: int
    subtotal_yen: int
    tax_yen: int
    #: 源泉徴収 withheld by payers on the month's invoices.
    withholding_yen: int
    total_yen: int


@dataclass(frozen=True, slots=True)
class ReportLine:
    case_id: uuid.UUID
    display_number: int | None
    title: str | None
    amounts: Amounts


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    year: int
    month: int
    #: Cases with any activity in the month.
    cases: int
    #: The whole firm's month, invoices without a case included.
    totals: Amounts
    #: Per case, ordered by case id; continue with ``monthly_report(..., after=lines.next)``.
    lines: Page[ReportLine, uuid.UUID]


def _amounts(values: tuple) -> Amounts:
    return Amounts(*(int(v or 0) for v in values))


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    """First day of the month and of the next one; refuses anything else than a real month."""
    for name, value in (("year", year), ("month", month)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidQuery(f"{name} must be an integer")
    if not 1 <= month <= 12 or not 1900 <= year <= 9998:
        raise InvalidQuery(f"no such month: {year}-{month}")
    first = dt.date(year, month, 1)
    return first, dt.date(year + month // 12, month % 12 + 1, 1)


def monthly_report(
    session: Session,
    year: int,
    month: int,
    *,
    after: uuid.UUID | None = None,
    limit: int = 100,
) -> MonthlyReport:
    """The firm's month: totals and a page of per-case lines (see the module docstring)."""
    firm = firm_in_context()
    first, next_month = month_bounds(year, month)
    limit = check_limit(limit)
    check_cursor("after", after, uuid.UUID)
    rows = run(
        session,
        _STATEMENT,
        {
            "tenant_id": firm,
            "first_day": first,
            "next_month": next_month,
            "after": after,
            "fetch": limit + 1,
        },
    ).all()
    head = rows[0]
    lines = [
        ReportLine(r[11], r[12], r[13], _amounts(tuple(r[14:24])))
        for r in rows
        if r[11] is not None
    ]
    return MonthlyReport(
        year=year,
        month=month,
        cases=int(head[0]),
        totals=_amounts(tuple(head[1:11])),
        lines=page_of(lines, limit, lambda line: line.case_id),
    )
