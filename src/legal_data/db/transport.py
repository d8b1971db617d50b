"""TLS to PostgreSQL: refuse weak connection URLs, and check the session on connect.

Outside development (``LEGAL_DATA_ENV=development``), :func:`require_tls` accepts only
``sslmode=verify-full``: libpq then checks the server certificate against the CA in
``sslrootcert`` *and* the host name. ``require`` encrypts but accepts any certificate
(a man in the middle included); ``verify-ca`` accepts any host the CA signed. It also
pins ``ssl_min_protocol_version`` (TLS 1.3 by default). A Unix-domain socket is
refused there: libpq ignores ``sslmode`` on sockets, so the URL would promise TLS
it does not get.

On connect, :func:`check_tls` reads the backend's own row of ``pg_stat_ssl`` and
refuses a session that is not encrypted or uses an older protocol, whatever the URL
said (a pooler or a proxy in between can change it).

Server side (documented in docs/encryption.md): ``ssl = on``,
``ssl_min_protocol_version = 'TLSv1.3'``, ``password_encryption = scram-sha-256``, and a
``pg_hba.conf`` with ``hostssl ... scram-sha-256`` lines only plus
``hostnossl all all 0.0.0.0/0 reject``.
"""

from __future__ import annotations

import os
from typing import Any, Final

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL

from legal_data.db.provision import sqlalchemy_url
from legal_data.errors import ConfigurationError

ENV_ENVIRONMENT: Final = "LEGAL_DATA_ENV"
DEVELOPMENT: Final = "development"
TLS_VERSIONS: Final = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
PG_STAT_SSL_SQL: Final = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


class InsecureTransport(ConfigurationError):
    """The database connection would not be (or is not) verified TLS of the required version."""


def _environment(environment: str | None) -> str:
    return (environment or os.environ.get(ENV_ENVIRONMENT) or "production").strip().lower()


def _rank(version: str) -> int:
    if version not in TLS_VERSIONS:
        raise InsecureTransport(f"unknown TLS version {version!r}; use one of {TLS_VERSIONS}")
    return TLS_VERSIONS.index(version)


def require_tls(
    url: str | URL, *, min_version: str = "TLSv1.3", environment: str | None = None
) -> URL:
    """``url`` with verified TLS enforced, or :class:`InsecureTransport`.

    In development the URL is returned unchanged. Elsewhere ``sslmode`` must be
    ``verify-full``; ``ssl_min_protocol_version`` is added when absent and refused
    when weaker than ``min_version``. The error never shows the password.
    """
    parsed = sqlalchemy_url(url)
    if _environment(environment) == DEVELOPMENT:
        return parsed
    query = dict(parsed.query)
    shown = parsed.render_as_string(hide_password=True)
    mode = query.get("sslmode")
    if mode != "verify-full":
        raise InsecureTransport(
            f"{shown}: sslmode={mode or '(unset: prefer)'} is refused outside development; "
            "use sslmode=verify-full with sslrootcert=<CA file> (or set "
            f"{ENV_ENVIRONMENT}=development on a developer machine)"
        )
    host = parsed.host or query.get("host") or ""
    if not host or str(host).startswith("/"):
        raise InsecureTransport(
            f"{shown}: a Unix-domain socket carries no TLS; connect to a TCP host name"
        )
    wanted = _rank(min_version)
    given = query.get("ssl_min_protocol_version")
    if isinstance(given, tuple):
        given = given[-1]
    if given is None:
        query["ssl_min_protocol_version"] = min_version
    elif _rank(given) < wanted:
        raise InsecureTransport(
            f"{shown}: ssl_min_protocol_version={given} is weaker than {min_version}"
        )
    return parsed.set(query=query)


def check_tls(dbapi_connection: Any, *, min_version: str = "TLSv1.3") -> tuple[bool, str | None]:
    """Raise :class:`InsecureTransport` unless this session is TLS ``min_version`` or newer.

    Reads the backend's own ``pg_stat_ssl`` row; returns ``(ssl, version)``.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(PG_STAT_SSL_SQL)
        row = cursor.fetchone()
    finally:
        cursor.close()
    dbapi_connection.rollback()
    ssl, version = (row[0], row[1]) if row else (False, None)
    if not ssl:
        raise InsecureTransport("the database session is not encrypted (pg_stat_ssl.ssl = false)")
    if version is None or _rank(version) < _rank(min_version):
        raise InsecureTransport(f"the database session uses {version}, older than {min_version}")
    return bool(ssl), version


def install_tls_check(engine: Engine, *, min_version: str = "TLSv1.3") -> Engine:
    """Check every new connection of ``engine`` with :func:`check_tls`."""
    _rank(min_version)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        check_tls(dbapi_connection, min_version=min_version)

    event.listen(engine, "connect", on_connect)
    return engine


def create_secure_tenant_engine(
    url: str | URL,
    *,
    min_version: str = "TLSv1.3",
    environment: str | None = None,
    **kw: Any,
) -> Engine:
    """:func:`~legal_data.db.engine.create_tenant_engine` with TLS required and checked.

    In development neither the URL nor the session is checked.
    """
    from legal_data.db.engine import create_tenant_engine

    secured = require_tls(url, min_version=min_version, environment=environment)
    engine = create_tenant_engine(secured, **kw)
    if _environment(environment) != DEVELOPMENT:
        install_tls_check(engine, min_version=min_version)
    return engine
