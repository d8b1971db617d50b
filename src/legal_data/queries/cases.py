"""The case list (案件一覧) and the case detail (案件詳細), with their sub-lists.

- :func:`open_cases` — the firm's cases in one status (``open`` by default), newest first,
  with the client's name and the responsible lawyer, 50 per page;
- :func:`case_detail` — one case with its client, parties, assignments, its latest
  communications and newest documents (each a first :class:`Page` the caller can
  continue with :func:`case_communications` / :func:`case_documents`).

Rows come back as small frozen dataclasses, not ORM objects: a list screen needs a few
columns of several tables, and building identity-mapped entities for them would cost
more than the query. Document rows carry metadata only (title, category, flags, current
version's file facts), never content; loading a privileged ``Document`` entity is what
records a READ event. Communication bodies (encrypted) are not read here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import cache

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true, tuple_
from sqlalchemy.orm import Session, aliased

from legal_data.models import (
    CASE_STATUSES,
    Case,
    CaseAssignment,
    CaseParty,
    Client,
    Communication,
    Document,
    DocumentCategory,
    DocumentVersion,
    Party,
    User,
)
from legal_data.queries._common import (
    InvalidQuery,
    Page,
    check_cursor,
    check_limit,
    check_uuid,
    firm_in_context,
    p_date,
    p_int,
    p_text,
    p_ts,
    p_uuid,
    page_of,
    run,
)
from legal_data.rbac.authorize import authorized_clause
from legal_data.rbac.resolve import Principal


@dataclass(frozen=True, slots=True)
class CaseCursor:
    opened_on: dt.date
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class TimeCursor:
    """Position in a newest-first list ordered by a timestamp, then id."""

    at: dt.datetime
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class OpenCase:
    id: uuid.UUID
    display_number: int
    title: str
    practice_area: str
    status: str
    opened_on: dt.date
    client_id: uuid.UUID
    client_name: str
    responsible_user_id: uuid.UUID | None
    responsible_name: str | None


@dataclass(frozen=True, slots=True)
class CasePartyItem:
    party_id: uuid.UUID
    role: str
    kind: str
    name: str
    name_kana: str | None
    corporate_number: str | None


@dataclass(frozen=True, slots=True)
class AssignmentItem:
    user_id: uuid.UUID
    role: str
    display_name: str
    assigned_on: dt.date
    ended_on: dt.date | None


@dataclass(frozen=True, slots=True)
class CommunicationItem:
    id: uuid.UUID
    occurred_at: dt.datetime
    channel: str
    direction: str
    subject: str | None
    party_id: uuid.UUID | None
    party_name: str | None


@dataclass(frozen=True, slots=True)
class DocumentItem:
    id: uuid.UUID
    created_at: dt.datetime
    title: str
    category: str | None
    is_privileged: bool
    legal_hold: bool
    current_version_id: uuid.UUID | None
    version_number: int | None
    mime_type: str | None
    size_bytes: int | None
    original_filename: str | None


@dataclass(frozen=True, slots=True)
class CaseDetail:
    id: uuid.UUID
    display_number: int
    title: str
    practice_area: str
    status: str
    opened_on: dt.date
    closed_on: dt.date | None
    description: str | None
    version: int
    client_id: uuid.UUID
    client_code: str
    client_name: str
    parties: list[CasePartyItem]
    assignments: list[AssignmentItem]
    #: The latest communications (newest first); continue with :func:`case_communications`.
    communications: Page[CommunicationItem, TimeCursor]
    #: The newest documents; continue with :func:`case_documents`.
    documents: Page[DocumentItem, TimeCursor]


def _newest_first_after(key: ColumnElement, id_col: ColumnElement) -> ColumnElement[bool]:
    """``(key, id) < (:after_at, :after_id)`` spelled so that ``key <= :after_at`` can be an
    index condition of an index on ``(tenant_id, parent, key)`` (the id order within one
    ``key`` comes from an incremental sort)."""
    at, id_ = p_ts("after_at"), p_uuid("after_id")
    return and_(key <= at, or_(key < at, id_col < id_))


@cache
def _open_cases_stmt(keyset: bool) -> Select:
    responsible = (
        select(CaseAssignment.user_id)
        .where(
            CaseAssignment.tenant_id == Case.tenant_id,
            CaseAssignment.case_id == Case.id,
            CaseAssignment.role == "responsible",
            or_(
                CaseAssignment.ended_on.is_(None),
                CaseAssignment.ended_on >= func.current_date(),
            ),
        )
        .order_by(CaseAssignment.assigned_on.desc(), CaseAssignment.id.desc())
        .limit(1)
        .lateral("responsible")
    )
    stmt = (
        select(
            Case.id,
            Case.display_number,
            Case.title,
            Case.practice_area,
            Case.status,
            Case.opened_on,
            Case.client_id,
            Party.name,
            responsible.c.user_id,
            User.display_name,
        )
        .join(Client, and_(Client.tenant_id == Case.tenant_id, Client.id == Case.client_id))
        .join(Party, and_(Party.tenant_id == Client.tenant_id, Party.id == Client.party_id))
        .outerjoin(responsible, true())
        .outerjoin(User, and_(User.tenant_id == Case.tenant_id, User.id == responsible.c.user_id))
        .where(
            Case.tenant_id == p_uuid("firm"),
            Case.status == p_text("status"),
            Case.deleted_at.is_(None),
        )
        .order_by(Case.opened_on.desc(), Case.id.desc())
        .limit(p_int("fetch"))
    )
    if keyset:
        stmt = stmt.where(
            tuple_(Case.opened_on, Case.id) < tuple_(p_date("after_opened_on"), p_uuid("after_id"))
        )
    return stmt


def open_cases(
    session: Session,
    *,
    status: str = "open",
    after: CaseCursor | None = None,
    limit: int = 50,
    principal: Principal | None = None,
) -> Page[OpenCase, CaseCursor]:
    """The firm's cases in ``status``, newest ``opened_on`` first, deleted cases skipped.

    Each row names the client and the current responsible lawyer (主任弁護士: the latest
    active ``responsible`` assignment, if any). With ``principal`` the list is narrowed to
    the cases that user may ``case:read`` (the RBAC filter of :mod:`legal_data.rbac`);
    ethical walls apply in the database either way. Reads
    ``ix_cases_tenant_id_status_opened_on`` backwards and stops after ``limit + 1`` rows.
    """
    firm = firm_in_context()
    limit = check_limit(limit)
    check_cursor("after", after, CaseCursor)
    if status not in CASE_STATUSES:
        raise InvalidQuery(f"status must be one of {', '.join(CASE_STATUSES)}")
    stmt = _open_cases_stmt(after is not None)
    if principal is not None:
        stmt = stmt.where(authorized_clause(principal, "case:read", Case))
    params: dict[str, object] = {"firm": firm, "status": status, "fetch": limit + 1}
    if after is not None:
        params |= {"after_opened_on": after.opened_on, "after_id": after.id}
    rows = [OpenCase(*r) for r in run(session, stmt, params)]
    return page_of(rows, limit, lambda c: CaseCursor(c.opened_on, c.id))


@cache
def _communications_stmt(keyset: bool) -> Select:
    counterpart = aliased(Party)
    stmt = (
        select(
            Communication.id,
            Communication.occurred_at,
            Communication.channel,
            Communication.direction,
            Communication.subject,
            Communication.party_id,
            counterpart.name,
        )
        .outerjoin(
            counterpart,
            and_(
                counterpart.tenant_id == Communication.tenant_id,
                counterpart.id == Communication.party_id,
            ),
        )
        .where(Communication.tenant_id == p_uuid("firm"), Communication.case_id == p_uuid("case"))
        .order_by(Communication.occurred_at.desc(), Communication.id.desc())
        .limit(p_int("fetch"))
    )
    if keyset:
        stmt = stmt.where(_newest_first_after(Communication.occurred_at, Communication.id))
    return stmt


def case_communications(
    session: Session, case_id: uuid.UUID, *, after: TimeCursor | None = None, limit: int = 20
) -> Page[CommunicationItem, TimeCursor]:
    """A case's communications, newest first
    (``ix_communications_tenant_id_case_id_occurred_at``)."""
    params, limit = _case_page_params(case_id, after, limit)
    rows = [
        CommunicationItem(*r) for r in run(session, _communications_stmt(after is not None), params)
    ]
    return page_of(rows, limit, lambda c: TimeCursor(c.occurred_at, c.id))


def _case_page_params(
    case_id: uuid.UUID, after: TimeCursor | None, limit: int
) -> tuple[dict[str, object], int]:
    """Checked bind parameters of a newest-first page of one case's rows (and the limit)."""
    firm = firm_in_context()
    case_id = check_uuid("case_id", case_id)
    limit = check_limit(limit)
    check_cursor("after", after, TimeCursor)
    params: dict[str, object] = {"firm": firm, "case": case_id, "fetch": limit + 1}
    if after is not None:
        params |= {"after_at": after.at, "after_id": after.id}
    return params, limit


