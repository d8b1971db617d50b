"""Users of a firm, their login sessions and API access tokens (token hashes only)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, Index, LargeBinary, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from legal_data.crypto.types import EncryptedString, EncryptedText
from legal_data.models.base import Base, BusinessRow, TenantScoped, tenant_fk
from legal_data.models.system import in_list

USER_KINDS = ("lawyer", "foreign_lawyer", "paralegal", "staff", "accounting", "admin")


class User(BusinessRow, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(in_list("kind", USER_KINDS), name="kind"),
        CheckConstraint("email = lower(email) AND email LIKE '%_@_%'", name="email_normalized"),
        # 弁護士登録番号: digits, issued by the 日本弁護士連合会; lawyers only.
        CheckConstraint(
            "bar_registration_number IS NULL OR bar_registration_number ~ '^[0-9]{4,6}$'",
            name="bar_registration_number_format",
        ),
        Index("uq_users_tenant_id_email", "tenant_id", "email", unique=True),
        Index(
            "uq_users_tenant_id_bar_registration_number",
            "tenant_id",
            "bar_registration_number",
            unique=True,
            postgresql_where=text("bar_registration_number IS NOT NULL"),
        ),
    )

    email: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str] = mapped_column(Text)
    name_kana: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    bar_registration_number: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class UserSession(TenantScoped, Base):
    """A login session. Only the SHA-256 of the token is stored, never the token."""

    __tablename__ = "user_sessions"
    __table_args__ = (
        tenant_fk("user_id", "users", ondelete="CASCADE"),
        CheckConstraint("octet_length(token_hash) = 32", name="token_hash_sha256"),
        CheckConstraint("expires_at > created_at", name="expires_after_created"),
        Index("uq_user_sessions_tenant_id_token_hash", "tenant_id", "token_hash", unique=True),
        # Login resolves a session by hash before the tenant is known.
        Index("ix_user_sessions_token_hash", "token_hash"),
        Index("ix_user_sessions_tenant_id_user_id", "tenant_id", "user_id"),
    )

    user_id: Mapped[uuid.UUID]
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    # Identify a person: encrypted, bound to this session row.
    client_ip: Mapped[str | None] = mapped_column(EncryptedString(row_bound=True), deferred=True)
    user_agent: Mapped[str | None] = mapped_column(EncryptedText(row_bound=True), deferred=True)


class AccessToken(TenantScoped, Base):
    """A scoped, expiring API token. Only the SHA-256 of the token is stored."""

    __tablename__ = "access_tokens"
    __table_args__ = (
        tenant_fk("user_id", "users", ondelete="CASCADE"),
        CheckConstraint("octet_length(token_hash) = 32", name="token_hash_sha256"),
        CheckConstraint("cardinality(scopes) > 0", name="scopes_not_empty"),
        CheckConstraint("expires_at > created_at", name="expires_after_created"),
        Index("uq_access_tokens_tenant_id_token_hash", "tenant_id", "token_hash", unique=True),
        Index("ix_access_tokens_token_hash", "token_hash"),
        Index("ix_access_tokens_tenant_id_user_id", "tenant_id", "user_id"),
    )

    user_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
