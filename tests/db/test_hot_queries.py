"""The hot queries of ``legal_data.queries``: their plans as the application role, their
results, keyset pagination, bad input and isolation.

Plans: each query function runs as the app role under Row Level Security while the
statements it sends are recorded from the engine, then each statement is EXPLAINed with
its own parameters in the same transaction. Every scan of a business table must be an
index scan (plain, index-only or bitmap) whose ``Index Cond`` holds ``tenant_id``, on the
index named for that query. Three firms of bulk-loaded data (ANALYZEd) give the planner
real statistics; ``enable_seqscan`` is off during EXPLAIN because a few thousand rows are
cheaper to read whole than through any index — what is proved here is that the index
the query was written for exists and serves it with the firm in its Index Cond (the
harness records the plans the planner chooses on its own at 1,000,000 cases, in
``perf/results/harness_run_*.json``).

Results: written through the factories as the app role, then read page by page; ties
(equal dates) are deliberate, so a pagination that split them wrongly would repeat or
lose rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from isolation_support import tenant_tx
from sqlalchemy import event, text

from legal_data import queries
from legal_data.errors import TenantContextMissing
from legal_data.models import Case
from legal_data.queries import InvalidQuery
from legal_data.rbac import walls
from legal_data.testing.factories import (
    CaseAssignmentFactory,
    CaseFactory,
    CasePartyFactory,
    CommunicationFactory,
    DocumentFactory,
    ExpenseFactory,
    IssuedInvoiceFactory,
    PersonPartyFactory,
    TaskFactory,
    TimeEntryFactory,
    UserFactory,
)
from legal_data.testing.plugin import make_tenant

JST = dt.timezone(dt.timedelta(hours=9))
FIRMS = 3
CASES = 600

# -- bulk data for the plans ---------------------------------------------------------------------

BULK = """
SET LOCAL session_replication_role = replica;
SET LOCAL app.current_user_role = 'system';
INSERT INTO users (tenant_id, id, email, display_name, kind)
    SELECT t, md5(t || ':user:' || u)::uuid, 'u' || u || '@explain.example.jp', '弁護士' || u,
           'lawyer'
    FROM unnest(CAST(:firms AS uuid[])) t, generate_series(1, 10) u;
INSERT INTO parties (tenant_id, id, kind, name)
    SELECT t, md5(t || ':party:' || g)::uuid, 'company', '株式会社計画' || g
    FROM unnest(CAST(:firms AS uuid[])) t, generate_series(1, :cases) g;
INSERT INTO clients (tenant_id, id, party_id, client_code)
    SELECT t, md5(t || ':client:' || g)::uuid, md5(t || ':party:' || g)::uuid, 'C-' || g
    FROM unnest(CAST(:firms AS uuid[])) t, generate_series(1, :cases) g;
INSERT INTO cases (tenant_id, id, display_number, title, practice_area, status, client_id,
                   opened_on, closed_on)
    SELECT t, md5(t || ':case:' || g)::uuid, g, '事件' || g, 'civil',
           (ARRAY['open', 'open', 'pending', 'closed', 'intake'])[1 + g % 5],
           md5(t || ':client:' || g)::uuid, DATE '2024-01-01' + g / 3,
           CASE WHEN g % 5 = 3 THEN DATE '2024-01-01' + g / 3 + 30 END
    FROM unnest(CAST(:firms AS uuid[])) t, generate_series(1, :cases) g;
INSERT INTO case_assignments (tenant_id, id, case_id, user_id, role)
    SELECT t, md5(t || ':assignment:' || g)::uuid, md5(t || ':case:' || g)::uuid,
           md5(t || ':user:' || (1 + g % 10))::uuid, 'responsible'
    FROM unnest(CAST(:firms AS uuid[])) t, generate_series(1, :cases) g;
INSERT INTO case_parties (tenant_id, id, case_id, party_id, role)
    SELECT t, md5(t || ':case_party:' || g)::uuid, md5(t || ':case:' || g)::uuid,
           md5(t || ':party:' || g)::uuid, 'client'
    FROM unnest(CAST(:firms AS uuid[])) t, generate_series(1, :cases) g;