@cache
def _documents_stmt(keyset: bool) -> Select:
    stmt = (
        select(
            Document.id,
            Document.created_at,
            Document.title,
            DocumentCategory.name,
            Document.is_privileged,
            Document.legal_hold,
            Document.current_version_id,
            DocumentVersion.version_number,
            DocumentVersion.mime_type,
            DocumentVersion.size_bytes,
            DocumentVersion.original_filename,
        )
        .outerjoin(
            DocumentCategory,
            and_(
                DocumentCategory.tenant_id == Document.tenant_id,
                DocumentCategory.id == Document.category_id,
            ),
        )
        .outerjoin(
            DocumentVersion,
            and_(
                DocumentVersion.tenant_id == Document.tenant_id,
                DocumentVersion.id == Document.current_version_id,
            ),
        )
        .where(
            Document.tenant_id == p_uuid("firm"),
            Document.case_id == p_uuid("case"),
            Document.deleted_at.is_(None),
        )
        .order_by(Document.created_at.desc(), Document.id.desc())
        .limit(p_int("fetch"))
    )
    if keyset:
        stmt = stmt.where(_newest_first_after(Document.created_at, Document.id))
    return stmt


def case_documents(
    session: Session, case_id: uuid.UUID, *, after: TimeCursor | None = None, limit: int = 50
) -> Page[DocumentItem, TimeCursor]:
    """A case's documents (not deleted), newest first, with the current version's file facts
    (``ix_documents_tenant_id_case_id``)."""
    params, limit = _case_page_params(case_id, after, limit)
    rows = [DocumentItem(*r) for r in run(session, _documents_stmt(after is not None), params)]
    return page_of(rows, limit, lambda d: TimeCursor(d.created_at, d.id))


