"""My open tasks by due date (期日・期限の一覧).

Open means ``open`` or ``in_progress`` (:data:`legal_data.models.work.OPEN_TASK_STATUSES`).
Order: due time ascending, tasks without a due time last, then id. The list is two
index range scans of the partial index ``ix_tasks_tenant_id_assignee_id_due_at_id_open``
(``(tenant_id, assignee_id, due_at, id) WHERE status IN ('open', 'in_progress')``) glued
by ``UNION ALL``: the dated tasks after the cursor, then the undated ones. A single
``ORDER BY due_at NULLS LAST`` with an ``OR due_at IS NULL`` in the keyset condition
would turn the seek into a filter over every earlier task.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Select, and_, select, tuple_, union_all
from sqlalchemy.orm import Session

from legal_data.models import Case, Task
from legal_data.models.work import OPEN_TASK_STATUSES
from legal_data.queries._common import (
    Page,
    check_cursor,
    check_limit,
    check_uuid,
    firm_in_context,
    p_int,
    p_ts,
    p_uuid,
    page_of,
    run,
)


@dataclass(frozen=True, slots=True)
class TaskCursor:
    due_at: dt.datetime | None
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class TaskItem:
    id: uuid.UUID
    due_at: dt.datetime | None
    all_day: bool
    kind: str
    title: str
    status: str
    priority: str
    case_id: uuid.UUID | None
    case_display_number: int | None
    case_title: str | None


@cache
def _stmt(cursor: str) -> Select:
    """``cursor``: ``"none"`` (first page), ``"dated"`` or ``"undated"`` (the kind of the
    last task of the previous page)."""
    columns = (
        Task.id,
        Task.due_at,
        Task.all_day,
        Task.kind,
        Task.title,
        Task.status,
        Task.priority,
        Task.case_id,
    )
    mine = (
        Task.tenant_id == p_uuid("firm"),
        Task.assignee_id == p_uuid("user"),
        # Spelled as in the partial index's predicate, so the planner can use it.
        Task.status.in_(OPEN_TASK_STATUSES),
    )
    branches = []
    if cursor != "undated":
        dated = select(*columns).where(*mine, Task.due_at.is_not(None))
        if cursor == "dated":
            dated = dated.where(
                tuple_(Task.due_at, Task.id) > tuple_(p_ts("after_due_at"), p_uuid("after_id"))
            )
        branches.append(dated.order_by(Task.due_at, Task.id).limit(p_int("fetch")))
    undated = select(*columns).where(*mine, Task.due_at.is_(None))
    if cursor == "undated":
        undated = undated.where(Task.id > p_uuid("after_id"))
    branches.append(undated.order_by(Task.id).limit(p_int("fetch")))
    picked = (
        union_all(*(b.subquery().select() for b in branches)).subquery("picked")
        if len(branches) > 1
        else branches[0].subquery("picked")
    )
    return (
        select(*picked.c, Case.display_number, Case.title)
        .outerjoin(Case, and_(Case.tenant_id == p_uuid("firm"), Case.id == picked.c.case_id))
        .order_by(picked.c.due_at.asc().nulls_last(), picked.c.id)
        .limit(p_int("fetch"))
    )


def my_open_tasks(
    session: Session,
    user_id: uuid.UUID,
    *,
    after: TaskCursor | None = None,
    limit: int = 50,
) -> Page[TaskItem, TaskCursor]:
    """Open tasks assigned to ``user_id``, earliest due first (undated last)."""
    firm = firm_in_context()
    user_id = check_uuid("user_id", user_id)
    limit = check_limit(limit)
    check_cursor("after", after, TaskCursor)
    params: dict[str, object] = {"firm": firm, "user": user_id, "fetch": limit + 1}
    if after is None:
        cursor = "none"
    elif after.due_at is None:
        cursor = "undated"
        params["after_id"] = after.id
    else:
        cursor = "dated"
        params |= {"after_due_at": after.due_at, "after_id": after.id}
    rows = [TaskItem(*r) for r in run(session, _stmt(cursor), params)]
    return page_of(rows, limit, lambda t: TaskCursor(t.due_at, t.id))
