"""The four SECURITY DEFINER login functions (revision 0008), called as the app role.

Login has to look across firms before a firm is known. The functions do exactly that and
return only what login needs; expired or revoked sessions and tokens return nothing, a
suspended firm's users are not found, and the same e-mail address in two firms resolves
per firm. Meanwhile a direct SELECT on the tables without a tenant context returns 0 rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from legal_data.errors import PermissionDenied
from legal_data.models import AccessToken, Tenant, User, UserSession
from legal_data.tenancy import system_scope
from legal_data.testing.plugin import make_tenant

NOW = dt.datetime.now(dt.UTC)


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass
class Logins:
    a: Tenant
    b: Tenant
    suspended: Tenant
    user_a: uuid.UUID
    user_b: uuid.UUID
    inactive_a: uuid.UUID
    user_suspended: uuid.UUID
    tokens: dict[str, str]  # label -> raw token
    ids: dict[str, uuid.UUID]  # label -> session / access-token id


@pytest.fixture
def logins(legal_db, tenant_a, tenant_b) -> Logins:
    suspended = make_tenant(legal_db, "firm-suspended", "休止中法律事務所", status="suspended")
    tokens = {
        label: secrets.token_urlsafe(32)
        for label in (
            "session_ok",
            "session_expired",
            "session_revoked",
            "session_b",
            "token_ok",
            "token_expired",
            "token_revoked",
            "token_b",
        )
    }
    ids: dict[str, uuid.UUID] = {}
    with system_scope(reason="test setup"), legal_db.admin_sessions() as s, s.begin():

        def user(firm: Tenant, email: str, **kw: Any) -> uuid.UUID:
            u = User(
                tenant_id=firm.id,
                email=email,
                display_name="弁護士 太郎",
                kind="lawyer",
                password_hash=f"argon2-hash-of-{firm.slug}",
                **kw,
            )
            s.add(u)
            s.flush()
            return u.id

        user_a = user(tenant_a, "same@example.jp")
        user_b = user(tenant_b, "same@example.jp")  # the same address in another firm
        inactive_a = user(tenant_a, "gone@example.jp", is_active=False)
        user_suspended = user(suspended, "same@example.jp")

        def login_session(label: str, firm: Tenant, uid: uuid.UUID, **kw: Any) -> None:
            row = UserSession(
                tenant_id=firm.id,
                user_id=uid,
                token_hash=_hash(tokens[label]),
                created_at=NOW - dt.timedelta(days=2),
                expires_at=kw.pop("expires_at", NOW + dt.timedelta(hours=8)),
                **kw,
            )
            s.add(row)
            s.flush()
            ids[label] = row.id

        login_session("session_ok", tenant_a, user_a)
        login_session("session_expired", tenant_a, user_a, expires_at=NOW - dt.timedelta(hours=1))
        login_session(
            "session_revoked",
            tenant_a,
            user_a,
            revoked_at=NOW - dt.timedelta(hours=1),
            revoked_reason="logout",
        )
        login_session("session_b", tenant_b, user_b)

        def access_token(label: str, firm: Tenant, uid: uuid.UUID, **kw: Any) -> None:
            row = AccessToken(
                tenant_id=firm.id,
                user_id=uid,
                name=label,
                token_hash=_hash(tokens[label]),
                scopes=["cases:read"],
                created_at=NOW - dt.timedelta(days=2),
                expires_at=kw.pop("expires_at", NOW + dt.timedelta(days=30)),
                **kw,
            )
            s.add(row)
            s.flush()
            ids[label] = row.id

        access_token("token_ok", tenant_a, user_a)
        access_token("token_expired", tenant_a, user_a, expires_at=NOW - dt.timedelta(seconds=1))
        access_token("token_revoked", tenant_a, user_a, revoked_at=NOW - dt.timedelta(minutes=1))
        access_token("token_b", tenant_b, user_b)
    return Logins(
        tenant_a, tenant_b, suspended, user_a, user_b, inactive_a, user_suspended, tokens, ids
    )


def _call(conn: Connection, fn: str, *args: Any) -> tuple[list[str], list[tuple]]:
    params = {f"p{i}": a for i, a in enumerate(args)}
    placeholders = ", ".join(f":p{i}" for i in range(len(args)))
    result = conn.execute(text(f"SELECT * FROM {fn}({placeholders})"), params)
    return list(result.keys()), [tuple(r) for r in result]


@pytest.fixture
def app_conn(legal_db):
    """The app role before login: a plain connection, no tenant context at all."""
    with legal_db.app_engine.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar() == legal_db.app_url.username
        assert conn.execute(
            text("SELECT current_setting('app.current_tenant_id', true)")
        ).scalar() in (
            None,
            "",
        )
        yield conn


def test_without_context_the_tables_show_nothing(logins, app_conn, legal_db):
    for model in (Tenant, User, UserSession, AccessToken):
        assert app_conn.execute(select(func.count()).select_from(model)).scalar() == 0
    with legal_db.admin_engine.connect() as admin:  # ...while the rows are there
        assert admin.execute(select(func.count()).select_from(User)).scalar() == 4


def test_find_tenant_returns_only_what_login_needs(logins, app_conn):
    columns, rows = _call(app_conn, "auth_find_tenant", "firm-a")
    assert columns == ["tenant_id", "name", "status"]
    assert rows == [(logins.a.id, logins.a.name, "active")]
    assert _call(app_conn, "auth_find_tenant", "firm-suspended")[1] == [
        (logins.suspended.id, logins.suspended.name, "suspended")
    ]
    for unknown in ("no-such-firm", "FIRM-A", "firm-a ", "%", "firm-_", "' OR '1'='1"):
        assert _call(app_conn, "auth_find_tenant", unknown)[1] == [], unknown


def test_find_user_resolves_per_firm(logins, app_conn):
    columns, rows = _call(app_conn, "auth_find_user", "firm-a", "same@example.jp")
    assert columns == ["tenant_id", "user_id", "password_hash", "is_active"]
    assert rows == [(logins.a.id, logins.user_a, "argon2-hash-of-firm-a", True)]
    assert _call(app_conn, "auth_find_user", "firm-b", "SAME@Example.JP")[1] == [
        (logins.b.id, logins.user_b, "argon2-hash-of-firm-b", True)
    ]
    # Inactive users are returned with is_active = false (login decides); suspended firms not.
    assert _call(app_conn, "auth_find_user", "firm-a", "gone@example.jp")[1] == [
        (logins.a.id, logins.inactive_a, "argon2-hash-of-firm-a", False)
    ]
    assert _call(app_conn, "auth_find_user", "firm-suspended", "same@example.jp")[1] == []
    assert _call(app_conn, "auth_find_user", "firm-a", "nobody@example.jp")[1] == []
    assert _call(app_conn, "auth_find_user", "firm-a", "%")[1] == []
    assert _call(app_conn, "auth_find_user", "firm-b", "gone@example.jp")[1] == []


def test_find_session_ignores_expired_and_revoked(logins, app_conn):
    columns, rows = _call(app_conn, "auth_find_session", _hash(logins.tokens["session_ok"]))
    assert columns == ["session_id", "tenant_id", "user_id", "expires_at"]
    assert [r[:3] for r in rows] == [(logins.ids["session_ok"], logins.a.id, logins.user_a)]
    _, rows = _call(app_conn, "auth_find_session", _hash(logins.tokens["session_b"]))
    assert [r[:3] for r in rows] == [(logins.ids["session_b"], logins.b.id, logins.user_b)]
    for label in ("session_expired", "session_revoked", "token_ok"):
        assert _call(app_conn, "auth_find_session", _hash(logins.tokens[label]))[1] == [], label
    assert _call(app_conn, "auth_find_session", b"")[1] == []
    assert _call(app_conn, "auth_find_session", logins.tokens["session_ok"].encode())[1] == []


def test_find_access_token_ignores_expired_and_revoked(logins, app_conn):
    columns, rows = _call(app_conn, "auth_find_access_token", _hash(logins.tokens["token_ok"]))
    assert columns == ["token_id", "tenant_id", "user_id", "scopes", "expires_at"]
    assert [r[:4] for r in rows] == [
        (logins.ids["token_ok"], logins.a.id, logins.user_a, ["cases:read"])
    ]
    for label in ("token_expired", "token_revoked", "session_ok"):
        assert _call(app_conn, "auth_find_access_token", _hash(logins.tokens[label]))[1] == []


def test_functions_work_the_same_in_the_system_scope(logins, legal_db):
    """The documented login path: a tenant session in ``system_scope`` (no firm yet)."""
    with system_scope(reason="login"), legal_db.app_sessions() as s, s.begin():
        assert s.execute(select(func.count()).select_from(User)).scalar() == 0
        row = s.execute(
            text("SELECT tenant_id, user_id FROM auth_find_user(:s, :e)"),
            {"s": "firm-b", "e": "same@example.jp"},
        ).one()
        assert tuple(row) == (logins.b.id, logins.user_b)
        assert s.execute(select(func.count()).select_from(User)).scalar() == 0


def test_functions_cannot_be_used_to_read_more(logins, app_conn):
    """They return their declared columns only; the definer's table rights don't leak."""
    with pytest.raises(PermissionDenied), app_conn.begin_nested():
        app_conn.execute(text("SET ROLE legal_auth"))
    _, rows = _call(app_conn, "auth_find_user", "firm-a", "same@example.jp")
    assert all(len(r) == 4 for r in rows)  # no display_name, email, bar number...
    # After a lookup the connection still shows nothing directly.
    assert app_conn.execute(select(func.count()).select_from(User)).scalar() == 0


def test_readonly_role_cannot_execute_login_functions(logins, legal_db):
    from legal_data.db.engine import create_tenant_engine
    from legal_data.db.roles import create_login, drop_login

    name = f"ld_ro_{secrets.token_hex(4)}"
    _, url = create_login(legal_db.admin_url, name, group="legal_readonly")
    engine = create_tenant_engine(url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn, pytest.raises(PermissionDenied):
            _call(conn, "auth_find_tenant", "firm-a")
    finally:
        engine.dispose()
        drop_login(legal_db.admin_url, name)
