"""READ events: recording who looked at what, in the same transaction as the read.

``record_access(session, ...)`` writes one READ row through ``audit_record_access()``
(SECURITY DEFINER: the time, transaction and actor come from the database and the
transaction's context, not from the caller). It runs in the reader's transaction, so
a read that cannot be audited fails with it.

Models opt in to automatic READ events with ``__audit_reads__``: ``True`` for every
loaded row, or a predicate such as ``lambda doc: doc.privileged``. Tenant sessions then
record a READ event for each such row an ORM query returns.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session

from legal_data.tenancy.session import TenantSession

_RECORD = text("SELECT audit_record_access(:t, :r, CAST(:d AS jsonb))")


def record_access(
    session: Session,
    table: str,
    row_id: uuid.UUID | None,
    *,
    details: dict[str, Any] | None = None,
) -> uuid.UUID:
    """Write a READ event for ``table``/``row_id`` in the session's current transaction."""
    return session.execute(
        _RECORD, {"t": table, "r": row_id, "d": json.dumps(details or {}, ensure_ascii=False)}
    ).scalar_one()


def _wants_audit(obj: object) -> bool:
    rule: bool | Callable[[Any], bool] = getattr(type(obj), "__audit_reads__", False)
    return bool(rule(obj)) if callable(rule) else bool(rule)


def _sensitive_rows(rows: Iterable[Any]) -> list[tuple[str, uuid.UUID]]:
    seen: dict[tuple[str, uuid.UUID], None] = {}
    for row in rows:
        for value in row:
            if _wants_audit(value):
                seen[(type(value).__tablename__, value.id)] = None
    return list(seen)


@event.listens_for(TenantSession, "do_orm_execute")
def _audit_sensitive_reads(state: ORMExecuteState) -> Any:
    if not state.is_select or state.execution_options.get("_legal_data_audit_read"):
        return None
    if not any(getattr(m.class_, "__audit_reads__", False) for m in state.all_mappers):
        return None
    frozen = state.invoke_statement().freeze()
    for table, row_id in _sensitive_rows(frozen()):
        state.session.execute(
            _RECORD,
            {"t": table, "r": row_id, "d": json.dumps({"via": "orm"})},
            execution_options={"_legal_data_audit_read": True},
        )
    return frozen()
