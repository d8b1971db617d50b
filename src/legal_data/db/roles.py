"""Login roles for applications: members of ``legal_app``, nothing more.

The recipe, as SQL an operator can run by hand::

    CREATE ROLE app_login LOGIN PASSWORD '...' NOSUPERUSER NOBYPASSRLS
        NOCREATEDB NOCREATEROLE INHERIT IN ROLE legal_app;

``INHERIT`` lets the login use ``legal_app``'s table privileges; it owns nothing and
cannot bypass Row Level Security, which the tenant engine re-checks on every connect.
"""

from __future__ import annotations

import re
import secrets

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from legal_data.db.provision import libpq_conninfo
from legal_data.errors import ConfigurationError

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
APP_GROUP = "legal_app"
READONLY_GROUP = "legal_readonly"


def create_login(
    admin_url: URL, name: str, *, password: str | None = None, group: str = APP_GROUP
) -> tuple[str, URL]:
    """Create LOGIN role ``name`` in ``group``; return its password and connection URL."""
    if not _ROLE_NAME.match(name):
        raise ConfigurationError(f"invalid role name {name!r}: lower-case letters, digits, _")
    if group not in (APP_GROUP, READONLY_GROUP):
        raise ConfigurationError(f"group must be {APP_GROUP} or {READONLY_GROUP}")
    password = password or secrets.token_urlsafe(24)
    with psycopg.connect(libpq_conninfo(admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOBYPASSRLS NOCREATEDB"
                " NOCREATEROLE INHERIT IN ROLE {}"
            ).format(sql.Identifier(name), sql.Literal(password), sql.Identifier(group))
        )
    return password, admin_url.set(username=name, password=password)


def drop_login(admin_url: URL, name: str) -> None:
    if not _ROLE_NAME.match(name):
        raise ConfigurationError(f"invalid role name {name!r}")
    with psycopg.connect(libpq_conninfo(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
