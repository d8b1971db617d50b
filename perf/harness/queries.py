"""The measured query classes: each is a call of the library's public API, with the
parameters it cycles through (picked from the seeded data of the largest firm).

The raw-SQL floor of a class is not written by hand: the harness records the
statements (and bound parameters) the API call sends through the engine and replays
exactly those through raw psycopg. Every hot query carries an explicit ``tenant_id``
condition besides the policy, so the replay *is* "the same SQL with an explicit tenant
filter" the issue asks the floor to be.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy.orm import Session

from legal_data import queries
from legal_data.db.provision import libpq_conninfo
from perf.harness import vocab
from perf.harness.db import Target
from perf.harness.seed import KIND, firm_id, pid

JST = dt.timezone(dt.timedelta(hours=9))


@dataclass(frozen=True)
class Call:
    """One parameter set: who acts (the context's user) and the arguments."""

    user_id: uuid.UUID
    args: dict[str, Any]


@dataclass
class QueryClass:
    name: str
    label: str
    target_p95_ms: float
    run: Callable[[Session, dict[str, Any]], Any]
    calls: list[Call] = field(default_factory=list)
    unavailable: str | None = None  # why the class cannot run (e.g. API not there yet)


def _rows(result: Any) -> int:
    """How many rows a call returned (to report, and to catch empty results)."""
    if isinstance(result, queries.Page):
        return len(result.items)
    if isinstance(result, queries.CaseDetail):
        return 1 + len(result.parties) + len(result.communications) + len(result.documents)
    if isinstance(result, queries.MonthlyReport):
        return len(result.lines.items)
    if result is None:
        return 0
    try:
        return len(result)
    except TypeError:
        return 1


def _document_search() -> tuple[Callable[[Session, dict[str, Any]], Any] | None, str | None]:
    try:
        from legal_data import search
    except ImportError as exc:  # pragma: no cover - the package exists
        return None, f"legal_data.search not importable: {exc}"
    fn = getattr(search, "documents", None)
    if fn is None:
        return None, "legal_data.search.documents does not exist yet (search revision 0017)"
    return (lambda s, a: fn(s, a["q"])), None


@dataclass(frozen=True)
class Dataset:
    """What the query classes need to know about the seeded data."""

    firm: uuid.UUID
    firm_no: int
    lawyers: int
    cases: int
    anchor: dt.date  # first day of the month after the seeded data


def dataset(t: Target) -> Dataset:
    firm = firm_id(1)
    with psycopg.connect(libpq_conninfo(t.admin_url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM cases WHERE tenant_id = %(f)s),"
            " (SELECT count(*) FROM users WHERE tenant_id = %(f)s AND kind = 'lawyer'),"
            " (SELECT max(work_date) FROM time_entries WHERE tenant_id = %(f)s)",
            {"f": firm},
        ).fetchone()
    assert row is not None and row[0], "the largest firm (perf-0001) has no cases: seed first"
    cases, lawyers, last_day = int(row[0]), int(row[1]), row[2]
    return Dataset(firm, 1, lawyers, cases, (last_day + dt.timedelta(days=1)).replace(day=1))


def _month_back(anchor: dt.date, back: int) -> tuple[int, int]:
    y, m = divmod(anchor.year * 12 + anchor.month - 1 - back, 12)
    return y, m + 1


def query_classes(t: Target, d: Dataset) -> list[QueryClass]:
    lawyer = pid(KIND["user"], d.firm_no, 1)
    with psycopg.connect(libpq_conninfo(t.admin_url), autocommit=True) as conn:
        open_rows = conn.execute(
            "SELECT opened_on, id FROM cases WHERE tenant_id = %s AND status = 'open'"
            " AND deleted_at IS NULL ORDER BY opened_on DESC, id DESC",
            (d.firm,),
        ).fetchall()
        busy = conn.execute(
            "SELECT c.id FROM cases c WHERE c.tenant_id = %s AND c.deleted_at IS NULL"
            " ORDER BY (SELECT count(*) FROM communications m"
            "           WHERE m.tenant_id = c.tenant_id AND m.case_id = c.id) DESC, c.id"
            " LIMIT 25",
            (d.firm,),
        ).fetchall()
        any_cases = conn.execute(
            "SELECT id FROM cases WHERE tenant_id = %s AND deleted_at IS NULL"
            " AND mod(display_number, %s) = 7 ORDER BY display_number LIMIT 25",
            (d.firm, max(1, d.cases // 25)),
        ).fetchall()

    # Open-case list: the first page and pages deep into the list (keyset cursors).
    cursors: list[queries.CaseCursor | None] = [None]
    for pos in (49, 499, 4_999, 19_999, 39_999):
        if pos < len(open_rows):
            cursors.append(queries.CaseCursor(open_rows[pos][0], open_rows[pos][1]))
    detail_ids = [r[0] for pair in zip(busy, any_cases, strict=False) for r in pair]

    months = [_month_back(d.anchor, b) for b in range(1, 7)]
    last_month = months[0]
    day0 = dt.datetime(last_month[0], last_month[1], 1, tzinfo=JST)
    search_fn, search_missing = _document_search()

    return [
        QueryClass(
            "open_cases",
            "open-case list, newest first, page of 50, with client and responsible lawyer",
            5.0,
            lambda s, a: queries.open_cases(s, after=a["after"]),
            [Call(lawyer, {"after": c}) for c in cursors],
        ),
        QueryClass(
            "case_detail",
            "case detail (parties, assignments, latest 20 communications, documents)",
            10.0,
            lambda s, a: queries.case_detail(s, a["case_id"]),
            [Call(lawyer, {"case_id": c}) for c in detail_ids],
        ),
        QueryClass(
            "document_search",
            "document search, 2-8 character Japanese queries",
            50.0,
            search_fn or (lambda s, a: None),
            [Call(lawyer, {"q": q}) for q in vocab.SEARCH_TERMS],
            unavailable=search_missing,
        ),
        QueryClass(
            "monthly_report",
            "monthly financial report (time, expenses, invoices, withholding by case)",
            100.0,
            lambda s, a: queries.monthly_report(s, a["year"], a["month"]),
            [Call(lawyer, {"year": y, "month": m}) for y, m in months],
        ),
        QueryClass(
            "audit_day",
            "audit search, one firm, one day, newest 100",
            20.0,
            lambda s, a: queries.audit_trail(s, since=a["since"], until=a["until"]),
            [
                Call(
                    lawyer,
                    {
                        "since": day0 + dt.timedelta(days=i),
                        "until": day0 + dt.timedelta(days=i + 1),
                    },
                )
                for i in range(28)
            ],
        ),
        QueryClass(
            "audit_month",
            "audit search, one firm, one month, newest 100",
            20.0,
            lambda s, a: queries.audit_trail(s, since=a["since"], until=a["until"]),
            [
                Call(
                    lawyer,
                    {
                        "since": dt.datetime(y, m, 1, tzinfo=JST),
                        "until": dt.datetime(y + m // 12, m % 12 + 1, 1, tzinfo=JST),
                    },
                )
                for y, m in months
            ],
        ),
        QueryClass(
            "my_open_tasks",
            "my open tasks by due date (page of 50)",
            5.0,
            lambda s, a: queries.my_open_tasks(s, a["user_id"]),
            [
                Call(pid(KIND["user"], d.firm_no, n), {"user_id": pid(KIND["user"], d.firm_no, n)})
                for n in range(1, min(d.lawyers, 40) + 1)
            ],
        ),
    ]


def rows_returned(result: Any) -> int:
    return _rows(result)
