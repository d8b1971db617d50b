"""Index at commit what the tenant session's own transaction queued.

Listeners on :class:`~legal_data.tenancy.session.TenantSession` (installed when
:mod:`legal_data.models` is imported, like the READ-audit listener):

- ``after_flush`` and ``do_orm_execute`` note that the transaction may have queued
  something (an ORM flush touching a searchable model, or any statement that is not a
  plain ORM SELECT: Core DML, ``text()``), so read-only transactions and unrelated
  writes pay nothing;
- ``before_commit`` flushes, then indexes the entities this transaction queued
  (:func:`legal_data.search.indexer.drain_own`) in the same transaction, so what was
  committed is searchable at once.

Statements sent on ``session.connection()`` directly, or outside the library, are not
seen here; they stay on the queue for :func:`legal_data.search.indexer.drain`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.elements import TextClause

from legal_data.tenancy.session import TenantSession

_MAY_HAVE_QUEUED = "legal_data.search.may_have_queued"
#: Execution option of statements that need no indexing at commit: the search calls (they
#: write nothing) and :func:`~legal_data.search.indexer.enqueue_all` (its entries are for
#: the drain, which may take many transactions).
NO_COMMIT_INDEXING = "legal_data_no_commit_indexing"
_DRAINING = "legal_data.search.draining"
#: Tables whose rows the search index is built from (their triggers fill the queue).
SOURCE_TABLES = frozenset({"documents", "document_versions", "cases", "communications"})


def _touches_sources(objects: Any) -> bool:
    return any(getattr(o, "__tablename__", None) in SOURCE_TABLES for o in objects)


@event.listens_for(TenantSession, "after_flush")
def _note_flush(session: Session, flush_context: UOWTransaction) -> None:
    if _touches_sources(session.new) or _touches_sources(session.dirty):
        session.info[_MAY_HAVE_QUEUED] = True


@event.listens_for(TenantSession, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    if state.session.info.get(_DRAINING) or state.execution_options.get(NO_COMMIT_INDEXING):
        return
    if isinstance(state.statement, TextClause) or not state.is_select:
        state.session.info[_MAY_HAVE_QUEUED] = True


@event.listens_for(TenantSession, "before_commit")
def _index_before_commit(session: Session) -> None:
    if session.info.get(_DRAINING):
        return
    session.flush()  # before_commit runs before the commit's own flush
    if not session.info.pop(_MAY_HAVE_QUEUED, False):
        return
    from legal_data.search import indexer
    from legal_data.tenancy.context import current_context

    context = current_context()
    if context is None or context.tenant_id is None:
        return  # system scope without a firm: nothing it wrote can be a firm's row
    session.info[_DRAINING] = True
    try:
        indexer.drain_own(session, limit=indexer.MAX_INLINE)
    finally:
        session.info.pop(_DRAINING, None)


@event.listens_for(TenantSession, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_MAY_HAVE_QUEUED, None)