INSERT INTO communications (tenant_id, id, case_id, channel, direction, occurred_at, subject)
    SELECT t, md5(t || ':communication:' || g || ':' || k)::uuid, md5(t || ':case:' || g)::uuid,
           'phone', 'inbound', TIMESTAMPTZ '2026-01-01 10:00+09' + (g + k) * interval '1 hour',
           '期日の件'
    FROM unnest(CAST(:firms AS uuid[])) t, generate_series(1, :cases) g, generate_series(1, 3) k;
INSERT INTO documents (tenant_id, id, case_id, title)
    SELECT t, md5(t || ':document:' || g)::uuid, md5(t || ':case:' || (1 + g % :cases))::uuid,
           '準備書面' || g
    FROM unnest(CAST(:firms AS uuid[])) t, generate_series(1, :cases) g;
INSERT INTO tasks (tenant_id, id, case_id, assignee_id, kind, title, due_at, status,
                   completed_at)
    SELECT t, md5(t || ':task:' || g)::uuid, md5(t || ':case:' || g)::uuid,
           md5(t || ':user:' || (1 + g % 10))::uuid, '調査', '調査' || g,
           CASE WHEN g % 7 <> 0
                THEN TIMESTAMPTZ '2026-06-01 17:00+09' + (g / 2) * interval '1 day' END,
           CASE WHEN g % 3 = 0 THEN 'done' ELSE 'open' END,
           CASE WHEN g % 3 = 0 THEN TIMESTAMPTZ '2026-05-01 12:00+09' END
    FROM unnest(CAST(:firms AS uuid[])) t, generate_series(1, :cases) g;
INSERT INTO time_entries (tenant_id, id, case_id, user_id, work_date, minutes, rate_yen,
                          description)
    SELECT t, md5(t || ':time:' || g || ':' || k)::uuid, md5(t || ':case:' || g)::uuid,
           md5(t || ':user:' || (1 + k))::uuid, DATE '2026-01-01' + (g + k * 37) % 180,
           30 + k, 20000, '起案'
    FROM unnest(CAST(:firms AS uuid[])) t, generate_series(1, :cases) g, generate_series(1, 5) k;
INSERT INTO expenses (tenant_id, id, case_id, incurred_on, category, amount_yen, tax_category)
    SELECT t, md5(t || ':expense:' || g)::uuid, md5(t || ':case:' || g)::uuid,
           DATE '2026-01-01' + g % 180, '交通費', 1000, 'taxable_10'
    FROM unnest(CAST(:firms AS uuid[])) t, generate_series(1, :cases) g;
INSERT INTO invoices (tenant_id, id, client_id, case_id, state, invoice_number, issue_date,
                      issuer_name, issuer_registration_number, recipient_name, subtotal_yen,
                      tax_yen, withholding_yen, total_yen, issued_at)
    SELECT t, md5(t || ':invoice:' || g)::uuid, md5(t || ':client:' || g)::uuid,
           md5(t || ':case:' || g)::uuid, 'issued', g, DATE '2026-01-01' + g % 180,
           '計画法律事務所', 'T1234567890123', '株式会社計画' || g, 100000, 10000, 10210,
           99790, TIMESTAMPTZ '2026-01-01 10:00+09' + (g % 180) * interval '1 day'
    FROM unnest(CAST(:firms AS uuid[])) t, generate_series(1, :cases / 2) g;
INSERT INTO audit_logs (tenant_id, occurred_at, table_name, row_id, action, actor_id,
                        actor_role)
    SELECT t, date_trunc('month', statement_timestamp()) + g * interval '7 seconds', 'cases',
           md5(t || ':case:' || (1 + g % :cases))::uuid, 'UPDATE',
           md5(t || ':user:1')::uuid, 'lawyer'
    FROM unnest(CAST(:firms AS uuid[])) t, generate_series(1, 3000) g
