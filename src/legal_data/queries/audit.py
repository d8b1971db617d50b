"""Audit search for one firm: its own trail in a time window, newest first.

The application role may SELECT its firm's audit rows (Row Level Security on the log and
every partition). The window bounds ``occurred_at``, the partition key, so the planner
touches only the months it spans (at plan time with literal bounds, at run time with a
generic prepared plan). ``ix_audit_logs_tenant_id_occurred_at`` is ``(tenant_id,
occurred_at, id)`` (revision 0019) — the page's exact order — so each partition's index
is read backwards from the window's end (or the cursor, a row comparison in the Index
Cond), the partitions are merged, and the scan stops after ``limit + 1`` rows. Rows
written by one statement share their ``occurred_at``; ``id`` orders them and breaks
keyset ties.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from legal_data.models import AuditLog
from legal_data.models.audit import AUDIT_ACTIONS
from legal_data.queries._common import (
    InvalidQuery,
    Page,
    check_aware,
    check_cursor,
    check_limit,
    check_uuid,
    firm_in_context,
    p_int,
    p_text,
    p_ts,
    p_uuid,
    page_of,
    run,
)


@dataclass(frozen=True, slots=True)
class AuditCursor:
    occurred_at: dt.datetime
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: uuid.UUID
    occurred_at: dt.datetime
    table_name: str
    row_id: uuid.UUID | None
    action: str
    actor_id: uuid.UUID | None
    actor_role: str | None
    reason: str | None
    old_values: dict[str, Any] | None
    changed_values: dict[str, Any] | None


@cache
def _stmt(table: bool, row: bool, actor: bool, action: bool, keyset: bool) -> Select:
    stmt = (
        select(
            AuditLog.id,
            AuditLog.occurred_at,
            AuditLog.table_name,
            AuditLog.row_id,
            AuditLog.action,
            AuditLog.actor_id,
            AuditLog.actor_role,
            AuditLog.reason,
            AuditLog.old_values,
            AuditLog.changed_values,
        )
        .where(
            AuditLog.tenant_id == p_uuid("firm"),
            AuditLog.occurred_at >= p_ts("since"),
            AuditLog.occurred_at < p_ts("until"),
        )
        .order_by(AuditLog.occurred_at.desc(), AuditLog.id.desc())
        .limit(p_int("fetch"))
    )
    if table:
        stmt = stmt.where(AuditLog.table_name == p_text("table"))
    if row:
        stmt = stmt.where(AuditLog.row_id == p_uuid("row"))
    if actor:
        stmt = stmt.where(AuditLog.actor_id == p_uuid("actor"))
    if action:
        stmt = stmt.where(AuditLog.action == p_text("action"))
    if keyset:
        stmt = stmt.where(
            tuple_(AuditLog.occurred_at, AuditLog.id) < tuple_(p_ts("after_at"), p_uuid("after_id"))
        )
    return stmt


def audit_trail(
    session: Session,
    *,
    since: dt.datetime,
    until: dt.datetime,
    table: str | None = None,
    row_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    after: AuditCursor | None = None,
    limit: int = 100,
) -> Page[AuditEntry, AuditCursor]:
    """The firm's audit rows with ``since <= occurred_at < until``, newest first,
    optionally for one table (and row), one actor or one action."""
    firm = firm_in_context()
    since, until = check_aware("since", since), check_aware("until", until)
    if since >= until:
        raise InvalidQuery("since must be before until")
    limit = check_limit(limit)
    check_cursor("after", after, AuditCursor)
    if action is not None and action not in AUDIT_ACTIONS:
        raise InvalidQuery(f"action must be one of {', '.join(AUDIT_ACTIONS)}")
    if table is not None and (not isinstance(table, str) or not table):
        raise InvalidQuery("table must be a table name")
    params: dict[str, object] = {"firm": firm, "since": since, "until": until, "fetch": limit + 1}
    if table is not None:
        params["table"] = table
    if row_id is not None:
        params["row"] = check_uuid("row_id", row_id)
    if actor_id is not None:
        params["actor"] = check_uuid("actor_id", actor_id)
    if action is not None:
        params["action"] = action
    if after is not None:
        params |= {
            "after_at": check_aware("after.occurred_at", after.occurred_at),
            "after_id": after.id,
        }
    stmt = _stmt(
        table is not None,
        row_id is not None,
        actor_id is not None,
        action is not None,
        after is not None,
    )
    rows = [AuditEntry(*r) for r in run(session, stmt, params)]
    return page_of(rows, limit, lambda e: AuditCursor(e.occurred_at, e.id))
