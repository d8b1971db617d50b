"""A migrated database with an application login, as one reusable object.

The pytest plugin, the demo and the perf harness all need the same thing: a fresh
database migrated to head, an admin engine that may see everything (for setup and
for assertions about what is really stored), and an application engine that logs in
as a member of ``legal_app`` and is therefore subject to Row Level Security.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import sessionmaker

from legal_data.crypto.runtime import use_throwaway_master_key
from legal_data.db import migrate
from legal_data.db.engine import create_tenant_engine
from legal_data.db.provision import (
    ProvidedServer,
    create_database,
    drop_database,
    provide_postgres,
)
from legal_data.db.roles import create_login, drop_login
from legal_data.models import Base, GlobalTable
from legal_data.tenancy.session import TenantSession, tenant_sessionmaker

#: The audit trail cannot be truncated (that is the point); tests tell firms apart by id.
APPEND_ONLY = frozenset({"audit_logs", "audit_seals", "audit_archives", "security_events"})


@dataclass
class Harness:
    admin_url: URL
    app_url: URL
    admin_engine: Engine
    app_engine: Engine
    app_sessions: sessionmaker[TenantSession] = field(init=False)
    #: Tenant sessions on the admin engine: they bypass RLS but still send the context,
    #: which the audit triggers need (every write has an actor, or is the system's).
    admin_sessions: sessionmaker[TenantSession] = field(init=False)

    def __post_init__(self) -> None:
        self.app_sessions = tenant_sessionmaker(self.app_engine)
        self.admin_sessions = tenant_sessionmaker(self.admin_engine)

    def truncate_all(self) -> None:
        """Remove every firm's data (global reference data stays)."""
        tables = [
            t.name
            for t in Base.metadata.sorted_tables
            if not issubclass(_model_for(t.name), GlobalTable) and t.name not in APPEND_ONLY
        ]
        with self.admin_engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))

    def dispose(self) -> None:
        self.app_engine.dispose()
        self.admin_engine.dispose()


def _model_for(table_name: str) -> type:
    for mapper in Base.registry.mappers:
        if mapper.local_table.name == table_name:
            return mapper.class_
    return object


@contextmanager
def empty_database(server: ProvidedServer, prefix: str = "legal_data_test") -> Iterator[URL]:
    """A fresh, empty database on ``server``; dropped afterwards."""
    name = f"{prefix}_{os.getpid()}_{os.urandom(3).hex()}"
    url = create_database(server.admin_url.set(database="postgres"), name)
    try:
        yield url
    finally:
        drop_database(server.admin_url, name)


@contextmanager
def migrated_database(
    server: ProvidedServer | None = None, prefix: str = "legal_data_test"
) -> Iterator[Harness]:
    """A fresh database at head, an admin engine and an app-role engine; all removed after."""
    if server is None:
        with provide_postgres() as provided, migrated_database(provided, prefix) as harness:
            yield harness
        return
    with empty_database(server, prefix) as admin_url:
        login = f"legal_app_{admin_url.database[-12:]}"
        try:
            migrate.upgrade(admin_url)
            _password, app_url = create_login(admin_url, login)
            # Encrypted columns need a master key: a generated TEST key unless the process
            # configured one (it dies with the process, and so does the test data).
            use_throwaway_master_key("test database")
            harness = Harness(
                admin_url=admin_url,
                app_url=app_url,
                admin_engine=create_tenant_engine(
                    admin_url, allow_privileged_role=True, application_name="legal_data admin"
                ),
                app_engine=create_tenant_engine(app_url, pool_size=5, max_overflow=60),
            )
            try:
                yield harness
            finally:
                harness.dispose()
        finally:
            drop_login(server.admin_url.set(database="postgres"), login)
