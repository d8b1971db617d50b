"""The legal_data pytest plugin (entry point ``pytest11``).

Fixtures (all backed by a real PostgreSQL, see :mod:`legal_data.db.provision`):

``legal_data_server`` (session)
    The PostgreSQL server of this run (embedded, docker or ``LEGAL_DATA_TEST_DATABASE_URL``).
``legal_data_harness`` (session)
    A fresh database migrated to head, an admin engine and an app-role engine.
``admin_engine`` / ``app_engine`` (session)
    The admin engine sees everything (setup, assertions about what is stored); the
    app engine logs in as a member of ``legal_app`` and is subject to Row Level Security.
``app_sessions`` (session)
    ``sessionmaker`` of :class:`~legal_data.tenancy.TenantSession` on the app engine.
``legal_db`` (function)
    Clean state: every firm's rows are truncated after the test.
``tenant_a`` / ``tenant_b`` (function)
    Two firms, created through the admin engine.
``app_session_a`` (function)
    A tenant session of firm A (one transaction, committed at the end), with the
    factories bound to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from legal_data.db.provision import ProvidedServer, provide_postgres
from legal_data.models import Tenant
from legal_data.tenancy.context import tenant_scope
from legal_data.tenancy.firms import new_firm
from legal_data.testing.harness import Harness, migrated_database

#: The actor of the test fixtures' writes (the audit trail requires one).
TEST_ACTOR = uuid.UUID("01890000-0000-7000-8000-00000000a11e")


@pytest.fixture(scope="session")
def legal_data_server() -> Iterator[ProvidedServer]:
    with provide_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def legal_data_harness(legal_data_server: ProvidedServer) -> Iterator[Harness]:
    with migrated_database(legal_data_server) as harness:
        yield harness


@pytest.fixture(scope="session")
def admin_engine(legal_data_harness: Harness) -> Engine:
    return legal_data_harness.admin_engine


@pytest.fixture(scope="session")
def app_engine(legal_data_harness: Harness) -> Engine:
    return legal_data_harness.app_engine


@pytest.fixture(scope="session")
def app_sessions(legal_data_harness: Harness) -> sessionmaker:
    return legal_data_harness.app_sessions


@pytest.fixture
def legal_db(legal_data_harness: Harness) -> Iterator[Harness]:
    yield legal_data_harness
    legal_data_harness.truncate_all()


def make_tenant(harness: Harness, slug: str, name: str, **kw: object) -> Tenant:
    """Create a firm through the admin engine, as the system actor, and return the row."""
    return new_firm(harness.admin_sessions, slug=slug, name=name, reason="test fixture", **kw)


@pytest.fixture
def tenant_a(legal_db: Harness) -> Tenant:
    return make_tenant(legal_db, "firm-a", "さくら法律事務所")


@pytest.fixture
def tenant_b(legal_db: Harness) -> Tenant:
    return make_tenant(legal_db, "firm-b", "あおば総合法律事務所")


@pytest.fixture
def app_session_a(legal_db: Harness, tenant_a: Tenant) -> Iterator[object]:
    from legal_data.testing.factories import bind_session

    with (
        tenant_scope(tenant_a.id, user_id=TEST_ACTOR, role="test"),
        legal_db.app_sessions() as session,
        session.begin(),
        bind_session(session),
    ):
        yield session
