"""Login before a firm is known, and the life of sessions and access tokens.

Lookups go through the four SECURITY DEFINER functions of revision 0008 and run in
the documented ``system_scope``: no tenant context exists yet, and the functions return
only what login needs. Tokens are random, shown to the caller once, and stored as
SHA-256 hashes only. Revocations and failed logins are recorded as security events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import Update, text, update
from sqlalchemy.orm import Session

from legal_data.audit.security import record_security_event
from legal_data.models import AccessToken, UserSession


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def new_token() -> tuple[str, bytes]:
    """A fresh 256-bit token and its hash."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


@dataclass(frozen=True)
class FirmLookup:
    tenant_id: uuid.UUID
    name: str
    status: str


@dataclass(frozen=True)
class UserLookup:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    password_hash: str | None
    is_active: bool


@dataclass(frozen=True)
class SessionLookup:
    session_id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: dt.datetime


@dataclass(frozen=True)
class TokenLookup:
    token_id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    scopes: list[str]
    expires_at: dt.datetime


def find_firm(session: Session, slug: str) -> FirmLookup | None:
    row = session.execute(text("SELECT * FROM auth_find_tenant(:s)"), {"s": slug}).first()
    return FirmLookup(*row) if row else None


def find_user(session: Session, slug: str, email: str) -> UserLookup | None:
    row = session.execute(
        text("SELECT * FROM auth_find_user(:s, :e)"), {"s": slug, "e": email}
    ).first()
    return UserLookup(*row) if row else None


def find_session(session: Session, token: str) -> SessionLookup | None:
    row = session.execute(
        text("SELECT * FROM auth_find_session(:h)"), {"h": hash_token(token)}
    ).first()
    return SessionLookup(*row) if row else None


def find_access_token(session: Session, token: str) -> TokenLookup | None:
    row = session.execute(
        text("SELECT * FROM auth_find_access_token(:h)"), {"h": hash_token(token)}
    ).first()
    return TokenLookup(*row) if row else None


def open_session(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    ttl: dt.timedelta = dt.timedelta(hours=8),
    client_ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, UserSession]:
    """Create a login session in the current (tenant) transaction; returns the token once."""
    token, digest = new_token()
    now = dt.datetime.now(dt.UTC)
    row = UserSession(
        tenant_id=tenant_id,
        user_id=user_id,
        token_hash=digest,
        created_at=now,
        expires_at=now + ttl,
        client_ip=client_ip,
        user_agent=user_agent,
    )
    session.add(row)
    session.flush()
    return token, row


def issue_access_token(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    name: str,
    scopes: list[str],
    ttl: dt.timedelta = dt.timedelta(days=90),
) -> tuple[str, AccessToken]:
    token, digest = new_token()
    now = dt.datetime.now(dt.UTC)
    row = AccessToken(
        tenant_id=tenant_id,
        user_id=user_id,
        name=name,
        token_hash=digest,
        scopes=scopes,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    return token, row


def revoke_session(session: Session, session_id: uuid.UUID, *, reason: str) -> bool:
    """Revoke one login session of the current firm; records a security event."""
    return _revoke(
        session,
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=dt.datetime.now(dt.UTC), revoked_reason=reason),
        "session_revoked",
        {"session_id": str(session_id), "reason": reason},
    )


def revoke_access_token(session: Session, token_id: uuid.UUID, *, reason: str) -> bool:
    """Revoke one access token of the current firm; records a security event."""
    return _revoke(
        session,
        update(AccessToken)
        .where(AccessToken.id == token_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=dt.datetime.now(dt.UTC)),
        "access_token_revoked",
        {"token_id": str(token_id), "reason": reason},
    )


def _revoke(session: Session, stmt: Update, kind: str, details: dict[str, str]) -> bool:
    """Run the revoking UPDATE; only an actual revocation is a security event."""
    changed = session.execute(stmt).rowcount
    if changed:
        record_security_event(session.get_bind(), kind, "notice", details)  # type: ignore[arg-type]
    return bool(changed)


def record_failed_login(
    session: Session, *, slug: str, email: str, why: str, tenant_id: uuid.UUID | None = None
) -> None:
    """A failed login attempt (wrong password, unknown user, inactive firm...)."""
    record_security_event(
        session.get_bind(),  # type: ignore[arg-type]
        "login_failed",
        "warning",
        {"slug": slug, "email": email, "why": why},
        tenant_id=tenant_id,
    )
