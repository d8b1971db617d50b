"""Engines with the library's defaults, and the login-role check that guards them.

:func:`create_tenant_engine` is what services use. It

- hides bound parameters in logs and error messages (``hide_parameters``: they may be
  client secrets);
- refuses AUTOCOMMIT (it would drop the transaction-local tenant context);
- on every new connection checks the login role and refuses to serve tenant data when
  it is a superuser, has BYPASSRLS, or can act as the owner of tenant tables: with such
  a role Row Level Security silently filters nothing;
- resets session-level state (``RESET ALL; RESET ROLE; DISCARD TEMP``) when a connection
  goes back to the pool: a plain ``SET``/``SET ROLE`` or a temp table left by one unit of
  work must not reach the next one (SQLAlchemy's own reset is only a ROLLBACK, which does
  not undo what a committed transaction set);
- translates constraint errors into typed exceptions (:mod:`legal_data.db.errors`);
- sets ``statement_timeout``, ``idle_in_transaction_session_timeout`` and
  ``application_name`` per connection.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState

from legal_data.db.errors import install_error_translation
from legal_data.db.provision import sqlalchemy_url
from legal_data.errors import AutocommitRefused, UnsafeDatabaseRole

ENV_DATABASE_URL = "LEGAL_DATA_DATABASE_URL"

#: Pool defaults, justified in the README: 10 + 20 overflow per process keeps a few
#: app processes under PostgreSQL's default 100 connections; pre-ping drops dead
#: connections after a failover instead of failing the first request. LIFO hands out the
#: most recently used connection: its backend has the hot queries' plans, the RLS and
#: wall functions' cached plans and psycopg's prepared statements already, and the
#: connections a quiet period does not need stay idle (and are recycled) instead of
#: taking turns.
POOL_DEFAULTS: dict[str, Any] = {
    "pool_size": 10,
    "max_overflow": 20,
    "pool_pre_ping": True,
    "pool_recycle": 1800,
    "pool_use_lifo": True,
}
STATEMENT_TIMEOUT_MS = 30_000
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000

ROLE_POSTURE_SQL = """
SELECT r.rolname, r.rolsuper, r.rolbypassrls,
       EXISTS (
           SELECT 1 FROM pg_class c
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
                               AND NOT a.attisdropped
           WHERE c.relkind IN ('r', 'p')
             AND pg_has_role(r.oid, c.relowner, 'MEMBER')
       ) AS owns_tenant_tables
FROM pg_roles r WHERE r.rolname = session_user
"""


def _options(application_name: str) -> dict[str, Any]:
    return {
        "application_name": application_name,
        "options": (
            f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
            f" -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}"
        ),
    }


def check_role_posture(dbapi_connection: Any) -> None:
    """Raise :class:`UnsafeDatabaseRole` if this login could bypass Row Level Security."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(ROLE_POSTURE_SQL)
        name, superuser, bypassrls, owns = cursor.fetchone()
    finally:
        cursor.close()
    dbapi_connection.rollback()
    problems = [
        text
        for flag, text in (
            (superuser, "is a superuser"),
            (bypassrls, "has BYPASSRLS"),
            (owns, "owns (or can act as the owner of) tenant tables"),
        )
        if flag
    ]
    if problems:
        raise UnsafeDatabaseRole(
            f"login role {name!r} {' and '.join(problems)}: Row Level Security would not "
            "isolate firms. Connect as a login role that is a member of legal_app "
            "(legal-data db create-login NAME)."
        )


#: Sent when a connection is checked in. Not DISCARD ALL: it would also drop psycopg's
#: prepared statements, and it cannot run inside the implicit transaction block.
RESET_SESSION_SQL = "RESET ALL; RESET ROLE; DISCARD TEMP"


def reset_session_state(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """Pool ``reset`` hook: leave nothing session-level behind for the next checkout.

    A failure here makes the pool discard the connection instead of reusing it."""
    if state.terminate_only or not state.asyncio_safe:
        return  # the connection is being thrown away, not reused
    dbapi_connection.rollback()
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # one round trip, no BEGIN/COMMIT around it
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(RESET_SESSION_SQL)
        finally:
            cursor.close()
    finally:
        dbapi_connection.autocommit = autocommit


def _guard(engine: Engine, *, allow_privileged_role: bool) -> None:
    install_error_translation(engine)
    event.listen(engine.pool, "reset", reset_session_state)
    if not allow_privileged_role:
        event.listen(engine, "connect", lambda dbapi_conn, _rec: check_role_posture(dbapi_conn))

    def refuse_autocommit(_conn: Any, opts: dict[str, Any]) -> None:
        if opts.get("isolation_level") == "AUTOCOMMIT":
            raise AutocommitRefused("tenant engines never run in AUTOCOMMIT")

    event.listen(engine, "set_engine_execution_options", refuse_autocommit)
    event.listen(engine, "set_connection_execution_options", refuse_autocommit)


def create_tenant_engine(
    url: str | URL,
    *,
    allow_privileged_role: bool = False,
    application_name: str = "legal_data",
    **kw: Any,
) -> Engine:
    """An engine for tenant sessions.

    ``allow_privileged_role`` exists for the test harness's admin engine only: it turns
    off the login-role check, and with it the guarantee that RLS applies.
    """
    if kw.get("isolation_level") == "AUTOCOMMIT":
        raise AutocommitRefused("tenant engines never run in AUTOCOMMIT")
    params = {**POOL_DEFAULTS, **kw}
    connect_args = {**_options(application_name), **params.pop("connect_args", {})}
    engine = create_engine(
        sqlalchemy_url(url), hide_parameters=True, connect_args=connect_args, **params
    )
    _guard(engine, allow_privileged_role=allow_privileged_role)
    return engine


def create_async_tenant_engine(
    url: str | URL,
    *,
    allow_privileged_role: bool = False,
    application_name: str = "legal_data",
    **kw: Any,
) -> AsyncEngine:
    """The asyncio counterpart of :func:`create_tenant_engine` (psycopg async driver)."""
    if kw.get("isolation_level") == "AUTOCOMMIT":
        raise AutocommitRefused("tenant engines never run in AUTOCOMMIT")
    params = {**POOL_DEFAULTS, **kw}
    connect_args = {**_options(application_name), **params.pop("connect_args", {})}
    engine = create_async_engine(
        sqlalchemy_url(url), hide_parameters=True, connect_args=connect_args, **params
    )
    _guard(engine.sync_engine, allow_privileged_role=allow_privileged_role)
    return engine
