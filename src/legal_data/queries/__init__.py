"""The hot read paths of the service, as small keyset-paginated query functions.

Each function takes a tenant session (inside ``tenant_scope(firm, user_id=...)``), runs
one or a few statements whose every table access is an index range on a
``tenant_id``-leading index (proved by ``tests/db/test_hot_queries.py`` with EXPLAIN as
the application role), and returns frozen dataclasses — never ORM entities — so a list
screen costs its SQL and little else. Lists return a :class:`Page`; pass ``page.next``
back as ``after=`` for the next one.

| function | what |
|---|---|
| :func:`open_cases` | 案件一覧: one status, newest first, client and responsible lawyer |
| :func:`case_detail` | 案件詳細: parties, assignments, latest communications, documents |
| :func:`case_communications`, :func:`case_documents` | the detail's sub-lists, paged |
| :func:`my_open_tasks` | a user's open tasks by due date |
| :func:`monthly_report` | 月次集計: time, expenses, invoices, 源泉徴収 by case |
| :func:`audit_trail` | the firm's audit rows in a time window, newest first |

Document search is :func:`legal_data.search.documents`.
"""

from legal_data.queries._common import MAX_LIMIT, InvalidQuery, Page
from legal_data.queries.audit import AuditCursor, AuditEntry, audit_trail
from legal_data.queries.cases import (
    AssignmentItem,
    CaseCursor,
    CaseDetail,
    CasePartyItem,
    CommunicationItem,
    DocumentItem,
    OpenCase,
    TimeCursor,
    case_communications,
    case_detail,
    case_documents,
    open_cases,
)
from legal_data.queries.reports import Amounts, MonthlyReport, ReportLine, monthly_report
from legal_data.queries.tasks import TaskCursor, TaskItem, my_open_tasks

__all__ = [
    "MAX_LIMIT",
    "Amounts",
    "AssignmentItem",
    "AuditCursor",
    "AuditEntry",
    "CaseCursor",
    "CaseDetail",
    "CasePartyItem",
    "CommunicationItem",
    "DocumentItem",
    "InvalidQuery",
    "MonthlyReport",
    "OpenCase",
    "Page",
    "ReportLine",
    "TaskCursor",
    "TaskItem",
    "TimeCursor",
    "audit_trail",
    "case_communications",
    "case_detail",
    "case_documents",
    "monthly_report",
    "my_open_tasks",
    "open_cases",
]
