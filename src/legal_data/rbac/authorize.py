"""One evaluation path for single records and list queries.

``authorize(principal, action, record)`` decides for a loaded record in Python;
``authorized(select(Case), principal, "case:read")`` adds the same decision to a query
as a SQL ``WHERE`` clause. Both are built from the same entries of the principal and the
same rule definitions (scopes here, conditions in :mod:`legal_data.rbac.conditions`):

    allowed = (some grant matches) AND NOT (some denial matches)

where an entry matches a record when its scope matches (``firm``: always; ``assigned``:
the record's case is one the user is assigned to; ``own``: the record's owner column is
the user) and its condition holds. Denials beat grants; expired entries were never loaded.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import Select, and_, exists, false, not_, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from legal_data.errors import PermissionDenied
from legal_data.models import CaseAssignment
from legal_data.rbac.conditions import compile_condition, evaluate
from legal_data.rbac.permissions import check_permission
from legal_data.rbac.resolve import Entry, Principal, resolve

S = TypeVar("S", bound=Select[Any])

#: Owner column per table when it is not ``created_by``.
OWNER_COLUMNS: dict[str, str] = {"time_entries": "user_id", "expenses": "user_id"}


def _table(entity: Any) -> str:
    return entity.__table__.name if hasattr(entity, "__table__") else entity.__tablename__


def case_column_name(entity: Any) -> str | None:
    """The column naming the record's case (``id`` for cases), or None."""
    if _table(entity) == "cases":
        return "id"
    return "case_id" if hasattr(entity, "case_id") else None


def owner_column_name(entity: Any) -> str | None:
    name = OWNER_COLUMNS.get(_table(entity), "created_by")
    return name if hasattr(entity, name) else None


# -- Python ---------------------------------------------------------------------------


def _matches(entry: Entry, principal: Principal, record: Any) -> bool:
    if entry.scope == "assigned":
        col = case_column_name(type(record))
        case_id = getattr(record, col) if col else None
        if case_id is None or case_id not in principal.assigned_case_ids:
            return False
    elif entry.scope == "own":
        col = owner_column_name(type(record))
        if col is None or getattr(record, col) != principal.user_id:
            return False
    return evaluate(entry.condition, record)


def authorize(principal: Principal, action: str, record: Any = None) -> bool:
    """May ``principal`` do ``action`` (e.g. ``case:read``) on ``record``?

    Without a record (firm-level actions such as ``firm:admin``) only unconditional
    ``firm``-scope grants count, and any denial of the action refuses."""
    check_permission(action)
    grants, denials = principal.grants_for(action), principal.denials_for(action)
    if record is None:
        return bool(
            denials == [] and any(g.scope == "firm" and g.condition is None for g in grants)
        )
    if any(_matches(d, principal, record) for d in denials):
        return False
    return any(_matches(g, principal, record) for g in grants)


def require(principal: Principal, action: str, record: Any = None) -> None:
    """:func:`authorize` or raise :class:`~legal_data.errors.PermissionDenied`."""
    if not authorize(principal, action, record):
        raise PermissionDenied(f"{action} is not permitted")


def authorize_user(
    session: Session, user: uuid.UUID | Any, action: str, record: Any = None
) -> bool:
    return authorize(resolve(session, user), action, record)


# -- SQL ------------------------------------------------------------------------------


def _entry_sql(entry: Entry, principal: Principal, entity: Any) -> ColumnElement[bool]:
    scope: ColumnElement[bool]
    if entry.scope == "assigned":
        col = case_column_name(entity)
        if col is None:
            return false()
        case_col = getattr(entity, col)
        ca = CaseAssignment
        scope = exists(
            select(1).where(
                ca.tenant_id == entity.tenant_id,
                ca.case_id == case_col,
                ca.user_id == principal.user_id,
                or_(ca.ended_on.is_(None), ca.ended_on >= _current_date()),
            )
        )
    elif entry.scope == "own":
        col = owner_column_name(entity)
        if col is None:
            return false()
        scope = getattr(entity, col) == principal.user_id
    else:
        scope = true()
    return and_(scope, compile_condition(entry.condition, entity))


def _current_date() -> ColumnElement[Any]:
    from sqlalchemy import func

    return func.current_date()


def authorized_clause(principal: Principal, action: str, entity: Any) -> ColumnElement[bool]:
    """The decision of :func:`authorize` as a SQL expression over ``entity``."""
    check_permission(action)
    grants = [_entry_sql(g, principal, entity) for g in principal.grants_for(action)]
    if not grants:
        return false()
    clause = or_(*grants)
    denials = [_entry_sql(d, principal, entity) for d in principal.denials_for(action)]
    if denials:
        clause = and_(clause, not_(or_(*denials)))
    return clause


def authorized(stmt: S, principal: Principal, action: str) -> S:
    """Narrow ``stmt`` (a ``select()`` whose first entity is the checked model) to the
    rows ``principal`` may ``action``."""
    entity = stmt.column_descriptions[0]["entity"]
    if entity is None:
        raise ValueError("authorized() needs a select() of a mapped entity")
    return stmt.where(authorized_clause(principal, action, entity))


__all__ = [
    "authorize",
    "authorize_user",
    "authorized",
    "authorized_clause",
    "require",
    "resolve",
]
