"""Tenant sessions: every transaction sends the tenant context to PostgreSQL first.

The ``after_begin`` event of :class:`TenantSession` renders the current
:class:`~legal_data.tenancy.context.TenantContext` as ``SET LOCAL`` statements and
sends them in ONE round trip, before any statement of the transaction:

- ``SET LOCAL`` (not ``set_config``) because only ``SET LOCAL`` reaches the worker
  nodes of a Citus cluster; SET takes no bind parameters, so values are validated
  UUIDs or strings quoted by psycopg (``sql.Literal``);
- transaction-local only: nothing is set at session level, so a pooled connection
  carries nothing into its next use; every field is sent every time ('' when absent),
  so a value left behind by anyone else is overwritten, never inherited;
- no context at all raises :class:`~legal_data.errors.TenantContextMissing` before any
  SQL runs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from psycopg import sql
from sqlalchemy import Connection, Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from legal_data.errors import (
    AutocommitRefused,
    ConcurrentUpdate,
    InvalidTenantContext,
    TenantContextMissing,
)
from legal_data.tenancy.context import TenantContext, current_context, tenant_scope


class TenantSession(Session):
    """A :class:`~sqlalchemy.orm.Session` that refuses to work without a tenant context."""


def render_context_sql(context: TenantContext) -> str:
    """The ``SET LOCAL`` batch for ``context``. The only place literals enter SQL."""
    statements = [
        sql.SQL("SET LOCAL {} = {}").format(sql.SQL(name), sql.Literal(value))
        for name, value in context.settings().items()
    ]
    return "; ".join(s.as_string() for s in statements)


_SENT_CONTEXT = "legal_data.sent_tenant_context"


@event.listens_for(TenantSession, "after_begin")
def _send_context(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    context = current_context()
    if context is None:
        from legal_data.audit.security import record_security_event

        record_security_event(
            connection.engine,
            "tenant_context_missing",
            "warning",
            {"where": "tenant session used without tenant_scope/system_scope"},
        )
        raise TenantContextMissing(
            "no tenant context: wrap the work in tenant_scope(...) (or system_scope(...) "
            "for operator jobs) before using a tenant session"
        )
    if transaction.nested:
        # A savepoint lives inside the transaction whose context was sent at BEGIN. Sending
        # another one here would outlive the savepoint once it is released, and the rest of
        # the transaction would silently act for the other firm.
        if context != session.info.get(_SENT_CONTEXT):
            raise InvalidTenantContext(
                "the tenant context cannot change inside a transaction: commit or roll "
                "back first, or use a separate session for the other firm"
            )
        return
    if _autocommit(connection):
        raise AutocommitRefused("AUTOCOMMIT would drop the transaction-local tenant context")
    connection.exec_driver_sql(
        render_context_sql(context), execution_options={"no_parameters": True}
    )
    session.info[_SENT_CONTEXT] = context
    # The firm's encryption keys: one SELECT on a cache miss or after the TTL, none on a
    # hit. Imported here because the crypto runtime imports the tenancy package.
    from legal_data.crypto.runtime import on_begin

    on_begin(connection, context)


def _autocommit(connection: Connection) -> bool:
    """Whether statements on ``connection`` would run outside a transaction.

    Reads the driver connection's flag (no round trip). ``Connection.get_isolation_level()``
    is not used: it never reports AUTOCOMMIT and costs a query plus a ROLLBACK."""
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return True
    return bool(getattr(connection.connection.dbapi_connection, "autocommit", False))


def tenant_sessionmaker(engine: Engine, **kw: Any) -> sessionmaker[TenantSession]:
    """A factory of :class:`TenantSession` bound to a tenant engine."""
    kw.setdefault("expire_on_commit", False)
    return sessionmaker(engine, class_=TenantSession, **kw)


def async_tenant_sessionmaker(engine: AsyncEngine, **kw: Any) -> async_sessionmaker[AsyncSession]:
    """The asyncio counterpart: ``AsyncSession`` running :class:`TenantSession` inside."""
    kw.setdefault("expire_on_commit", False)
    return async_sessionmaker(engine, sync_session_class=TenantSession, **kw)


@contextmanager
def tenant_session(
    factory: sessionmaker[TenantSession],
    tenant_id: uuid.UUID | str | None = None,
    **context: Any,
) -> Iterator[TenantSession]:
    """One transaction for one firm: commit on success, roll back on any exception.

    With ``tenant_id`` the context is set for the block; without it the context already
    in force is used (and its absence raises before any SQL runs).
    """
    with _concurrent_update_as_typed_error():
        if tenant_id is None:
            with factory() as session, session.begin():
                yield session
            return
        with tenant_scope(tenant_id, **context), factory() as session, session.begin():
            yield session


@contextmanager
def _concurrent_update_as_typed_error() -> Iterator[None]:
    try:
        yield
    except StaleDataError as exc:
        raise ConcurrentUpdate(
            "the row was changed by someone else since it was read (optimistic locking); "
            "reload it and apply the change again"
        ) from exc


@asynccontextmanager
async def async_tenant_session(
    factory: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID | str | None = None,
    **context: Any,
) -> AsyncIterator[AsyncSession]:
    """:func:`tenant_session` for ``AsyncSession``."""
    with _concurrent_update_as_typed_error():
        if tenant_id is None:
            async with factory() as session, session.begin():
                yield session
            return
        with tenant_scope(tenant_id, **context):
            async with factory() as session, session.begin():
                yield session
