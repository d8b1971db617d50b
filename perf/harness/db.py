"""Which database the harness works on, and the two kinds of connection it needs.

- ``--database-url`` (or ``LEGAL_DATA_ADMIN_URL``): an existing database, used as is
  (``seed`` migrates it and refuses one that already holds firms);
- otherwise the server in ``LEGAL_DATA_TEST_DATABASE_URL`` with a database
  ``legal_perf_<profile>`` that ``seed`` (re)creates and ``run``/``load`` reuse;
- otherwise an embedded throwaway server: it lives as long as the command, so ``run``
  and ``load`` then seed a fresh database first (and say so).

The admin side connects as the URL's (superuser) role. The application side logs in
as ``legal_perf_app``, a member of ``legal_app`` created like the test harness creates
its login, re-keyed with a fresh random password by every command (nothing to store).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from legal_data.db import migrate
from legal_data.db.provision import (
    ENV_TEST_URL,
    ProvidedServer,
    create_database,
    drop_database,
    libpq_conninfo,
    provide_postgres,
    sqlalchemy_url,
)
from legal_data.db.roles import APP_GROUP, create_login

APP_LOGIN = "legal_perf_app"


@dataclass(frozen=True)
class Target:
    """The perf database: admin URL, whether it is ours to drop, and where it lives."""

    admin_url: URL
    owned: bool  # created by the harness under a fixed name (seed may drop and recreate it)
    ephemeral: bool  # on an embedded server that dies with this process
    server: str  # "url" (given), "dev" (LEGAL_DATA_TEST_DATABASE_URL) or "embedded"


def default_name(profile: str) -> str:
    return f"legal_perf_{profile}"


@contextmanager
def target(database_url: str | None, profile: str) -> Iterator[Target]:
    """Resolve the perf database (see the module docstring). Nothing is created here."""
    url = database_url or os.environ.get(migrate.ENV_ADMIN_URL)
    if url:
        yield Target(sqlalchemy_url(url), owned=False, ephemeral=False, server="url")
        return
    if os.environ.get(ENV_TEST_URL):
        server_url = sqlalchemy_url(os.environ[ENV_TEST_URL])
        yield Target(
            server_url.set(database=default_name(profile)),
            owned=True,
            ephemeral=False,
            server="dev",
        )
        return
    with provide_postgres("embedded") as server:
        yield Target(
            server.admin_url.set(database=default_name(profile)),
            owned=True,
            ephemeral=True,
            server="embedded",
        )


def database_exists(t: Target) -> bool:
    maintenance = t.admin_url.set(database="postgres")
    with psycopg.connect(libpq_conninfo(maintenance), autocommit=True) as conn:
        return (
            conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (t.admin_url.database,)
            ).fetchone()
            is not None
        )


def recreate(t: Target) -> None:
    """Drop (if present) and create the harness's own database, then migrate it to head."""
    assert t.owned and t.admin_url.database
    server = ProvidedServer(t.admin_url.set(database="postgres"), t.server)
    drop_database(server.admin_url, t.admin_url.database)
    create_database(server.admin_url, t.admin_url.database)
    migrate.upgrade(t.admin_url)


def app_login(t: Target) -> URL:
    """(Re)create the application login with a fresh password; return its URL."""
    password = secrets.token_urlsafe(24)
    with psycopg.connect(libpq_conninfo(t.admin_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_LOGIN,)).fetchone()
        if exists:
            conn.execute(
                sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(APP_LOGIN), sql.Literal(password)
                )
            )
            return t.admin_url.set(username=APP_LOGIN, password=password)
    _password, url = create_login(t.admin_url, APP_LOGIN, password=password, group=APP_GROUP)
    return url


def server_version(t: Target) -> str:
    with psycopg.connect(libpq_conninfo(t.admin_url), autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        assert row is not None
        return str(row[0])
