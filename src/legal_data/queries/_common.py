"""What every hot query shares: the page type, input checks and the firm in context.

Each list API returns a :class:`Page`: the items and the cursor of the last one
(``next``), which the caller passes back as ``after=`` for the following page, or
``None`` when there is nothing more. Pagination is by keyset (``WHERE (key, id) <
(:key, :id) ORDER BY key, id``), never ``OFFSET``: page 1,000 costs what page 1 costs,
and rows inserted meanwhile neither repeat nor vanish across pages. ``id`` breaks ties,
so rows sharing a date are never split ambiguously between two pages.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import BindParameter, Date, DateTime, Executable, Integer, Text, bindparam
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.engine import Result
from sqlalchemy.orm import Session

from legal_data.errors import TenantContextMissing, ValidationError
from legal_data.tenancy.context import current_context

T = TypeVar("T")
C = TypeVar("C")

#: Largest page any list API returns; bigger pages are refused, not truncated.
MAX_LIMIT = 500


class InvalidQuery(ValidationError):
    """A query argument (page size, cursor, month, time range) was rejected before any SQL."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T, C]):
    """One page of a keyset-paginated list."""

    items: list[T]
    #: Pass as ``after=`` to get the next page; ``None`` on the last page.
    next: C | None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


def check_uuid(name: str, value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise InvalidQuery(f"{name} must be a UUID, got {type(value).__name__}")


def check_aware(name: str, value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise InvalidQuery(f"{name} must be a timezone-aware datetime")
    return value


def check_cursor(name: str, value: object, kind: type) -> None:
    if value is not None and not isinstance(value, kind):
        raise InvalidQuery(f"{name} must be a {kind.__name__} (from Page.next) or None")


def firm_in_context() -> uuid.UUID:
    """The firm of the current tenant context.

    Every hot query repeats it as an explicit ``tenant_id = :firm`` condition. Row Level
    Security is still what isolates firms (the policy applies whatever the query says);
    the explicit condition is for the planner, which sees a constant it can use with
    the column statistics of a skewed firm-size distribution instead of the policy's
    per-statement parameter, and it makes the statement the one the raw-SQL floor in
    ``perf/`` runs too.
    """
    ctx = current_context()
    if ctx is None or ctx.tenant_id is None:
        raise TenantContextMissing(
            "this query reads one firm's data: run it inside tenant_scope(firm_id, ...)"
        )
    return ctx.tenant_id


# -- statements built once ---------------------------------------------------------------------
# The hot queries are built once per shape, with bound parameters, and run on the session's
# Core connection: building a select of this size and computing its cache key costs about a
# millisecond of Python per call, and the ORM result machinery as much again — more than
# the SQL itself for a page of 50 rows. The session still supplies the transaction (and
# with it the tenant context); no ORM entity is loaded, so nothing the ORM events do for
# entities (READ audit of privileged documents) is bypassed.


def p_uuid(name: str) -> BindParameter[uuid.UUID]:
    return bindparam(name, type_=UUID(as_uuid=True))


def p_int(name: str) -> BindParameter[int]:
    return bindparam(name, type_=Integer())


def p_text(name: str) -> BindParameter[str]:
    return bindparam(name, type_=Text())


def p_date(name: str) -> BindParameter[dt.date]:
    return bindparam(name, type_=Date())


def p_ts(name: str) -> BindParameter[dt.datetime]:
    return bindparam(name, type_=DateTime(timezone=True))


def run(session: Session, stmt: Executable, params: dict[str, object]) -> Result:
    """Execute a prebuilt statement in the session's transaction (Core, no ORM loading)."""
    return session.connection().execute(stmt, params)


def page_of(rows: list[T], limit: int, cursor_of: Callable[[T], C]) -> Page[T, C]:
    """Build a page from ``limit + 1`` fetched rows (the extra row says there is more)."""
    if len(rows) > limit:
        items = rows[:limit]
        return Page(items, cursor_of(items[-1]))
    return Page(rows, None)
