"""The tenant context of the current unit of work, carried in a ``ContextVar``.

A ``ContextVar`` (not a thread-local) follows asyncio tasks and is copied into
``asyncio.to_thread`` and ``contextvars.copy_context().run``; the ORM reads it when a
session begins a transaction. Values are validated here, once, so nothing malformed
ever reaches the SQL that sends them to PostgreSQL.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace

from legal_data.errors import InvalidTenantContext

#: Upper bounds on free-text context fields. Larger values are refused, not truncated:
#: a silently shortened audit reason is worse than a clear error.
MAX_LENGTHS = {"role": 64, "user_agent": 1024, "request_id": 128, "reason": 2000}

SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class TenantContext:
    """Who is acting, for which firm, and why. Immutable; build a new one to change it."""

    tenant_id: uuid.UUID | None
    user_id: uuid.UUID | None = None
    role: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    reason: str | None = None
    system: bool = field(default=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tenant_id", _uuid("tenant_id", self.tenant_id))
        object.__setattr__(self, "user_id", _uuid("user_id", self.user_id))
        object.__setattr__(self, "client_ip", _ip(self.client_ip))
        for name, limit in MAX_LENGTHS.items():
            _text(name, getattr(self, name), limit)
        if self.tenant_id is None and not self.system:
            raise InvalidTenantContext("tenant_id is required outside the system scope")

    def settings(self) -> dict[str, str]:
        """The transaction-local settings this context stands for ('' for absent values)."""
        return {
            "app.current_tenant_id": str(self.tenant_id or ""),
            "app.current_user_id": str(self.user_id or ""),
            "app.current_user_role": self.role or "",
            "app.client_ip": self.client_ip or "",
            "app.user_agent": self.user_agent or "",
            "app.request_id": self.request_id or "",
            "app.reason": self.reason or "",
        }


def _uuid(name: str, value: object) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise InvalidTenantContext(f"{name} must be a UUID")


def _ip(value: object) -> str | None:
    if value is None:
        return None
    try:
        address = ipaddress.ip_address(value)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidTenantContext("client_ip must be an IPv4 or IPv6 address") from None
    if getattr(address, "scope_id", None) is not None:
        # 'fe80::1%<anything>': Python accepts any text after '%' (quotes, newlines, 1 MB);
        # PostgreSQL's inet does not accept a zone at all.
        raise InvalidTenantContext("client_ip must not carry an IPv6 zone (%...)")
    return str(address)


def _text(name: str, value: object, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidTenantContext(f"{name} must be a string")
    if "\x00" in value:
        raise InvalidTenantContext(f"{name} must not contain NUL characters")
    if len(value) > limit:
        raise InvalidTenantContext(f"{name} is longer than {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: would fail later, while sending the context
        raise InvalidTenantContext(f"{name} must be valid Unicode text") from None


_current: ContextVar[TenantContext | None] = ContextVar("legal_data_tenant_context", default=None)


def current_context() -> TenantContext | None:
    """The context in force, or ``None``."""
    return _current.get()


@contextmanager
def use_context(context: TenantContext) -> Iterator[TenantContext]:
    """Make ``context`` current inside the block (nested blocks restore the outer one)."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


@contextmanager
def tenant_scope(
    tenant_id: uuid.UUID | str,
    *,
    user_id: uuid.UUID | str | None = None,
    role: str | None = None,
    client_ip: str | None = None,
    user_agent: str | None = None,
    request_id: str | None = None,
    reason: str | None = None,
) -> Iterator[TenantContext]:
    """Act for one firm inside the block. Every tenant session begun here is scoped to it."""
    ctx = TenantContext(
        tenant_id=tenant_id,  # type: ignore[arg-type]
        user_id=user_id,  # type: ignore[arg-type]
        role=role,
        client_ip=client_ip,
        user_agent=user_agent,
        request_id=request_id,
        reason=reason,
    )
    with use_context(ctx) as c:
        yield c


@contextmanager
def system_scope(*, reason: str, request_id: str | None = None) -> Iterator[TenantContext]:
    """The documented scope for migrations and operator jobs.

    A system transaction carries no tenant: Row Level Security shows it no tenant rows
    and refuses its tenant writes. Jobs that work on firms iterate over them and open
    a :func:`tenant_scope` per firm inside this scope.
    """
    ctx = TenantContext(
        tenant_id=None, role=SYSTEM_ROLE, reason=reason, request_id=request_id, system=True
    )
    with use_context(ctx) as c:
        yield c


def with_tenant(context: TenantContext, tenant_id: uuid.UUID | str) -> TenantContext:
    """A copy of ``context`` acting for ``tenant_id`` (for system jobs iterating firms)."""
    return replace(context, tenant_id=tenant_id, system=False)