"""


def _user(firm: uuid.UUID, n: int) -> uuid.UUID:
    import hashlib

    return uuid.UUID(hashlib.md5(f"{firm}:user:{n}".encode()).hexdigest())  # noqa: S324


@pytest.fixture
def bulk(legal_db) -> Iterator[list[uuid.UUID]]:
    firms = [make_tenant(legal_db, f"hot-{i}", f"計画事務所{i}").id for i in range(FIRMS)]
    with legal_db.admin_engine.begin() as conn:
        for statement in BULK.split(";\n"):
            conn.execute(text(statement), {"firms": firms, "cases": CASES})
    with legal_db.admin_engine.begin() as conn:
        conn.execute(
            text(
                "ANALYZE users, parties, clients, cases, case_assignments, case_parties,"
                " communications, documents, tasks, time_entries, expenses, invoices, audit_logs"
            )
        )
    yield firms


# -- plans ---------------------------------------------------------------------------------------


@contextmanager
def recorded(session: Any) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and parameters) the session's engine sends inside the block."""
    engine = session.get_bind()
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def plans_of(session: Any, call: Callable[[], Any]) -> list[dict[str, Any]]:
    """Run ``call`` (a query function), then EXPLAIN each statement it sent."""
    session.execute(text("SELECT 1"))  # the transaction (and its context) is begun first
    with recorded(session) as statements:
        call()
    assert statements, "the query function sent no SQL"
    session.execute(text("SET LOCAL enable_seqscan = off"))
    out = []
    for sql, params in statements:
        plan = session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, params)
        out.append(plan.scalar()[0]["Plan"])
    session.execute(text("RESET enable_seqscan"))
    return out


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def scans(plans: list[dict[str, Any]], table: str) -> list[dict[str, Any]]:
    """Scans of ``table`` (or its partitions), each with the index conditions it uses."""
    found = []
    for plan in plans:
        for node in _nodes(plan):
            relation = node.get("Relation Name", "")
            if relation != table and not relation.startswith(table + "_p"):
                continue
            used = [node]
            if node["Node Type"] == "Bitmap Heap Scan":
                used = [n for n in _nodes(node) if n["Node Type"] == "Bitmap Index Scan"]
            found.append(
                {
                    "type": node["Node Type"],
                    "relation": relation,
                    "indexes": {n.get("Index Name") for n in used},
                    "cond": " AND ".join(n.get("Index Cond", "") for n in used),
                    "filter": node.get("Filter", ""),
                }
            )
    return found


