"""The defaults of :func:`legal_data.db.engine.create_tenant_engine`, as PostgreSQL sees them.

Pool size, overflow, pre-ping, recycling and LIFO checkout on the pool; the per-connection
settings (``statement_timeout``, ``idle_in_transaction_session_timeout``,
``application_name``) read back from the server through a tenant session; every one
can be overridden by the caller. Why these values: README, "Engine defaults".
"""

from __future__ import annotations

from sqlalchemy import text

from legal_data.db.engine import (
    IDLE_IN_TRANSACTION_TIMEOUT_MS,
    POOL_DEFAULTS,
    STATEMENT_TIMEOUT_MS,
    create_tenant_engine,
)
from legal_data.tenancy import tenant_scope, tenant_sessionmaker

SETTINGS = text(
    "SELECT current_setting('statement_timeout'),"
    " current_setting('idle_in_transaction_session_timeout'),"
    " current_setting('application_name')"
)


def test_pool_defaults(legal_db):
    engine = create_tenant_engine(legal_db.app_url)
    try:
        pool = engine.pool
        assert pool.size() == POOL_DEFAULTS["pool_size"] == 10
        assert pool._max_overflow == POOL_DEFAULTS["max_overflow"] == 20
        assert pool._pre_ping is True
        assert pool._recycle == 1800
        assert pool._pool.use_lifo is True
    finally:
        engine.dispose()


def test_connection_settings_reach_the_server(legal_db, tenant_a):
    engine = create_tenant_engine(legal_db.app_url)
    try:
        with tenant_scope(tenant_a.id), tenant_sessionmaker(engine)() as s, s.begin():
            statement, idle, name = s.execute(SETTINGS).one()
    finally:
        engine.dispose()
    assert (STATEMENT_TIMEOUT_MS, IDLE_IN_TRANSACTION_TIMEOUT_MS) == (30_000, 60_000)
    assert (statement, idle, name) == ("30s", "1min", "legal_data")


def test_the_caller_overrides_every_default(legal_db, tenant_a):
    engine = create_tenant_engine(
        legal_db.app_url,
        application_name="billing-worker",
        pool_size=3,
        max_overflow=0,
        pool_pre_ping=False,
        pool_use_lifo=False,
        connect_args={"options": "-c statement_timeout=5000"},
    )
    try:
        assert engine.pool.size() == 3 and engine.pool._max_overflow == 0
        assert engine.pool._pre_ping is False and engine.pool._pool.use_lifo is False
        with tenant_scope(tenant_a.id), tenant_sessionmaker(engine)() as s, s.begin():
            statement, idle, name = s.execute(SETTINGS).one()
    finally:
        engine.dispose()
    # options replaced as a whole: the idle timeout is then the server's default
    assert (statement, name) == ("5s", "billing-worker")
    assert idle != "1min"