@cache
def _detail_stmts(include_deleted: bool) -> tuple[Select, Select, Select]:
    head = (
        select(
            Case.id,
            Case.display_number,
            Case.title,
            Case.practice_area,
            Case.status,
            Case.opened_on,
            Case.closed_on,
            Case.description,
            Case.version,
            Case.client_id,
            Client.client_code,
            Party.name,
        )
        .join(Client, and_(Client.tenant_id == Case.tenant_id, Client.id == Case.client_id))
        .join(Party, and_(Party.tenant_id == Client.tenant_id, Party.id == Client.party_id))
        .where(Case.tenant_id == p_uuid("firm"), Case.id == p_uuid("case"))
    )
    if not include_deleted:
        head = head.where(Case.deleted_at.is_(None))
    parties = (
        select(
            CaseParty.party_id,
            CaseParty.role,
            Party.kind,
            Party.name,
            Party.name_kana,
            Party.corporate_number,
        )
        .join(Party, and_(Party.tenant_id == CaseParty.tenant_id, Party.id == CaseParty.party_id))
        .where(CaseParty.tenant_id == p_uuid("firm"), CaseParty.case_id == p_uuid("case"))
        .order_by(CaseParty.role, Party.name, CaseParty.id)
    )
    assignments = (
        select(
            CaseAssignment.user_id,
            CaseAssignment.role,
            User.display_name,
            CaseAssignment.assigned_on,
            CaseAssignment.ended_on,
        )
        .join(
            User,
            and_(User.tenant_id == CaseAssignment.tenant_id, User.id == CaseAssignment.user_id),
        )
        .where(CaseAssignment.tenant_id == p_uuid("firm"), CaseAssignment.case_id == p_uuid("case"))
        .order_by(CaseAssignment.role, CaseAssignment.assigned_on, CaseAssignment.id)
    )
    return head, parties, assignments


def case_detail(
    session: Session,
    case_id: uuid.UUID,
    *,
    communications: int = 20,
    documents: int = 50,
    include_deleted: bool = False,
) -> CaseDetail | None:
    """One case with its client, parties, assignments, latest ``communications`` and
    newest ``documents``; ``None`` if the firm has no such case, or it is deleted (unless
    ``include_deleted``), or an ethical wall screens the user from it.

    Five statements in the caller's transaction, each an index probe on a
    ``(tenant_id, case_id, ...)`` index.
    """
    firm = firm_in_context()
    case_id = check_uuid("case_id", case_id)
    check_limit(communications)
    check_limit(documents)
    head_stmt, parties_stmt, assignments_stmt = _detail_stmts(bool(include_deleted))
    params = {"firm": firm, "case": case_id}
    head = run(session, head_stmt, params).one_or_none()
    if head is None:
        return None
    return CaseDetail(
        *head,
        parties=[CasePartyItem(*r) for r in run(session, parties_stmt, params)],
        assignments=[AssignmentItem(*r) for r in run(session, assignments_stmt, params)],
        communications=case_communications(session, case_id, limit=communications),
        documents=case_documents(session, case_id, limit=documents),
    )
