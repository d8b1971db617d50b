"""One pooled connection, many firms: nothing a transaction sets survives it.

An engine with ``pool_size=1, max_overflow=0`` hands the same backend
(``pg_backend_pid()``) to every step: firm A, then no firm, then firm B, across commit,
rollback, an exception, a database error and a savepoint rollback. Each step must see
exactly its own context (every ``app.*`` setting, ``current_user``, rows), and the
no-firm steps must raise :class:`TenantContextMissing` before any SQL is sent.

Also: AUTOCOMMIT is refused on tenant engines (every way of asking for it), and a login
that could bypass Row Level Security is refused on first use.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from isolation_support import tenant_tx
from psycopg import sql
from sqlalchemy import Engine, event, select, text

from legal_data.db.engine import create_async_tenant_engine, create_tenant_engine
from legal_data.db.provision import libpq_conninfo
from legal_data.errors import (
    AutocommitRefused,
    InvalidTenantContext,
    RowLevelSecurityViolation,
    TenantContextMissing,
    UnsafeDatabaseRole,
)
from legal_data.models import TenantCounter
from legal_data.tenancy import (
    async_tenant_session,
    async_tenant_sessionmaker,
    system_scope,
    tenant_scope,
    tenant_session,
    tenant_sessionmaker,
)

SETTINGS = (
    "app.current_tenant_id",
    "app.current_user_id",
    "app.current_user_role",
    "app.client_ip",
    "app.user_agent",
    "app.request_id",
    "app.reason",
)
PROBE = text(
    "SELECT pg_backend_pid() AS pid, current_user AS current_user_, "
    + ", ".join(f"current_setting('{s}', true) AS \"{s}\"" for s in SETTINGS)
    + ", current_setting('statement_timeout') AS statement_timeout"
    + ", current_setting('app.leftover', true) AS leftover"
    + ", (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()) AS temp_tables"
)


class Recorder:
    """Counts the statements the engine sends (``before_cursor_execute``)."""

    def __init__(self, engine: Engine) -> None:
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)


@pytest.fixture
def one_conn_engine(legal_db) -> Iterator[Engine]:
    engine = create_tenant_engine(legal_db.app_url, pool_size=1, max_overflow=0, pool_timeout=5)
    yield engine
    engine.dispose()


def _probe(engine: Engine) -> dict[str, Any]:
    """What the pooled connection looks like between units of work (plain Core, no context)."""
    with engine.connect() as conn:
        row = dict(conn.execute(PROBE).mappings().one())
        row["visible_counters"] = conn.execute(
            select(TenantCounter.tenant_id, TenantCounter.name)
        ).all()
        return row


def _in_tx(session) -> dict[str, Any]:
    row = dict(session.execute(PROBE).mappings().one())
    row["visible_counters"] = session.execute(
        select(TenantCounter.tenant_id, TenantCounter.name)
    ).all()
    return row


def _expected(tenant_id: uuid.UUID, **ctx: Any) -> dict[str, str]:
    return {
        "app.current_tenant_id": str(tenant_id),
        "app.current_user_id": str(ctx.get("user_id") or ""),
        "app.current_user_role": ctx.get("role") or "",
        "app.client_ip": ctx.get("client_ip") or "",
        "app.user_agent": ctx.get("user_agent") or "",
        "app.request_id": ctx.get("request_id") or "",
        "app.reason": ctx.get("reason") or "",
    }


def test_one_backend_carries_nothing_between_firms(legal_db, tenant_a, tenant_b, one_conn_engine):
    engine = one_conn_engine
    sessions = tenant_sessionmaker(engine)
    recorder = Recorder(engine)
    login = legal_db.app_url.username
    pids: set[int] = set()
    ctx_a = {
        "user_id": uuid.uuid4(),
        "role": "lawyer",
        "client_ip": "192.0.2.1",
        "user_agent": "Mozilla/5.0 (firm A)",
        "request_id": "req-a",
        "reason": "firm A's business",
    }
    ctx_b = {"role": "paralegal"}  # deliberately sparse: A's other fields must not show
    for firm in (tenant_a, tenant_b):  # one visible row per firm
        with system_scope(reason="test setup"), legal_db.admin_sessions() as s, s.begin():
            s.add(TenantCounter(tenant_id=firm.id, name=f"seed-{firm.slug}", value=1))

    baseline = _probe(engine)  # the fresh connection: what every later checkout must match
    assert baseline["statement_timeout"] != "1234ms"

    def check_clean() -> None:
        """No firm: the session refuses before any SQL; the connection is clean."""
        before = len(recorder.statements)
        with pytest.raises(TenantContextMissing), sessions() as s:
            s.execute(select(TenantCounter))
        with pytest.raises(TenantContextMissing), sessions() as s, s.begin():
            s.connection()
        assert recorder.statements[before:] == [], "SQL was sent without a tenant context"
        probe = _probe(engine)
        pids.add(probe["pid"])
        assert all(probe[s] in ("", None) for s in SETTINGS), probe
        assert probe["current_user_"] == login
        assert probe["statement_timeout"] == baseline["statement_timeout"]
        assert probe["leftover"] in ("", None)
        assert probe["temp_tables"] == 0
        assert probe["visible_counters"] == []  # fail closed with no tenant

    def check_in_tx(s, firm, ctx: dict[str, Any]) -> None:
        got = _in_tx(s)
        pids.add(got["pid"])
        assert {k: got[k] for k in SETTINGS} == _expected(firm.id, **ctx)
        assert got["current_user_"] == login
        assert got["statement_timeout"] == baseline["statement_timeout"]
        assert got["leftover"] in ("", None)
        assert got["temp_tables"] == 0
        assert {t for t, _ in got["visible_counters"]} == {firm.id}

    check_clean()

    # 1. Firm A, committed. Careless code leaves session-level state behind: a plain SET
    #    of the tenant (another firm's!), a custom setting, SET ROLE, a timeout, a temp table.
    with tenant_scope(tenant_a.id, **ctx_a), sessions() as s, s.begin():
        check_in_tx(s, tenant_a, ctx_a)
        s.add(TenantCounter(tenant_id=tenant_a.id, name="a-committed", value=1))
        s.execute(text(f"SET app.current_tenant_id = '{tenant_b.id}'"))
        s.execute(text("SET app.leftover = 'from firm A'"))
        s.execute(text("SET ROLE legal_app"))
        s.execute(text("SET statement_timeout = 1234"))
        s.execute(text("CREATE TEMP TABLE firm_a_scratch AS SELECT * FROM tenant_counters"))
    check_clean()

    # 2. Firm B, rolled back.
    with tenant_scope(tenant_b.id, **ctx_b), sessions() as s:
        s.begin()
        check_in_tx(s, tenant_b, ctx_b)
        s.add(TenantCounter(tenant_id=tenant_b.id, name="b-rolled-back", value=1))
        s.flush()
        s.rollback()
    check_clean()

    # 3. Firm A, an exception in the application: rolled back by tenant_session.
    with pytest.raises(ZeroDivisionError), tenant_session(sessions, tenant_a.id, **ctx_a) as s:
        check_in_tx(s, tenant_a, ctx_a)
        s.add(TenantCounter(tenant_id=tenant_a.id, name="a-exception", value=1))
        s.flush()
        _ = 1 / 0
    check_clean()

    # 4. Firm B, a database error (a cross-firm write) inside the transaction.
    with pytest.raises(RowLevelSecurityViolation), tenant_session(sessions, tenant_b.id) as s:
        check_in_tx(s, tenant_b, {})
        s.add(TenantCounter(tenant_id=tenant_a.id, name="b-writes-for-a", value=1))
        s.flush()
    check_clean()

    # 5. Firm B with a savepoint rolled back: inside it, careless code issues SET LOCAL of
    #    A's id (RLS follows it: that is why no SQL may be built from input); the savepoint
    #    rollback restores B's context.
    with tenant_scope(tenant_b.id, **ctx_b), sessions() as s, s.begin():
        check_in_tx(s, tenant_b, ctx_b)
        nested = s.begin_nested()
        check_in_tx(s, tenant_b, ctx_b)
        s.execute(text(f"SET LOCAL app.current_tenant_id = '{tenant_a.id}'"))
        s.execute(text("SET LOCAL app.user_agent = 'inside savepoint'"))
        assert {t for t, _ in _in_tx(s)["visible_counters"]} == {tenant_a.id}
        nested.rollback()
        check_in_tx(s, tenant_b, ctx_b)
        with s.begin_nested():  # a released savepoint keeps B as well
            check_in_tx(s, tenant_b, ctx_b)
        check_in_tx(s, tenant_b, ctx_b)
        s.add(TenantCounter(tenant_id=tenant_b.id, name="b-after-savepoint", value=1))
    check_clean()

    # 6. Firm A again: sees its committed row and nothing of B, on the same backend.
    with tenant_scope(tenant_a.id, **ctx_a), sessions() as s, s.begin():
        check_in_tx(s, tenant_a, ctx_a)
        names = set(s.scalars(select(TenantCounter.name)))
        assert names == {"seed-firm-a", "a-committed"}
    check_clean()

    assert len(pids) == 1, f"expected one backend, saw {pids}"
    with legal_db.admin_engine.connect() as conn:
        stored = set(conn.execute(select(TenantCounter.tenant_id, TenantCounter.name)))
    assert stored == {
        (tenant_a.id, "seed-firm-a"),
        (tenant_b.id, "seed-firm-b"),
        (tenant_a.id, "a-committed"),
        (tenant_b.id, "b-after-savepoint"),
    }


def test_fail_closed_on_fresh_and_reused_connections(legal_db, tenant_a, one_conn_engine):
    """With no context, a plain Core connection sees nothing, never an error (NULL vs '')."""
    with system_scope(reason="test setup"), legal_db.admin_sessions() as s, s.begin():
        s.add(TenantCounter(tenant_id=tenant_a.id, name="x", value=1))
    first = _probe(one_conn_engine)  # fresh backend: the setting is NULL
    assert first["app.current_tenant_id"] is None
    assert first["visible_counters"] == []
    with tenant_tx(tenant_sessionmaker(one_conn_engine), tenant_a.id) as s:
        assert len(s.execute(select(TenantCounter)).all()) == 1
    second = _probe(one_conn_engine)  # reused backend
    assert second["pid"] == first["pid"]
    assert second["app.current_tenant_id"] in ("", None)
    assert second["visible_counters"] == []


# -- AUTOCOMMIT ------------------------------------------------------------------------


def test_autocommit_is_refused_on_tenant_engines(legal_db, tenant_a, one_conn_engine):
    url = legal_db.app_url
    with pytest.raises(AutocommitRefused):
        create_tenant_engine(url, isolation_level="AUTOCOMMIT")
    with pytest.raises(AutocommitRefused):
        create_async_tenant_engine(url, isolation_level="AUTOCOMMIT")
    with pytest.raises(AutocommitRefused):
        one_conn_engine.execution_options(isolation_level="AUTOCOMMIT")
    with one_conn_engine.connect() as conn, pytest.raises(AutocommitRefused):
        conn.execution_options(isolation_level="AUTOCOMMIT")
    sessions = tenant_sessionmaker(one_conn_engine)
    with tenant_scope(tenant_a.id), sessions() as s, pytest.raises(AutocommitRefused):
        s.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    # The engine still works afterwards, in a real transaction.
    with tenant_tx(sessions, tenant_a.id) as s:
        assert s.execute(text("SELECT current_setting('app.current_tenant_id')")).scalar() == str(
            tenant_a.id
        )


def test_autocommit_dbapi_connection_is_refused_by_the_session(legal_db, tenant_a):
    """A driver connection switched to autocommit behind SQLAlchemy's back (a pool hook,
    a library) would run ``SET LOCAL`` outside any transaction: the session refuses it."""
    engine = create_tenant_engine(legal_db.app_url, pool_size=1, max_overflow=0, pool_timeout=5)

    @event.listens_for(engine, "connect")
    def _autocommit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.autocommit = True

    recorder = Recorder(engine)
    try:
        sessions = tenant_sessionmaker(engine)
        with tenant_scope(tenant_a.id), sessions() as s, pytest.raises(AutocommitRefused):
            s.execute(text("SELECT current_setting('app.current_tenant_id', true)"))
        assert recorder.statements == []
    finally:
        engine.dispose()


async def test_autocommit_is_refused_on_async_engines(legal_db, tenant_a):
    engine = create_async_tenant_engine(legal_db.app_url, pool_size=1, max_overflow=0)
    try:
        with pytest.raises(AutocommitRefused):
            engine.execution_options(isolation_level="AUTOCOMMIT")
        factory = async_tenant_sessionmaker(engine)
        async with async_tenant_session(factory, tenant_a.id) as s:
            got = await s.execute(text("SELECT current_setting('app.current_tenant_id')"))
            assert got.scalar() == str(tenant_a.id)
    finally:
        await engine.dispose()


# -- logins that could bypass RLS ------------------------------------------------------


@pytest.fixture
def make_login(legal_db) -> Iterator[Any]:
    """Create throwaway LOGIN roles with given attributes; dropped afterwards."""
    created: list[str] = []
    conninfo = libpq_conninfo(legal_db.admin_url)

    def make(attributes: str, member_of: str):
        name = f"ld_unsafe_{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(16)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} " + attributes + " IN ROLE {}").format(
                    sql.Identifier(name), sql.Literal(password), sql.Identifier(member_of)
                )
            )
        created.append(name)
        return legal_db.admin_url.set(username=name, password=password)

    yield make
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _refused_on_first_use(url, expected: str) -> None:
    engine = create_tenant_engine(url, pool_size=1, max_overflow=0)
    try:
        for _ in range(2):  # and on every later attempt: no connection is kept
            with pytest.raises(UnsafeDatabaseRole, match=expected), engine.connect():
                pass
        with (
            tenant_scope(uuid.uuid4()),
            tenant_sessionmaker(engine)() as s,
            pytest.raises(UnsafeDatabaseRole),
        ):
            s.execute(text("SELECT 1"))
        assert engine.pool.checkedout() == 0
    finally:
        engine.dispose()


def test_superuser_login_is_refused(legal_db):
    _refused_on_first_use(legal_db.admin_url, "is a superuser")


def test_bypassrls_login_is_refused(make_login):
    _refused_on_first_use(make_login("NOSUPERUSER BYPASSRLS", "legal_app"), "has BYPASSRLS")


def test_login_acting_as_table_owner_is_refused(make_login):
    _refused_on_first_use(make_login("NOSUPERUSER NOBYPASSRLS", "legal_owner"), "owner")


async def test_superuser_login_is_refused_by_async_engine(legal_db):
    engine = create_async_tenant_engine(legal_db.admin_url, pool_size=1, max_overflow=0)
    try:
        with pytest.raises(UnsafeDatabaseRole, match="superuser"):
            async with engine.connect():
                pass
    finally:
        await engine.dispose()


def test_app_login_is_accepted(legal_db):
    engine = create_tenant_engine(legal_db.app_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == legal_db.app_url.username
    finally:
        engine.dispose()


def test_async_session_context_does_not_leak_between_tasks(legal_db, tenant_a, tenant_b):
    """Two interleaved asyncio tasks on one connection each see only their firm."""
    import asyncio

    async def main() -> None:
        engine = create_async_tenant_engine(legal_db.app_url, pool_size=1, max_overflow=0)
        factory = async_tenant_sessionmaker(engine)
        seen: dict[uuid.UUID, set[str]] = {}
        pids: set[int] = set()

        async def work(firm, rounds: int) -> None:
            for _ in range(rounds):
                async with async_tenant_session(factory, firm.id) as s:
                    row = (
                        await s.execute(
                            text(
                                "SELECT pg_backend_pid(), current_setting('app.current_tenant_id')"
                            )
                        )
                    ).one()
                    pids.add(row[0])
                    seen.setdefault(firm.id, set()).add(row[1])
                    await asyncio.sleep(0)

        try:
            await asyncio.gather(work(tenant_a, 20), work(tenant_b, 20))
        finally:
            await engine.dispose()
        assert seen == {tenant_a.id: {str(tenant_a.id)}, tenant_b.id: {str(tenant_b.id)}}
        assert len(pids) == 1

    asyncio.run(main())


def test_session_without_context_cannot_be_rescued_by_a_bind(legal_db, one_conn_engine):
    """Handing a tenant session an explicit connection does not skip the context check."""
    sessions = tenant_sessionmaker(one_conn_engine)
    with one_conn_engine.connect() as conn:
        s = sessions(bind=conn)
        with pytest.raises(TenantContextMissing):
            s.execute(text("SELECT 1"))
        s.close()


def test_context_cannot_switch_firms_inside_a_transaction(legal_db, tenant_a, tenant_b):
    """A savepoint opened under another firm's scope is refused: otherwise, once released,
    the rest of the outer transaction would act for that firm while the code's context
    says otherwise."""
    with system_scope(reason="test setup"), legal_db.admin_sessions() as s, s.begin():
        s.add(TenantCounter(tenant_id=tenant_a.id, name="a-secret", value=1))
    with tenant_scope(tenant_b.id), legal_db.app_sessions() as s, s.begin():
        assert s.scalars(select(TenantCounter.name)).all() == []
        with tenant_scope(tenant_a.id), pytest.raises(InvalidTenantContext), s.begin_nested():
            s.scalars(select(TenantCounter.name)).all()
        current = s.execute(text("SELECT current_setting('app.current_tenant_id')")).scalar()
        assert current == str(tenant_b.id)
        assert s.scalars(select(TenantCounter.name)).all() == []
        with (
            tenant_scope(tenant_b.id, reason="same firm, other reason"),
            pytest.raises(InvalidTenantContext),
            s.begin_nested(),
        ):
            s.execute(text("SELECT 1"))
        with s.begin_nested():  # the transaction's own context: fine
            assert s.scalars(select(TenantCounter.name)).all() == []