def assert_on_index(plans: list[dict[str, Any]], table: str, index: str, *also: str) -> None:
    """Every scan of ``table`` uses an index whose name contains ``index`` (``pk_`` indexes
    lead with ``tenant_id`` too), with ``tenant_id`` (and ``also``) in its Index Cond."""
    found = scans(plans, table)
    assert found, f"{table} is not read at all: {plans}"
    for scan in found:
        assert scan["type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), scan
        assert any(
            index in (name or "") or (index == "_tenant_id" and (name or "").startswith("pk_"))
            for name in scan["indexes"]
        ), (index, scan)
        assert "tenant_id" in scan["cond"], scan
        for column in also:
            assert column in scan["cond"], (column, scan)


def test_open_cases_read_the_status_index_with_tenant_in_the_index_cond(legal_db, bulk):
    firm = bulk[1]
    with tenant_tx(legal_db.app_sessions, firm, user_id=_user(firm, 1)) as s:
        first = queries.open_cases(s)
        plans = plans_of(s, lambda: queries.open_cases(s))
        assert_on_index(plans, "cases", "ix_cases_tenant_id_status_opened_on", "status")
        # A later page seeks to the cursor: the keyset is part of the Index Cond.
        deep = plans_of(s, lambda: queries.open_cases(s, after=first.next))
        assert_on_index(deep, "cases", "ix_cases_tenant_id_status_opened_on", "opened_on")
        # The joined rows are primary-key / (tenant_id, case_id) probes.
        assert_on_index(plans, "clients", "pk_clients")
        assert_on_index(plans, "parties", "pk_parties")
        assert_on_index(plans, "case_assignments", "uq_case_assignments_tenant_id_case_id")


def test_case_detail_probes_tenant_case_indexes(legal_db, bulk):
    firm = bulk[0]
    with tenant_tx(legal_db.app_sessions, firm, user_id=_user(firm, 1)) as s:
        case_id = s.scalar(text("SELECT id FROM cases WHERE display_number = 42"))
        detail = queries.case_detail(s, case_id)
        assert detail is not None and len(detail.communications) == 3
        plans = plans_of(s, lambda: queries.case_detail(s, case_id))
        assert len(plans) == 5
        assert_on_index(plans, "cases", "pk_cases", "id")
        assert_on_index(plans, "case_parties", "uq_case_parties_tenant_id_case_id", "case_id")
        assert_on_index(plans, "case_assignments", "uq_case_assignments_tenant_id", "case_id")
        assert_on_index(
            plans, "communications", "ix_communications_tenant_id_case_id_occurred_at", "case_id"
        )
        assert_on_index(plans, "documents", "ix_documents_tenant_id_case_id", "case_id")


def test_my_open_tasks_seek_the_partial_index_in_both_branches(legal_db, bulk):
    firm = bulk[2]
    me = _user(firm, 3)
    with tenant_tx(legal_db.app_sessions, firm, user_id=me) as s:
        first = queries.my_open_tasks(s, me, limit=5)
        assert first.next is not None
        for after in (None, first.next, queries.TaskCursor(None, uuid.UUID(int=0))):
            plans = plans_of(s, lambda a=after: queries.my_open_tasks(s, me, after=a, limit=5))
            assert_on_index(
                plans, "tasks", "ix_tasks_tenant_id_assignee_id_due_at_open", "assignee_id"
            )
        # With a dated cursor the seek itself is in the Index Cond (row comparison).
        plans = plans_of(s, lambda: queries.my_open_tasks(s, me, after=first.next, limit=5))
        assert any("due_at" in scan["cond"] for scan in scans(plans, "tasks"))


def test_monthly_report_reads_three_date_indexes(legal_db, bulk):
    firm = bulk[0]
    with tenant_tx(legal_db.app_sessions, firm, user_id=_user(firm, 1)) as s:
        report = queries.monthly_report(s, 2026, 3)
        assert report.cases > 0 and report.totals.minutes > 0 and report.totals.invoices > 0
        plans = plans_of(s, lambda: queries.monthly_report(s, 2026, 3))
        assert_on_index(plans, "time_entries", "ix_time_entries_tenant_id_work_date", "work_date")
        assert_on_index(plans, "expenses", "ix_expenses_tenant_id_incurred_on", "incurred_on")
        assert_on_index(plans, "invoices", "ix_invoices_tenant_id_issue_date", "issue_date")
        # The page's cases are looked up through a tenant-leading index too (which one
        # depends on the sizes: primary-key probes for a page out of many cases).
        assert_on_index(plans, "cases", "_tenant_id")


def test_audit_search_reads_one_partition_by_tenant_and_time(legal_db, bulk):
    firm = bulk[1]
    month = dt.datetime.now(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with tenant_tx(legal_db.app_sessions, firm, user_id=_user(firm, 1)) as s:
        page = queries.audit_trail(s, since=month, until=month + dt.timedelta(hours=3))
        assert len(page) == 100 and page.next is not None
        for after in (None, page.next):
            plans = plans_of(
                s,
                lambda a=after: queries.audit_trail(
                    s, since=month, until=month + dt.timedelta(hours=3), after=a
                ),
            )
            found = scans(plans, "audit_logs")
            assert {f["relation"] for f in found} == {f"audit_logs_p{month:%Y%m}"}, found
            assert_on_index(plans, "audit_logs", "tenant_id_occurred_at", "occurred_at")


# -- results and keyset pagination -----------------------------------------------------------------


def _all_pages(fetch: Callable[[Any], queries.Page]) -> list[Any]:
    items, after, pages = [], None, 0
    while True:
        page = fetch(after)
        items.extend(page.items)
        pages += 1
        assert pages < 100
        if page.next is None:
            return items
        after = page.next


def test_open_cases_pages_cover_the_list_exactly_once_despite_ties(legal_db, tenant_a, tenant_b):
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        lawyer = UserFactory(display_name="主任 弁護士")
        opened = [dt.date(2026, 4, 1), dt.date(2026, 4, 2), dt.date(2026, 4, 3)]
        cases = [CaseFactory(status="open", opened_on=opened[i % 3]) for i in range(17)]
        for case in cases[:4]:
            CaseAssignmentFactory(case_id=case.id, user_id=lawyer.id, role="responsible")
        CaseAssignmentFactory(case_id=cases[4].id, user_id=lawyer.id, role="assistant")
        closed = CaseFactory(status="closed", closed_on=dt.date(2026, 5, 1))
        deleted = CaseFactory(status="open", opened_on=dt.date(2026, 4, 3))
        deleted.deleted_at = dt.datetime.now(JST)
    with tenant_tx(legal_db.app_sessions, tenant_b.id, commit=True):
        others = {CaseFactory(status="open", opened_on=dt.date(2026, 4, 2)).id for _ in range(3)}

    expected = sorted(cases, key=lambda c: (c.opened_on, c.id), reverse=True)
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        got = _all_pages(lambda after: queries.open_cases(s, after=after, limit=5))
    assert [c.id for c in got] == [c.id for c in expected]
    assert closed.id not in {c.id for c in got} and deleted.id not in {c.id for c in got}
    assert not others & {c.id for c in got}
    by_id = {c.id: c for c in got}
    for case in cases[:4]:
        assert by_id[case.id].responsible_user_id == lawyer.id
        assert by_id[case.id].responsible_name == "主任 弁護士"
    assert by_id[cases[4].id].responsible_user_id is None  # an assistant is not responsible
    assert by_id[cases[0].id].client_name == cases[0].client.party.name


def test_a_case_added_between_pages_neither_repeats_nor_shifts_the_next_page(legal_db, tenant_a):
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        for i in range(10):
            CaseFactory(status="open", opened_on=dt.date(2026, 4, 1) + dt.timedelta(days=i))
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        first = queries.open_cases(s, limit=4)
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        CaseFactory(status="open", opened_on=dt.date(2026, 5, 1))  # newer than everything
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        second = queries.open_cases(s, after=first.next, limit=4)
    assert [c.opened_on.day for c in first] == [10, 9, 8, 7]
    assert [c.opened_on.day for c in second] == [6, 5, 4, 3]


def test_case_detail_with_latest_communications_and_documents(legal_db, tenant_a, tenant_b):
    at = dt.datetime(2026, 5, 1, 10, 0, tzinfo=JST)
    with tenant_tx(legal_db.app_sessions, tenant_a.id, role="system", commit=True) as s:
        lawyer, screened = UserFactory(display_name="担当 弁護士"), UserFactory()
        case = CaseFactory(status="open")
        opposing = PersonPartyFactory(name="相手方 次郎")
        CasePartyFactory(case_id=case.id, party_id=opposing.id, role="opposing_party")
        CaseAssignmentFactory(case_id=case.id, user_id=lawyer.id, role="responsible")
        # 25 communications, in pairs at the same minute (ties on occurred_at).
        comms = [
            CommunicationFactory(case_id=case.id, occurred_at=at + dt.timedelta(minutes=i // 2))
            for i in range(25)
        ]
        docs = [DocumentFactory(case_id=case.id) for _ in range(3)]
        docs[0].deleted_at = dt.datetime.now(JST)
        s.flush()
        walls.add_wall(s, None, case.id, user_id=screened.id, reason="テスト")
    with tenant_tx(legal_db.app_sessions, tenant_b.id, commit=True):
        other_case = CaseFactory(status="open")

    with tenant_tx(legal_db.app_sessions, tenant_a.id, user_id=lawyer.id) as s:
        detail = queries.case_detail(s, case.id)
        assert detail is not None
        assert detail.title == case.title and detail.client_name == case.client.party.name
        assert {(p.role, p.name) for p in detail.parties} == {("opposing_party", "相手方 次郎")}
        assert [(a.role, a.display_name) for a in detail.assignments] == [
            ("responsible", "担当 弁護士")
        ]
        newest = sorted(comms, key=lambda c: (c.occurred_at, c.id), reverse=True)
        assert [c.id for c in detail.communications] == [c.id for c in newest[:20]]
        rest = queries.case_communications(s, case.id, after=detail.communications.next)
        assert [c.id for c in rest] == [c.id for c in newest[20:]] and rest.next is None
        assert {d.id for d in detail.documents} == {docs[1].id, docs[2].id}
        assert queries.case_detail(s, other_case.id) is None  # another firm's case
        assert queries.case_detail(s, uuid.uuid4()) is None
    with tenant_tx(legal_db.app_sessions, tenant_a.id, user_id=screened.id) as s:
        assert queries.case_detail(s, case.id) is None  # behind an ethical wall
        assert case.id not in {c.id for c in queries.open_cases(s)}


def test_my_open_tasks_dated_first_then_undated_across_pages(legal_db, tenant_a):
    due = dt.datetime(2026, 6, 1, 17, 0, tzinfo=JST)
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        me, other = UserFactory(), UserFactory()
        dated = [
            TaskFactory(assignee_id=me.id, due_at=due + dt.timedelta(days=i // 3))
            for i in range(12)
        ]
        undated = [TaskFactory(assignee_id=me.id, kind="調査", due_at=None) for _ in range(4)]
        TaskFactory(assignee_id=me.id, status="in_progress", due_at=due, title="作業中")
        for status in ("done", "cancelled"):
            TaskFactory(
                assignee_id=me.id,
                status=status,
                completed_at=due if status == "done" else None,
            )
        TaskFactory(assignee_id=other.id)
    with tenant_tx(legal_db.app_sessions, tenant_a.id, user_id=me.id) as s:
        got = _all_pages(lambda after: queries.my_open_tasks(s, me.id, after=after, limit=5))
        in_progress = s.scalar(text("SELECT id FROM tasks WHERE title = '作業中'"))
    dated_ids = sorted([(t.due_at, t.id) for t in dated] + [(due, in_progress)])
    expected = [i for _d, i in dated_ids] + sorted(t.id for t in undated)
    assert [t.id for t in got] == expected
    assert all(t.status in ("open", "in_progress") for t in got)
    assert got[0].case_display_number is not None and got[0].case_title


def test_monthly_report_sums_the_month_by_case(legal_db, tenant_a):
    today = dt.date.today()
    first = today.replace(day=1)
    before = first - dt.timedelta(days=1)
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        c1, c2, quiet = (CaseFactory(status="open") for _ in range(3))
        unbilled = {"invoice_line_id": None}
        TimeEntryFactory(case_id=c1.id, work_date=first, minutes=90, rate_yen=30_000, **unbilled)
        TimeEntryFactory(case_id=c1.id, work_date=today, minutes=61, rate_yen=10_000, **unbilled)
        TimeEntryFactory(
            case_id=c2.id, work_date=first, minutes=30, rate_yen=20_000, billable=False, **unbilled
        )
        TimeEntryFactory(case_id=quiet.id, work_date=before, minutes=600, **unbilled)
        ExpenseFactory(case_id=c2.id, incurred_on=first, amount_yen=13_000, **unbilled)
        ExpenseFactory(
            case_id=c2.id,
            incurred_on=today,
            category="交通費",
            amount_yen=5_000,
            tax_category="taxable_10",
            is_disbursement=False,
            receipt_document_id=None,
            **unbilled,
        )
        invoice = IssuedInvoiceFactory(case_id=c1.id, fee_yen=100_000)
        IssuedInvoiceFactory(case_id=None, fee_yen=50_000)  # no case: totals only
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        report = queries.monthly_report(s, today.year, today.month)
        pages = _all_pages(
            lambda after: (
                queries.monthly_report(s, today.year, today.month, after=after, limit=1).lines
            )
        )
        empty = queries.monthly_report(s, 2001, 1)
    lines = {line.case_id: line.amounts for line in report.lines}
    assert set(lines) == {c1.id, c2.id} and report.cases == 2
    assert lines[c1.id].minutes == 151 and lines[c1.id].time_yen == 45_000 + 10_166
    assert lines[c1.id].invoices == 1 and lines[c1.id].subtotal_yen == 100_000
    assert lines[c1.id].tax_yen == invoice.tax_yen == 10_000
    assert lines[c1.id].withholding_yen == invoice.withholding_yen == 10_210
    assert lines[c1.id].total_yen == invoice.total_yen
    assert lines[c2.id].minutes == 30 and lines[c2.id].billable_minutes == 0
    assert lines[c2.id].expenses_yen == 18_000 and lines[c2.id].disbursements_yen == 13_000
    assert report.totals.invoices == 2 and report.totals.subtotal_yen == 150_000
    assert report.totals.minutes == 181 and report.totals.expenses_yen == 18_000
    assert [line.case_id for line in pages] == sorted(lines)
    assert empty.cases == 0 and empty.totals.total_yen == 0 and not empty.lines.items


def test_audit_trail_pages_through_rows_of_one_statement(legal_db, tenant_a):
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        # One statement, 23 rows: 23 audit rows sharing one occurred_at.
        s.execute(
            text(
                "INSERT INTO parties (tenant_id, id, kind, name)"
                " SELECT :t, gen_random_uuid(), 'person', '監査 太郎' || g"
                " FROM generate_series(1, 23) g"
            ),
            {"t": tenant_a.id},
        )
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        got = _all_pages(
            lambda after: queries.audit_trail(
                s, since=start, until=end, table="parties", after=after, limit=5
            )
        )
        expected = s.execute(
            text(
                "SELECT id FROM audit_logs WHERE table_name = 'parties' AND occurred_at >= :a"
                " AND occurred_at < :b ORDER BY occurred_at DESC, id DESC"
            ),
            {"a": start, "b": end},
        ).scalars()
        assert [e.id for e in got] == list(expected)
    assert len(got) == 23 and len({e.occurred_at for e in got}) == 1
    assert all(e.action == "INSERT" and e.table_name == "parties" for e in got)


# -- bad input and isolation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: queries.open_cases(s, limit=0), id="limit-0"),
        pytest.param(lambda s: queries.open_cases(s, limit=501), id="limit-too-big"),
        pytest.param(lambda s: queries.open_cases(s, limit=True), id="limit-bool"),
        pytest.param(lambda s: queries.open_cases(s, status="deleted"), id="unknown-status"),
        pytest.param(lambda s: queries.open_cases(s, after=("2026-01-01", 1)), id="bad-cursor"),
        pytest.param(lambda s: queries.case_detail(s, "not-a-uuid"), id="bad-case-id"),
        pytest.param(lambda s: queries.my_open_tasks(s, 42), id="bad-user-id"),
        pytest.param(lambda s: queries.monthly_report(s, 2026, 13), id="month-13"),
        pytest.param(lambda s: queries.monthly_report(s, "2026", 1), id="year-text"),
        pytest.param(
            lambda s: queries.audit_trail(
                s, since=dt.datetime(2026, 1, 1), until=dt.datetime(2026, 2, 1)
            ),
            id="naive-datetime",
        ),
        pytest.param(
            lambda s: queries.audit_trail(
                s,
                since=dt.datetime(2026, 2, 1, tzinfo=JST),
                until=dt.datetime(2026, 1, 1, tzinfo=JST),
            ),
            id="empty-window",
        ),
        pytest.param(
            lambda s: queries.audit_trail(
                s,
                since=dt.datetime(2026, 1, 1, tzinfo=JST),
                until=dt.datetime(2026, 2, 1, tzinfo=JST),
                action="TRUNCATE",
            ),
            id="unknown-action",
        ),
    ],
)
def test_bad_arguments_are_refused_before_any_sql(legal_db, tenant_a, call):
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s, recorded(s) as statements:
        with pytest.raises(InvalidQuery):
            call(s)
        assert statements == []


def test_queries_need_a_firm_in_context(legal_db):
    with legal_db.app_sessions() as s, pytest.raises(TenantContextMissing):
        queries.open_cases(s)


def test_a_firm_sees_none_of_another_firms_rows(legal_db, tenant_a, tenant_b):
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        me = UserFactory()
        case = CaseFactory(status="open")
        TaskFactory(assignee_id=me.id, case_id=case.id)
        TimeEntryFactory(case_id=case.id, work_date=dt.date.today(), invoice_line_id=None)
    today = dt.date.today()
    with tenant_tx(legal_db.app_sessions, tenant_b.id, user_id=me.id) as s:
        assert not queries.open_cases(s).items
        assert queries.case_detail(s, case.id) is None
        assert not queries.case_communications(s, case.id).items
        assert not queries.my_open_tasks(s, me.id).items
        assert queries.monthly_report(s, today.year, today.month).totals.minutes == 0
        window = dt.datetime.now(dt.UTC)
        trail = queries.audit_trail(
            s, since=window - dt.timedelta(hours=1), until=window + dt.timedelta(hours=1)
        )
        assert case.id not in {e.row_id for e in trail}
        assert s.scalar(text("SELECT count(*) FROM cases")) == 0
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        assert [c.id for c in queries.open_cases(s)] == [case.id]
        assert s.get(Case, (tenant_a.id, case.id)) is not None
